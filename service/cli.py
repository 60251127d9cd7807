"""The `huashu` command: train and evaluate the models, classify from the shell, serve the API."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from intents.data import EXAMPLES_DIR, ExampleFormatError, duplicate_texts, load_examples, merge_reviews, read_reviews
from intents.encoder import CachedEncoder, default_encoder
from intents.evaluate import cross_validate, format_report, score
from intents.labels import INTENTS
from intents.psychology import PsychologyReader
from intents.segment import Segmenter
from intents.training import (
    TASKS,
    VERSIONS_DIR,
    ModelLoadError,
    documents,
    load_intent_model,
    load_model,
    psychology_cv_predict,
    train_model,
)
from intents.training import promote as promote_version
from service.config import get_settings

app = typer.Typer(help="话术助手 huashu: reply suggestions for online-shop customer service.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _examples(path: Path, classes: tuple[str, ...] = INTENTS, kind: str = "intent"):
    try:
        examples = load_examples(path, classes, kind)
    except ExampleFormatError as exc:
        _fail(str(exc))
    for first, again in duplicate_texts(examples):
        console.print(f"[yellow]warning:[/yellow] {again.source} repeats {first.source}: {again.text!r}")
    return examples


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _reporter(progress: Progress):
    """A `(stage, done, total)` callback drawing one bar per stage."""
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)

    return report


class TaskName(str, Enum):
    intent = "intent"
    psychology = "psychology"
    all = "all"


def _intent_model_for_psychology(settings, encoder_name: str):
    """The trained intent model, for scoring psychology as the service reads it (None if missing)."""
    try:
        return load_intent_model(settings.model_dir / "intent", encoder_name)[0]
    except ModelLoadError as exc:
        console.print(f"[yellow]warning:[/yellow] psychology scored without intents ({exc})")
        return None


@app.command()
def train(
    task: Annotated[TaskName, typer.Option(help="Which model to train.")] = TaskName.all,
    data: Annotated[
        Optional[Path], typer.Option(help="Labelled examples: a .tsv file or a folder (default: the task's own; one task only).")
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option(help="Where to write the model (default: $HUASHU_MODEL_DIR/<task>; one task only).")
    ] = None,
    folds: Annotated[int, typer.Option(min=0, max=20, help="Cross-validation folds recorded in the metadata (0 or 1: skip).")] = 5,
    with_reviews: Annotated[
        Optional[Path],
        typer.Option(
            help="Add QA-reviewed rows (a GET /v1/export file, .jsonl or .csv) to the intent examples; the new model "
            "is written under <out>/versions/ beside the current one, for `huashu promote`."
        ),
    ] = None,
) -> None:
    """Train the intent and psychology models and write each with its metadata (versions, data hash, CV metrics, date)."""
    if task is TaskName.all and (data or out):
        _fail("--data and --out need a single --task (intent or psychology)")
    if with_reviews and task is not TaskName.intent:
        _fail("--with-reviews retrains the intent model: add --task intent")
    settings = get_settings()
    encoder = CachedEncoder(default_encoder(settings.model_dir), settings.cache_dir)
    segmenter = Segmenter(settings.shop_dict)
    names = ["intent", "psychology"] if task is TaskName.all else [task.value]
    for name in names:
        spec = TASKS[name]
        source = data or spec.examples
        examples = _examples(source, spec.classes, spec.name)
        target = out or settings.model_dir / name
        console.print(f"{name}: {len(examples)} examples from {source}")
        intent_model = _intent_model_for_psychology(settings, encoder.name) if name == "psychology" and folds > 1 else None
        extra, write_to = {}, target
        if with_reviews:
            examples, extra = _with_reviews(examples, with_reviews, segmenter, encoder, folds)
            write_to = target / VERSIONS_DIR / ".building"
            shutil.rmtree(write_to, ignore_errors=True)
        try:
            with _progress() as progress:
                metadata = train_model(
                    spec, examples, segmenter, encoder, write_to, cv_folds=folds, progress=_reporter(progress),
                    intent_model=intent_model, extra_metadata=extra,
                )
        except ValueError as exc:  # too few examples of a label for the folds asked
            _fail(str(exc))
        cv = metadata["cv"]
        summary = f"; {folds}-fold CV accuracy {cv['accuracy']:.4f}, macro-F1 {cv['macro_f1']:.4f}" if cv else ""
        if with_reviews:
            final = target / VERSIONS_DIR / metadata["version"]
            shutil.rmtree(final, ignore_errors=True)
            write_to.rename(final)
            before = extra["cv_before_reviews"]
            if before and cv:
                console.print(
                    f"{folds}-fold CV before the reviews: accuracy {before['accuracy']:.4f}, macro-F1 {before['macro_f1']:.4f}; "
                    f"with them: accuracy {cv['accuracy']:.4f}, macro-F1 {cv['macro_f1']:.4f}"
                )
            console.print(f"wrote {final}; the service still loads the current model until `huashu promote {metadata['version']}`")
            continue
        console.print(f"wrote {target} ({metadata['version']}){summary}")


def _with_reviews(examples, path: Path, segmenter, encoder, folds: int):
    """The examples with the reviewed rows added, and the cross-validation of the examples without them."""
    try:
        reviews = read_reviews(path)
    except ExampleFormatError as exc:
        _fail(str(exc))
    merged = merge_reviews(examples, reviews)
    console.print(f"+ {len(reviews)} reviewed rows from {path} ({len(merged) - len(examples)} new texts)")
    before = None
    if folds > 1:
        with _progress() as progress:
            report = _reporter(progress)
            before = cross_validate(
                TASKS["intent"].new_model(), documents(examples, segmenter, encoder, report), [ex.labels for ex in examples],
                INTENTS, folds=folds, progress=lambda k: report("CV without reviews", k, folds),
            ).as_dict()
    return merged, {"reviews": {"file": str(path), "rows": len(reviews)}, "cv_before_reviews": before}


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The version to load from now on (a folder name under <model dir>/versions/).")],
    task: Annotated[TaskName, typer.Option(help="Which model.")] = TaskName.intent,
    model_dir: Annotated[
        Optional[Path], typer.Option(help="The model's folder (default: $HUASHU_MODEL_DIR/<task>).")
    ] = None,
) -> None:
    """Make a trained version (e.g. from `train --with-reviews`) the one the service loads; the current one is kept under versions/."""
    if task is TaskName.all:
        _fail("promote one --task at a time")
    spec = TASKS[task.value]
    target = model_dir or get_settings().model_dir / spec.name
    try:
        previous, current = promote_version(target, version, spec)
    except ModelLoadError as exc:
        _fail(str(exc))
    console.print(
        f"{spec.name}: {current} promoted in {target} (previous {previous or 'none'} kept under {VERSIONS_DIR}/); "
        "restart the service to load it"
    )


@app.command()
def evaluate(
    task: Annotated[TaskName, typer.Option(help="Which model to evaluate (intent or psychology).")] = TaskName.intent,
    data: Annotated[
        Optional[Path], typer.Option(help="Score the trained model on this file (training format) instead of cross-validating.")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Folds for cross-validation.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """Per-class precision, recall, F1 and the confusion matrix: k-fold CV on our examples, or the model on --data.

    Psychology is scored as the service reads it: the classifier, the cue
    words and the message's intents together; `none` stands for no type.
    """
    if task is TaskName.all:
        _fail("evaluate one --task at a time (intent or psychology)")
    spec = TASKS[task.value]
    settings = get_settings()
    segmenter = Segmenter(settings.shop_dict)
    encoder = CachedEncoder(default_encoder(settings.model_dir), settings.cache_dir)
    intent_model = _intent_model_for_psychology(settings, encoder.name) if spec.name == "psychology" else None
    if data is None:
        examples = _examples(spec.examples, spec.classes, spec.name)
        with _progress() as progress:
            report = _reporter(progress)
            docs = documents(examples, segmenter, encoder, report)
            scores = cross_validate(
                spec.new_model(),
                docs,
                [ex.labels for ex in examples],
                spec.classes,
                folds=folds,
                progress=lambda k: report("cross-validation", k, folds),
                predict=psychology_cv_predict(docs, intent_model) if spec.name == "psychology" else None,
            )
        title = f"{spec.name}: {folds}-fold cross-validation on {len(examples)} examples"
    else:
        examples = _examples(data, spec.classes, spec.name)
        try:
            model, metadata = load_model(spec, settings.model_dir / spec.name, encoder.name)
        except ModelLoadError as exc:
            _fail(str(exc))
        with _progress() as progress:
            docs = documents(examples, segmenter, encoder, _reporter(progress))
        if spec.name == "psychology":
            intents = [dict(r) for r in intent_model.rank(docs)] if intent_model is not None else None
            predicted = PsychologyReader(model, PsychologyReader.load_cues()).predict(docs, intents)
        else:
            predicted = model.predict(docs)
        scores = score([ex.labels for ex in examples], predicted, spec.classes)
        title = f"{spec.name}: model {metadata['version']} on {data} ({len(examples)} examples)"
    if as_json:
        print(json.dumps({"title": title, **scores.as_dict()}, ensure_ascii=False, indent=2))
    else:
        print(format_report(scores, title))


@app.command("evaluate-replies")
def evaluate_replies(
    data: Annotated[Optional[Path], typer.Option(help="Labelled messages (training format); default: our examples.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """Top-1 / top-3 intent fit of the suggested replies: does a reply for the message's intent come first?"""
    from scripts_corpus.corpus import CorpusError, load_corpus
    from service.pipeline import Analyzer, SuggestPipeline, reply_encoder
    from service.ranking import ReplyIndex

    settings = get_settings()
    examples = _examples(data or EXAMPLES_DIR)
    try:
        analyzer = Analyzer.load(settings)
        index = ReplyIndex.build(load_corpus(settings.replies_dir), reply_encoder(settings, analyzer.encoder), settings.cache_dir)
    except (ModelLoadError, CorpusError) as exc:
        _fail(str(exc))
    # Offline: no store, no adoption history; the example embeddings come from the training cache.
    analyzer.encoder = CachedEncoder(analyzer.encoder, settings.cache_dir)
    pipeline = SuggestPipeline(settings, analyzer, index, store=None)
    top1 = top3 = handoffs = 0
    with _progress() as progress:
        report = _reporter(progress)
        for start in range(0, len(examples), 256):
            batch = examples[start : start + 256]
            for ex, reading in zip(batch, analyzer.read_batch([ex.text for ex in batch])):
                analysis = reading.analysis
                replies, handoff = pipeline.choose_replies(
                    pipeline.message_vector(reading.doc), reading.doc.text, reading.intents, 3, {},
                    psychology=analysis.psychology.id if analysis.psychology else None,
                    emotion=analysis.emotion.level,
                    severity=reading.severity,
                    psychology_confidence=analysis.psychology.confidence if analysis.psychology else 1.0,
                )
                answers = [r for r in replies if r.category != "holding"]
                fits = [set(index.corpus.replies[r.id].intents) & set(ex.labels) for r in answers]
                top1 += bool(fits and fits[0])
                top3 += any(fits[:3])
                handoffs += handoff
            report("rank replies", start + len(batch), len(examples))
    n = len(examples)
    result = {"n": n, "top1_intent_fit": round(top1 / n, 4), "top3_intent_fit": round(top3 / n, 4), "handoff_rate": round(handoffs / n, 4)}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"replies on {n} messages: top-1 intent fit {result['top1_intent_fit']:.3f}, "
              f"top-3 {result['top3_intent_fit']:.3f}, handoff {result['handoff_rate']:.3f}")


