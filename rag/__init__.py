"""Sanad's retrieval-augmented answering over Arabic news.

    from rag import Sanad
    answer = Sanad().ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
"""

from rag.answer.extractive import Answerer, ExtractiveAnswerer
from rag.engine import QuestionError, Sanad
from rag.loaders import LoadError
from rag.records import Answer, Article, Chunk, Citation, Hit, IngestReport
from rag.store import IndexMismatch, StoreError

__all__ = [
    "Answer",
    "Answerer",
    "Article",
    "Chunk",
    "Citation",
    "ExtractiveAnswerer",
    "Hit",
    "IndexMismatch",
    "IngestReport",
    "LoadError",
    "QuestionError",
    "Sanad",
    "StoreError",
]
