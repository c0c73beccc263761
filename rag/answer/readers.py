"""Which reader a process uses: the settings' engine, onnx (the default, no torch) or torch
(the engine training uses). Apart from both engines so that neither imports the other back."""

from __future__ import annotations

from pathlib import Path

from rag.answer.reader import WEIGHTS_FILE, Reader
from rag.answer.reader_onnx import OnnxReader, file_sha256, variant_for


def make_reader(base_dir: Path, engine: str = "onnx", threads: int = 0, dtype: str = "auto",
                weights: Path = WEIGHTS_FILE):
    """The reader the settings name: ``engine = "onnx"`` (``reader_onnx.OnnxReader``: no torch in
    the process; ``dtype`` "auto" is its shipped variant, "float32" its fp32 graph) or
    ``"torch"`` (``Reader``, the engine training uses). Both read alike: ``read(...) -> list[Span]``."""
    if engine == "torch":
        return Reader(base_dir, weights, threads=threads, dtype=dtype)
    if engine != "onnx":
        raise ValueError(f"reader_engine must be onnx or torch, not {engine!r}")
    cache = Path(base_dir).parent
    if Path(weights).resolve() != WEIGHTS_FILE.resolve():  # other weights' graph in a folder of its own
        cache = cache / "readers" / file_sha256(Path(weights))[:16]
    return OnnxReader(base_dir, weights, threads=threads, variant=variant_for(dtype), cache_dir=cache)
