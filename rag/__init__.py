"""Sanad's retrieval-augmented answering over Arabic news.

    from rag import Sanad
    answer = Sanad().ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
"""

import config  # noqa: F401  (first: it turns onnxruntime's telemetry off before anything loads it)
from rag.answer.extractive import (
    ABSTAIN_AR,
    ABSTAIN_EN,
    CLOSEST_AR,
    CLOSEST_EN,
    Answerer,
    ExtractiveAnswerer,
)
from rag.answer.question import QuestionError
from rag.chunking import split_sentences
from rag.engine import Sanad
from rag.feeds import Follower, PollReport, parse_interval
from rag.followup import Turn
from rag.followup import rewrite as rewrite_followup
from rag.loaders import SUPPORTED, LoadError
from rag.normalize import is_arabic
from rag.records import Answer, Article, Chunk, Citation, Hit, IngestReport
from rag.state import StateStore
from rag.store import IndexMismatch, StoreError
from rag.web import FetchError

__all__ = [
    "ABSTAIN_AR",
    "ABSTAIN_EN",
    "CLOSEST_AR",
    "CLOSEST_EN",
    "SUPPORTED",
    "Answer",
    "Answerer",
    "Article",
    "Chunk",
    "Citation",
    "ExtractiveAnswerer",
    "FetchError",
    "Follower",
    "Hit",
    "IndexMismatch",
    "IngestReport",
    "LoadError",
    "PollReport",
    "QuestionError",
    "Sanad",
    "StateStore",
    "StoreError",
    "Turn",
    "is_arabic",
    "parse_interval",
    "rewrite_followup",
    "split_sentences",
]