@app.command()
def classify(
    text: Annotated[list[str], typer.Argument(help="One or more messages (use - to read one per line from stdin).")],
) -> None:
    """Classify messages with the trained model and print the result as JSON lines."""
    from service.pipeline import Analyzer

    messages = [line for line in sys.stdin.read().splitlines() if line.strip()] if text == ["-"] else text
    messages = [m for m in messages if m.strip()]
    if not messages:
        _fail("no message to classify")
    try:
        analyzer = Analyzer.load(get_settings())
    except ModelLoadError as exc:
        _fail(str(exc))
    for result in analyzer.analyze(messages):
        print(json.dumps(result.model_dump(exclude_none=True), ensure_ascii=False))


@app.command()
def report(
    since: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="First day (UTC), inclusive.")] = None,
    until: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Last day (UTC), inclusive.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """QA report from the audit log ($HUASHU_DB_PATH): per-intent precision, recall, F1 and support
    from reviewed rows, the confusion matrix, the confidence histogram and reply adoption."""
    from service.reports import intent_report
    from service.routes.audit import date_range
    from service.store import Store

    settings = get_settings()
    if not settings.db_path.exists():
        _fail(f"no audit database at {settings.db_path}: serve some traffic first (or set HUASHU_DB_PATH)")
    store = Store(settings.db_path)
    try:
        result = intent_report(store, *date_range(since.date() if since else None, until.date() if until else None))
    finally:
        store.close()
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    lines = [f"intents: {result.reviewed} reviewed of {result.requests} requests"
             f" ({result.since or 'start'} – {result.until or 'now'})", ""]
    lines.append(f"{'intent':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}{'shown':>8}{'sent+edited':>13}")
    for intent, s in result.per_intent.items():
        a = result.adoption_per_intent[intent]
        lines.append(f"{intent:<12}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10d}{a.shown:>8d}{a.rate:>13.2%}")
    lines += ["", f"accuracy {result.accuracy:.4f}   macro-F1 {result.macro_f1:.4f}", "",
              "confusion matrix (rows: reviewed, columns: predicted)",
              " " * 12 + "".join(f"{label[:9]:>10}" for label in result.confusion.labels)]
    for label, row in zip(result.confusion.labels, result.confusion.matrix):
        lines.append(f"{label:<12}" + "".join(f"{v:>10d}" for v in row))
    lines += ["", "confidence  requests  reviewed  correct"]
    for b in result.confidence_histogram:
        lines.append(f"{b.low:.1f}–{b.high:.1f}   {b.count:>8d}  {b.reviewed:>8d}  {b.correct:>7d}")
    print("\n".join(lines))


