"""Small JSON records kept beside the chunks, in a second collection of the same Chroma
(embedded or server): what bot processes must share between messages (the chat's turns, rate
limits), the followed feeds and what was seen of them, syndicated copies' records."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

from config import Settings
from rag.store import Guard, make_client


class StateStore:
    """Small JSON records kept beside the chunks, in a second collection of the same Chroma
    (embedded or server): what bot processes must share between messages, so that none
    holds state of its own. Keys are strings; values anything JSON can hold."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = settings.chroma_url or str(settings.chroma_path)
        self.name = f"{settings.collection}-state"
        self._col = None
        self._opening = threading.Lock()  # bot workers and the feed follower open it at once

    @property
    def col(self):
        if self._col is not None:
            return self._col
        with self._opening:
            if self._col is None:
                with Guard(self, "open the state collection"):
                    self._col = make_client(self.settings).get_or_create_collection(self.name, embedding_function=None)
        return self._col

    def get(self, keys: list[str]) -> dict:
        if not keys:
            return {}
        with Guard(self, "read state"):
            got = self.col.get(ids=list(keys), include=["documents"])
        return {k: json.loads(doc) for k, doc in zip(got["ids"], got["documents"])}

    def put(self, records: dict, kind: str = "") -> None:
        """Write records; with ``kind``, they can be read back together (``iter_kind``)."""
        if records:
            extra = {"metadatas": [{"kind": kind}] * len(records)} if kind else {}
            with Guard(self, "write state"):
                self.col.upsert(
                    ids=list(records),
                    documents=[json.dumps(v, ensure_ascii=False) for v in records.values()],
                    embeddings=[[0.0]] * len(records),  # records are looked up by key, never searched
                    **extra,
                )

    def iter_kind(self, kind: str, batch: int = 5000) -> Iterator[tuple[str, object]]:
        """Every record written with ``kind``, as (key, value)."""
        offset = 0
        while True:
            with Guard(self, "read state"):
                got = self.col.get(where={"kind": kind}, include=["documents"], limit=batch, offset=offset)
            for k, doc in zip(got["ids"], got["documents"]):
                yield k, json.loads(doc)
            if len(got["ids"]) < batch:
                return
            offset += batch

    def dump(self, batch: int = 5000) -> Iterator[tuple[str, object, str]]:
        """Every record as (key, value, kind), for carrying them into a new store."""
        offset = 0
        while True:
            with Guard(self, "read state"):
                got = self.col.get(include=["documents", "metadatas"], limit=batch, offset=offset)
            for k, doc, meta in zip(got["ids"], got["documents"], got["metadatas"] or [None] * len(got["ids"])):
                yield k, json.loads(doc), (meta or {}).get("kind", "")
            if len(got["ids"]) < batch:
                return
            offset += batch

    def delete(self, keys: list[str]) -> None:
        if keys:
            with Guard(self, "delete state"):
                self.col.delete(ids=list(keys))

    def delete_kind(self, kind: str) -> None:
        """Delete every record written with ``kind``."""
        with Guard(self, "delete state"):
            self.col.delete(where={"kind": kind})
