"""An evaluation run as ``sanad eval`` makes it: the question sets read, the index to ask them
over (the configured one, or a temporary one built from a SQuAD file's paragraphs and/or a
folder, kept in ``index_dir`` when given), the run, and the temporary index removed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from config import load_settings
from rag.engine import Sanad
from rag.evaluation.run import run
from rag.evaluation.sets import as_unanswerable, read_questions, read_squad
from rag.store import StoreError


def evaluate(questions: Path | None = None, squad: Path | None = None, corpus: Path | None = None,
             unanswerable: Path | None = None, limit: int = 0, index_dir: Path | None = None,
             answerer: str | None = None, progress: bool = False) -> dict:
    """The report of asking the sets (rag/evaluation/run.py); a StoreError when the index
    holds nothing to ask against."""
    if not (questions or squad):
        raise ValueError("give a question set (FILE.jsonl) or --squad FILE")
    base = load_settings()
    overrides = {"answerer": answerer} if answerer else {}
    articles, qs = read_squad(squad) if squad else ([], [])
    if questions:
        qs += read_questions(questions)
    if limit:
        qs = qs[:limit]
    if unanswerable:
        extra = as_unanswerable(read_questions(unanswerable))
        qs += extra[:limit] if limit else extra
    tmp = None
    try:
        if squad or corpus:
            home = index_dir or Path(tempfile.mkdtemp(prefix="sanad-eval-"))
            tmp = None if index_dir else home
            sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus="", **overrides))
            if articles:
                sanad.ingest_articles(articles, progress=progress)
            if corpus:
                sanad.ingest(corpus, progress=progress)
        else:
            sanad = Sanad(load_settings(**overrides)) if overrides else Sanad()
        sanad.ensure_ready(progress=progress)
        if sanad.store.count() == 0:
            raise StoreError("the index is empty: nothing to evaluate against (give --squad FILE or --corpus DIR "
                             "with articles, or ingest some first)")
        return run(sanad, qs, progress=progress)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
