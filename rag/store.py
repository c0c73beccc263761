"""The vector store: Chroma, embedded (PersistentClient) or a Chroma server (HttpClient).
Chroma is the source of truth for chunks; the keyword index is derived from it."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import numpy as np

from config import Settings
from rag.records import Chunk

log = logging.getLogger(__name__)

REBUILD_HINT = "rebuild it with: sanad ingest --rebuild (or choose another SANAD_HOME / SANAD_COLLECTION)"


REPAIR_HINT = " - if the index is damaged, run: sanad check, then sanad repair (it rebuilds the index from the article store)"


class StoreError(RuntimeError):
    """The store cannot be used; the message says why and what to do."""


class IndexMismatch(StoreError):
    pass


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def make_client(settings: Settings):
    import chromadb

    if settings.chroma_url:
        u = urlparse(settings.chroma_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise StoreError(f"SANAD_CHROMA_URL must look like http://host:port, got {settings.chroma_url!r}")
        headers = {}
        token = settings.chroma_token.get_secret_value()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return chromadb.HttpClient(
                host=u.hostname,
                port=u.port or (443 if u.scheme == "https" else 8000),
                ssl=u.scheme == "https",
                headers=headers,
                settings=_chroma_settings(),
            )
        except Exception as exc:
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from None
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=_chroma_settings())


def release(settings: Settings) -> None:
    """Stop the embedded Chroma system this process keeps for ``settings.chroma_path`` (every
    client of one path shares it), so that the folder can be moved and opened afresh."""
    if settings.chroma_url:
        return
    import contextlib

    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(settings.chroma_path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(settings.chroma_path), None)
    if system is not None:
        with contextlib.suppress(Exception):
            system.stop()


def chunk_meta(chunk: Chunk, article_meta: dict) -> dict:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "content_hash": chunk.content_hash,
        **article_meta,
    }


def chunk_from(cid: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        chunk_id=cid,
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        index=int(meta["index"]),
        content_hash=meta.get("content_hash", ""),
        date=str(meta.get("date", "") or ""),
        url=str(meta.get("url", "") or ""),
    )


class VectorStore:
    """One Chroma collection holding chunks (original text as document, offsets in metadata)."""

    def __init__(self, settings: Settings, model_id: str, dim: int):
        self.settings = settings
        self.where = settings.chroma_url or str(settings.chroma_path)
        self.model_id = model_id
        self.dim = dim
        self._client = None
        self._col = None
        self._opening = threading.Lock()
        # chunks read for questions, kept while the collection's generation stays the same
        self._kept: OrderedDict[str, tuple[Chunk, np.ndarray | None]] = OrderedDict()
        self._kept_gen: str | None = None
        self._kept_lock = threading.Lock()

    # --- connection ------------------------------------------------------------------
    def _guard(self, what: str):
        """Turn connection failures into a StoreError that names the server."""
        return Guard(self, what)

    @property
    def col(self):
        if self._col is None:
            with self._opening:  # threads that find it closed open it once
                self._open()
        return self._col

    def _open(self):
        if self._col is None:
            with self._guard("open the collection"):
                self._client = make_client(self.settings)
                col = self._client.get_or_create_collection(
                    self.settings.collection,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"sanad_model": self.model_id, "sanad_dim": self.dim, "sanad_generation": "0"},
                )
            meta = col.metadata or {}
            if meta.get("sanad_model") != self.model_id or int(meta.get("sanad_dim", -1)) != self.dim:
                raise IndexMismatch(
                    f"the index in {self.where} (collection {self.settings.collection!r}) was built with the model "
                    f"{meta.get('sanad_model')!r} ({meta.get('sanad_dim')} dims), but the configured model is "
                    f"{self.model_id!r} ({self.dim} dims); {REBUILD_HINT}"
                )
            self._col = col
        return self._col

    def close(self) -> None:
        """Let go of Chroma (before its folder is moved aside): the next use opens it afresh."""
        release(self.settings)
        self._client = None
        self._col = None
        self.forget_chunks()

    def drop_collection(self, name: str) -> None:
        with self._guard("drop a collection"):
            if self._client is None:
                self._client = make_client(self.settings)
            try:
                self._client.delete_collection(name)
            except Exception as exc:  # a missing collection is fine
                if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                    raise

    def reset(self) -> None:
        """Drop the collection (used by --rebuild)."""
        with self._guard("reset the collection"):
            if self._client is None:
                self._client = make_client(self.settings)
            try:
                self._client.delete_collection(self.settings.collection)
            except Exception as exc:  # a missing collection is fine
                if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                    raise
        self._col = None

    # --- reads ---------------------------------------------------------------------------
    def generation(self) -> str:
        with self._guard("read the collection"):
            col = self._client.get_collection(self.settings.collection) if self._col is not None else self.col
            return str((col.metadata or {}).get("sanad_generation", "0"))

    def count(self) -> int:
        with self._guard("count chunks"):
            return self.col.count()

    def doc_chunks(self, doc_id: str) -> dict:
        """Existing chunk ids and metadata of one article."""
        return self.docs_chunks([doc_id]).get(doc_id, {"ids": [], "metadatas": [], "embeddings": []})

    def docs_chunks(self, doc_ids: list[str]) -> dict[str, dict]:
        """Existing chunks of several articles, in one call: doc_id -> ids, metadatas, embeddings."""
        out: dict[str, dict] = {}
        if not doc_ids:
            return out
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        with self._guard("read articles"):
            got = self.col.get(where=where, include=["metadatas", "embeddings"])
        embeddings = got["embeddings"] if got.get("embeddings") is not None else [None] * len(got["ids"])
        for cid, meta, vec in zip(got["ids"], got["metadatas"], embeddings):
            d = out.setdefault(meta["doc_id"], {"ids": [], "metadatas": [], "embeddings": []})
            d["ids"].append(cid)
            d["metadatas"].append(meta)
            d["embeddings"].append(vec)
        return out

    def present(self, doc_ids: list[str]) -> set[str]:
        """Which of these articles are in the index (looked up by their first chunk's id)."""
        if not doc_ids:
            return set()
        with self._guard("read articles"):
            got = self.col.get(ids=[f"{d}:0" for d in doc_ids], include=[])
        return {cid.rsplit(":", 1)[0] for cid in got["ids"]}

    def get(self, ids: list[str], embeddings: bool = False) -> dict:
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        with self._guard("read chunks"):
            return self.col.get(ids=ids, include=include)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids of the nearest chunks with their cosine similarity (texts: ``chunks``)."""
        if k <= 0:
            return []
        with self._guard("search"):
            res = self.col.query(query_embeddings=[vector.tolist()], n_results=k, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0])]

    def chunks(self, ids: Iterable[str], generation: str, vectors: Iterable[str] = ()) -> dict[str, tuple[Chunk, np.ndarray | None]]:
        """Chunks by id, with their stored vectors for the ids in ``vectors``. What questions
        read is kept in memory (``chunk_cache`` chunks, least recently used dropped) while the
        collection's generation stays ``generation``: this process's writes drop it at once,
        another process's when the caller sees the new generation."""
        ids, need_vec = list(dict.fromkeys(ids)), set(vectors)
        out: dict[str, tuple[Chunk, np.ndarray | None]] = {}
        with self._kept_lock:
            if generation != self._kept_gen:
                self._kept.clear()
                self._kept_gen = generation
            for cid in ids:
                got = self._kept.get(cid)
                if got is not None and (got[1] is not None or cid not in need_vec):
                    self._kept.move_to_end(cid)
                    out[cid] = got
        missing = [cid for cid in ids if cid not in out]
        if missing:
            got = self.get(missing, embeddings=bool(need_vec & set(missing)))
            vecs = got.get("embeddings")
            fresh = {
                cid: (chunk_from(cid, got["documents"][i], got["metadatas"][i]),
                      np.asarray(vecs[i], dtype=np.float32) if vecs is not None else None)
                for i, cid in enumerate(got["ids"])
            }
            out.update(fresh)
            self._keep(fresh, generation)
        return {cid: out[cid] for cid in ids if cid in out}

    def _keep(self, fresh: dict, generation: str) -> None:
        limit = self.settings.chunk_cache
        with self._kept_lock:
            if generation != self._kept_gen or limit <= 0:
                return
            self._kept.update(fresh)
            while len(self._kept) > limit:
                self._kept.popitem(last=False)

    def forget_chunks(self) -> None:
        """Drop the chunks kept between questions."""
        with self._kept_lock:
            self._kept.clear()
            self._kept_gen = None

    def iter_all(self, batch: int = 2000) -> Iterator[tuple[str, str, dict]]:
        """Every chunk as (id, text, metadata), in pages."""
        offset = 0
        while True:
            with self._guard("read all chunks"):
                got = self.col.get(include=["documents", "metadatas"], limit=batch, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["documents"], got["metadatas"])
            offset += len(got["ids"])

    def iter_meta(self, batch: int = 5000) -> Iterator[tuple[str, dict]]:
        """Every chunk id with its metadata (no text), in pages."""
        offset = 0
        while True:
            with self._guard("list chunks"):
                got = self.col.get(include=["metadatas"], limit=batch, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["metadatas"])
            offset += len(got["ids"])

    # --- writes ----------------------------------------------------------------------
    def upsert(self, chunks: list[Chunk], vectors, metadatas: list[dict]) -> None:
        if not chunks:
            return
        self.forget_chunks()
        with self._guard("write chunks"):
            self.col.upsert(
                ids=[c.chunk_id for c in chunks],
                embeddings=np.asarray(vectors, dtype=np.float32),
                documents=[c.text for c in chunks],
                metadatas=metadatas,
            )

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.forget_chunks()
            with self._guard("delete chunks"):
                self.col.delete(ids=ids)

    def bump_generation(self) -> str:
        """Mark the collection as changed, so keyword indexes elsewhere rebuild."""
        gen = uuid.uuid4().hex
        self.forget_chunks()
        with self._guard("update the collection"):
            meta = dict(self.col.metadata or {})
            meta["sanad_generation"] = gen
            self.col.modify(metadata=meta)
        return gen


class Guard:
    def __init__(self, store, what: str):  # a VectorStore or a rag.state.StateStore
        self.store, self.what = store, what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, StoreError):
            return False
        name = type(exc).__name__
        text = str(exc)
        connection = any(
            s in (name + text).lower()
            for s in ("connect", "timeout", "refused", "unreachable", "remote", "httpx", "network")
        )
        if self.store.settings.chroma_url and connection:
            raise StoreError(
                f"the Chroma server at {self.store.settings.chroma_url} did not answer while trying to {self.what} "
                f"({name}); start it again (chroma run ...) - nothing already ingested is lost"
            ) from exc
        raise StoreError(f"Chroma failed to {self.what} in {self.store.where}: {name}: {text.splitlines()[0] if text else ''}"
                         f"{REPAIR_HINT}") from exc
