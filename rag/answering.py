"""Answerers turn retrieved chunks into an answer with citations.

``Answerer`` is the interface; ``ExtractiveAnswerer`` is the offline default: it ranks the
sentences of the retrieved chunks against the question (rag/sentences.py), extracts a short
span from the best one (rag/spans.py), always cites, and abstains when the evidence is weak
(rag/abstention.py)."""

from __future__ import annotations

from typing import Callable, Protocol

from rag.abstention import AbstentionModel, features
from rag.normalize import is_arabic, tokenize
from rag.records import Answer, Citation, Hit, Retrieved
from rag.sentences import Sentence, rank_sentences
from rag.spans import extract_span

ABSTAIN_AR = "لا أجد في المصادر المتاحة ما يجيب عن هذا السؤال."
ABSTAIN_EN = "I could not find the answer to this question in the available sources."


def abstain_message(question: str) -> str:
    return ABSTAIN_AR if is_arabic(question) else ABSTAIN_EN


class Answerer(Protocol):
    name: str

    def answer(self, question: str, retrieved: Retrieved) -> Answer: ...


class ExtractiveAnswerer:
    """Offline answerer: the best sentence, a short span of it, and calibrated abstention."""

    name = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        threshold: float,
        citations: int = 3,
        model: AbstentionModel | None = None,
    ):
        self.idf = idf
        self.threshold = threshold
        self.max_citations = citations
        self.model = model or AbstentionModel.load()

    def sentences(self, question: str, hits: list[Hit]) -> list[Sentence]:
        """The sentences of ``hits``, best first (rag/sentences.py)."""
        return rank_sentences(question, hits, self.idf)

    def confidence(self, best: Sentence, retrieved: Retrieved) -> float:
        """Probability that the passages answer the question (rag/abstention.py)."""
        return self.model.probability(features(retrieved, best.coverage))

    def answer(self, question: str, retrieved: Retrieved) -> Answer:
        hits = retrieved.hits
        sents = self.sentences(question, hits)
        if not sents:
            return Answer(question, abstain_message(question), True, [], 0.0, self.name, hits=hits)
        best = sents[0]
        conf = self.confidence(best, retrieved)
        # chunks re-ranked by their best sentence; citations quote that sentence
        per_chunk: dict[str, Sentence] = {}
        for s in sents:
            per_chunk.setdefault(s.hit.chunk.chunk_id, s)
        ranked = [s.hit for s in per_chunk.values()]
        ranked += [h for h in hits if h.chunk.chunk_id not in per_chunk]
        if conf < self.threshold:
            return Answer(question, abstain_message(question), True, [], conf, self.name, hits=ranked)
        citations: list[Citation] = []
        quoted: set[tuple[str, int, int]] = set()
        for s in per_chunk.values():  # overlapping chunks share sentences: quote each once
            key = (s.hit.chunk.doc_id, s.start, s.end)
            if key in quoted:
                continue
            quoted.add(key)
            c = s.hit.chunk
            citations.append(Citation(c.doc_id, c.title, c.chunk_id, s.text, s.start, s.end, round(s.score, 4)))
            if len(citations) >= self.max_citations:
                break
        qterms = [t.norm for t in tokenize(question)]
        span = extract_span(question, qterms, best.text, self.idf)
        text = best.text[span[0] : span[1]] if span else best.text
        return Answer(question, text, False, citations, conf, self.name, hits=ranked)
