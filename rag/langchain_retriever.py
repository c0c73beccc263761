"""Sanad's hybrid Arabic retrieval as a LangChain retriever.

    from rag import Sanad
    from rag.langchain_retriever import SanadRetriever
    retriever = SanadRetriever(sanad=Sanad(), k=5)
    docs = retriever.invoke("من وقع الاتفاقية؟")   # Documents with citation metadata
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.records import Hit


def to_document(hit: Hit) -> Document:
    c = hit.chunk
    return Document(
        page_content=c.text,
        id=c.chunk_id,
        metadata={
            "doc_id": c.doc_id,
            "title": c.title,
            "chunk_id": c.chunk_id,
            "start": c.start,
            "end": c.end,
            "score": hit.score,
            "dense": hit.dense,
            "keyword": hit.keyword,
        },
    )


class SanadRetriever(BaseRetriever):
    """Hybrid (dense + BM25) retrieval over a Sanad index; ``metadata`` carries the citation."""

    sanad: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(h) for h in self.sanad.search(query, self.k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = await asyncio.to_thread(self.sanad.search, query, self.k)
        return [to_document(h) for h in hits]
