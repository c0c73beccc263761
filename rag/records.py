"""The records that flow through Sanad: load -> chunk -> embed -> store -> retrieve -> answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    text: str  # the original text; every offset points into it
    source: str = ""
    date: str = ""
    url: str = ""
    path: str = ""
    ingested_at: int = 0  # when it entered the archive (0: now); kept by export and import


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    text: str  # == article.text[start:end]
    start: int
    end: int
    index: int
    content_hash: str
    date: str = ""  # the article's, for citations and recency
    url: str = ""


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores."""

    chunk: Chunk
    score: float  # fused score used for ranking
    dense: float | None = None
    keyword: float | None = None

    def to_dict(self) -> dict:
        """``sanad search --json``'s row (the HTTP API's and the MCP tool's too)."""
        c = self.chunk
        return {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title, "score": round(self.score, 4),
                "dense": None if self.dense is None else round(self.dense, 4),
                "keyword": None if self.keyword is None else round(self.keyword, 4),
                "start": c.start, "end": c.end, "text": c.text}


@dataclass(frozen=True)
class Retrieved:
    """What retrieval hands the answerer: ranked hits plus how the best match stands out
    from the other candidates (the judge's question layer reads it, rag/answer/judge.py)."""

    hits: list[Hit]
    dense_top: float = 0.0
    dense_gap: float = 0.0  # best dense similarity minus the mean of the other candidates
    dense_spread: float = 0.0  # standard deviation of the candidates' dense similarities
    keyword_margin: float = 0.0  # best BM25 minus the best of another article, / the question's summed idf


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    chunk_id: str
    quote: str  # exact original text: article.text[start:end]
    start: int
    end: int
    score: float
    date: str = ""  # the article's date and URL, when known (pages and feeds; front matter)
    url: str = ""
    also_in: tuple = ()  # the same story elsewhere (syndicated copies): {"doc_id", "title", "source", "date", "url"}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["also_in"] = [dict(c) for c in self.also_in]
        return out


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: the question as it was searched (a follow-up
    rewritten), the answer given ("" for a refusal) and the articles it rests on."""

    question: str
    answer: str = ""
    doc_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, item) -> "Turn":
        """A Turn from a Turn, a plain earlier question, or its dict form (``to_dict``)."""
        if isinstance(item, Turn):
            return item
        if isinstance(item, str):
            return cls(item)
        return cls(str(item.get("question", "")), str(item.get("answer", "")), tuple(item.get("doc_ids", ())))

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "doc_ids": list(self.doc_ids)}



@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)  # the sources: passages that state the answer
    confidence: float = 0.0
    answerer: str = "extractive"
    notice: str = ""  # e.g. "question truncated to 1000 characters"
    fallback: str = ""  # why an LLM answer was replaced by the extractive one
    related: list[Citation] = field(default_factory=list)  # other retrieved passages, which do not state it
    hits: list[Hit] = field(default_factory=list, repr=False, compare=False)
    choice: Any = field(default=None, repr=False, compare=False)  # rag.answer.extractive.Choice, for reports
    band: str = "answer"  # "answer", "closest" (the closest passage, in related, may not answer) or "refused"

    @property
    def turn(self) -> Turn:
        """This exchange as the next question's history (``Sanad.ask(..., history=[...])``)."""
        return Turn(self.question, "" if self.abstained else self.answer,
                    tuple(dict.fromkeys(c.doc_id for c in self.citations)))

    def to_dict(self) -> dict:
        out = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "band": self.band,
            "confidence": round(float(self.confidence), 4),  # P(the passages answer it): below the threshold, a refusal
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
        }
        if self.notice:
            out["notice"] = self.notice
        return out


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)  # near-duplicates of an indexed article: recorded, not indexed
    errors: list[str] = field(default_factory=list)  # "path: message"
    demo_removed: list[str] = field(default_factory=list)  # bundled demo articles removed by the user's first import
    chunks_written: int = 0
    passages_embedded: int = 0

    @property
    def count(self) -> int:
        """Articles dealt with so far (indexed, found unchanged or recorded as copies)."""
        return len(self.added) + len(self.replaced) + len(self.unchanged) + len(self.copies)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.copies)} copies, {len(self.errors)} errors; "
            f"{self.chunks_written} chunks written, {self.passages_embedded} passages embedded"
        )
