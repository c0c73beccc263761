"""The offline answerer: the trained reader reads the best candidate sentences, the trained
judge (rag/answer/judge.py) says how likely each one states the answer, the likeliest one is
answered from (the reader's span, quoted exactly), and the judge's probability decides the
band: an answer with its sources, the closest passage found (which may not answer), or a refusal.

Hand ranking (rag/answer/sentences.py) only picks the candidates. Sources are the chosen
sentence, then at most one sentence of each other article that the judge also accepts and
where the reader points at the same answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol

from rag.answer.judge import Judge, band, evidence, matcher, rank_of
from rag.answer.question import Question
from rag.answer.reader import Reader, Span, tidy
from rag.answer.sentences import Sentence, rank_sentences
from rag.answer.support import holds, shares_word
from rag.normalize import is_arabic, normalize
from rag.records import Answer, Citation, Hit, Retrieved

ABSTAIN_AR = "لا أجد في المصادر المتاحة ما يجيب عن هذا السؤال."
ABSTAIN_EN = "I could not find the answer to this question in the available sources."
CLOSEST_AR = "لم أجد جوابًا مؤكدًا. أقرب ما وجدته، وقد لا يجيب عن سؤالك:"
CLOSEST_EN = "I found no sure answer. The closest passage I found, which may not answer your question:"
UNRESOLVED_AR = "هذا سؤال يكمل سؤالًا سابقًا لا أعرفه؛ اكتب السؤال كاملًا من فضلك."
UNRESOLVED_EN = "This question follows an earlier one I do not have; please ask the whole question."
SPANS = 3  # the reader's best spans of each candidate sentence that do not overlap, each judged

def reader_text(q: Question) -> str:
    """What the reader reads as the question: a dialect question in its MSA words (the reader
    was trained on MSA; rag/answer/varieties.py), any other as written."""
    return q.msa if q.variety == "dialect" and q.msa else q.text


def abstain_message(question: str) -> str:
    return ABSTAIN_AR if is_arabic(question) else ABSTAIN_EN


def closest_message(question: str) -> str:
    return CLOSEST_AR if is_arabic(question) else CLOSEST_EN


def unresolved_message(question: str) -> str:
    return UNRESOLVED_AR if is_arabic(question) else UNRESOLVED_EN


SHORT_ANSWER = 4  # words: a part of an answer this short says nothing the answer did not


def repeats(text: str, given: str) -> bool:
    """Whether a candidate answer says again what ``given`` said: it holds all of it, or it is
    a part of a short one («900» of «900 دار نشر»). A part of a long answer (a clause) may be
    what a follow-up asks for («في مجال …» within «اتفاقية … في مجال …»)."""
    a, b = " ".join(normalize(text).split()), " ".join(normalize(given).split())
    if not a or not b:
        return False
    return b in a or (a in b and len(b.split()) <= SHORT_ANSWER)


class Answerer(Protocol):
    name: str

    def answer(self, question: str, retrieved: Retrieved, avoid: str = "") -> Answer: ...


@dataclass(frozen=True)
class Choice:
    """One candidate sentence as judged: the reader's span of it and the judge's probability."""

    sentence: Sentence
    span: tuple[int, int] | None  # offsets into sentence.text; None = the whole sentence
    probability: float  # that the passages answer the question, answered from this candidate
    margin: float = 0.0  # the reader's span score over its no-answer score
    evidence: dict | None = None  # the candidate layer's inputs (training/judge.py fits on them)
    logit: float = 0.0  # the candidate layer's logit

    @property
    def text(self) -> str:
        s = self.sentence.text
        return s[self.span[0] : self.span[1]] if self.span else s


class ExtractiveAnswerer:
    """Offline answerer: candidate sentences read by the reader, chosen and judged by the judge."""

    name = "extractive"

    def __init__(self, idf: Callable[[str], float], reader: Reader, judge: Judge | None = None,
                 citations: int = 3, candidates: int = 8, threshold: float | None = None,
                 closest: float | None = None):
        self.idf = idf
        self.reader = reader
        self.judge = judge or Judge.load()
        self.max_citations = citations
        self.candidates = candidates
        self.threshold = self.judge.threshold if threshold is None else threshold
        self.closest = self.judge.closest if closest is None else min(closest, self.threshold)

    def sentences(self, question: str | Question, hits: list[Hit]) -> list[Sentence]:
        """The sentences of ``hits``, best first by the hand ranking (rag/answer/sentences.py)."""
        q = question if isinstance(question, Question) else Question.parse(question)
        return rank_sentences(q, hits, self.idf)

    def shortlist(self, sents: list[Sentence]) -> list[Sentence]:
        """The first cut: the ``candidates`` best-ranked distinct sentences (overlapping chunks
        repeat sentences: each text once)."""
        top: list[Sentence] = []
        for s in sents:
            if all(s.text != t.text for t in top):
                top.append(s)
                if len(top) == self.candidates:
                    break
        return top

    def judged(self, q: Question, sents: list[Sentence], retrieved: Retrieved, avoid: str = "") -> list[Choice]:
        """Every shortlisted sentence with each of the reader's SPANS best spans in it, and the
        judge's probability, likeliest first. ``avoid``: an answer already given (a follow-up's
        previous answer): spans that repeat it are not candidates."""
        hits = retrieved.hits
        top = self.shortlist(sents)
        if not top:
            return []
        read: list[list[Span]] = self.reader.read_spans(reader_text(q), [s.text for s in top], SPANS)
        match = matcher(q, top)
        out = []
        for i, (s, spans) in enumerate(zip(top, read)):
            for sp in spans if q.type != "yesno" else spans[:1]:
                if q.type == "yesno" or sp.end <= sp.start:
                    span = None  # a yes/no question is answered by the whole sentence
                else:
                    span = tidy(s.text, (sp.start, sp.end))
                text = s.text[span[0] : span[1]] if span else s.text
                if avoid and repeats(text, avoid):
                    continue
                ev = evidence(q, s, sp.margin, sp.null, rank_of(hits, s.hit), i, self.idf, match, text)
                out.append(Choice(s, span, 0.0, sp.margin, ev, self.judge.logit(ev)))
        if not out:
            return []
        out.sort(key=lambda c: -c.logit)
        lexical = q.variety != "english"
        best = out[0].logit
        # the lead over the best candidate of another sentence (another span of the same one is
        # no rival), or, for the others, their distance below the best
        rival = next((c.logit for c in out[1:] if c.sentence.text != out[0].sentence.text), None)
        return [replace(c, probability=self.judge.probability(c.logit, rival if k == 0 else best, retrieved, lexical))
                for k, c in enumerate(out)]

    def answer(self, question: str, retrieved: Retrieved, avoid: str = "") -> Answer:
        hits = retrieved.hits
        q = Question.parse(question)
        sents = self.sentences(q, hits)
        judged = self.judged(q, sents, retrieved, avoid) if sents else []
        if not judged:
            return Answer(question, abstain_message(question), True, [], 0.0, self.name, hits=hits, band="refused")
        choice = judged[0]
        conf = choice.probability
        # chunks re-ranked by their best sentence, the chosen one first
        per_chunk: dict[str, Sentence] = {choice.sentence.hit.chunk.chunk_id: choice.sentence}
        for s in sents:
            per_chunk.setdefault(s.hit.chunk.chunk_id, s)
        ranked = [s.hit for s in per_chunk.values()]
        ranked += [h for h in hits if h.chunk.chunk_id not in per_chunk]
        kind = band(conf, self.threshold, self.closest)
        if kind != "answer":  # no sources; the closest passage when it came close enough
            close = kind == "closest"
            message = closest_message(question) if close else abstain_message(question)
            return Answer(question, message, True, [], conf, self.name, hits=ranked, choice=choice,
                          related=self.quote(per_chunk.values()) if close else [], band=kind)
        sources = self.sources(choice, judged)
        return Answer(question, choice.text, False, self.quote(sources, self.max_citations), conf, self.name,
                      hits=ranked, choice=choice, related=self.quote(per_chunk.values(), skip=sources))

    def sources(self, choice: Choice, judged: list[Choice]) -> list[Sentence]:
        """The sentence the answer was taken from, then at most one sentence of each other
        article that the judge accepts too and where the reader points at the same answer (its
        span shares a word with it; a sentence merely holding the answer's words is not a
        source). A whole-sentence answer (yes/no) needs the other sentence to hold its words."""
        out, docs = [choice.sentence], {choice.sentence.hit.chunk.doc_id}
        for other in judged[1:]:
            doc = other.sentence.hit.chunk.doc_id
            if doc in docs or other.probability < self.threshold:
                continue
            same = holds(other.sentence.text, choice.text) if choice.span is None else shares_word(other.text, choice.text)
            if same:
                out.append(other.sentence)
                docs.add(doc)
        return out

    @staticmethod
    def quote(sentences, limit: int = 0, skip: list[Sentence] = ()) -> list[Citation]:
        """Citations quoting ``sentences`` (each place once; none of the chunks of ``skip``)."""
        out: list[Citation] = []
        quoted = {(s.hit.chunk.doc_id, s.start, s.end) for s in skip}
        skipped = {s.hit.chunk.chunk_id for s in skip}
        for s in sentences:  # overlapping chunks share sentences: quote each once
            key = (s.hit.chunk.doc_id, s.start, s.end)
            if key in quoted or s.hit.chunk.chunk_id in skipped:
                continue
            quoted.add(key)
            c = s.hit.chunk
            out.append(Citation(c.doc_id, c.title, c.chunk_id, s.text, s.start, s.end, round(s.score, 4),
                                c.date, c.url))
            if limit and len(out) >= limit:
                break
        return out
