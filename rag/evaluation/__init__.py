"""Evaluation runs: read question sets (JSONL or SQuAD v1.1), ask every question through
the engine, score the answers and write report.json / report.md / report.png."""

from rag.evaluation.report import by_type, diagnose, markdown, write_report
from rag.evaluation.run import run, summarize
from rag.evaluation.sets import (
           Article,
           Question,
           as_unanswerable,
           read_jsonl,
           read_questions,
           read_squad,
)

__all__ = ["Article", "Question", "as_unanswerable", "by_type", "diagnose", "markdown", "read_jsonl",
           "read_questions", "read_squad", "run", "summarize", "write_report"]