@app.command()
def purge(
    before: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Delete audit rows created before this day (UTC).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
) -> None:
    """Delete audit rows older than a day, with their feedback and reviews, for retention policies ($HUASHU_DB_PATH)."""
    from service.store import Store

    settings = get_settings()
    if not settings.db_path.exists():
        _fail(f"no audit database at {settings.db_path} (set HUASHU_DB_PATH)")
    store = Store(settings.db_path)
    try:
        counts = store.purge(before.date().isoformat(), dry_run=dry_run)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {counts['requests']} audit rows, {counts['feedback']} feedback rows and {counts['reviews']} reviews "
          f"created before {before.date().isoformat()}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default $HUASHU_HOST or 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default $HUASHU_PORT or 8000).")] = None,
) -> None:
    """Serve the HTTP API with uvicorn."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    settings = get_settings()
    # Each worker process has its own encoder: share the cores among them, not oversubscribe.
    if settings.workers > 1:
        share = str(max(1, (os.cpu_count() or 1) // settings.workers))
        os.environ.setdefault("OMP_NUM_THREADS", share)
        os.environ.setdefault("HUASHU_ENCODER_THREADS", share)
    # Our own log lines (model loading, errors) go through uvicorn's handler.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["huashu"] = {"handlers": ["default"], "level": settings.log_level.upper(), "propagate": False}
    uvicorn.run(
        "service.main:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=log_config,
    )


if __name__ == "__main__":
    app()
