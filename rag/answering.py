"""Answerers turn retrieved chunks into an answer with citations.

``Answerer`` is the interface; ``ExtractiveAnswerer`` is the offline default: it ranks the
sentences of the retrieved chunks against the question, extracts a short span for the
common question types, always cites, and abstains when the evidence is weak."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Protocol

from rag.chunking import split_sentences
from rag.normalize import is_arabic, normalize, tokenize
from rag.records import Answer, Citation, Hit

ABSTAIN_AR = "لا أجد في المصادر المتاحة ما يجيب عن هذا السؤال."
ABSTAIN_EN = "I could not find the answer to this question in the available sources."


def abstain_message(question: str) -> str:
    return ABSTAIN_AR if is_arabic(question) else ABSTAIN_EN


class Answerer(Protocol):
    name: str

    def answer(self, question: str, hits: list[Hit]) -> Answer: ...


@dataclass(frozen=True)
class Sentence:
    hit: Hit
    start: int  # article offsets
    end: int
    text: str
    coverage: float  # idf-weighted share of question terms found in the sentence
    score: float


def _soft_match(a: str, b: str) -> bool:
    """Same term, or one a short suffix-extension of the other (وقع / وقعا, اتفاقيه / اتفاقيات)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 2


def coverage(qterms: list[str], sterms: set[str], idf: Callable[[str], float]) -> float:
    total = sum(idf(t) for t in qterms)
    if total <= 0:
        return 0.0
    got = 0.0
    for t in qterms:
        if t in sterms:
            got += idf(t)
        elif any(_soft_match(t, s) for s in sterms):
            got += 0.8 * idf(t)
    return got / total


# --- question types and span extraction -------------------------------------------
_QWORDS = {
    "when": ("متي", "when"),
    "howmany": ("كم", "how many", "how much"),
    "who": ("من", "who", "whom"),
    "where": ("اين", "where"),
    "why": ("لماذا", "why"),
    "how": ("كيف", "how"),
    "yesno": ("هل",),
    "what": ("ما", "ماذا", "ماهو", "ماهي", "what", "which"),
}

_MONTHS = (
    "يناير|فبراير|مارس|ابريل|أبريل|مايو|يونيو|يوليو|اغسطس|أغسطس|سبتمبر|اكتوبر|أكتوبر|نوفمبر|ديسمبر|"
    "كانون الثاني|شباط|اذار|آذار|نيسان|ايار|أيار|حزيران|تموز|اب|آب|ايلول|أيلول|تشرين الاول|تشرين الأول|"
    "تشرين الثاني|كانون الاول|كانون الأول|January|February|March|April|May|June|July|August|September|"
    "October|November|December"
)
_NUM = r"[0-9٠-٩]+(?:[.,٫][0-9٠-٩]+)?"
_DATE = re.compile(
    rf"(?:(?:{_NUM}\s+)?(?:{_MONTHS})\s+(?:عام\s+|سنة\s+)?{_NUM}|(?:عام|سنة|العام)\s+{_NUM}(?:\s*[مه]\b)?|"
    rf"\b[0-9٠-٩]{{4}}\b|(?:يوم\s+)?(?:السبت|الأحد|الاحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة))"
)
_AMOUNT = re.compile(rf"{_NUM}(?:\s+(?:في\s+المائة|بالمائة|بالمئة|%|ألف|الف|مليون|ملايين|مليار|مليارات))*(?:\s+[^\s،,.؛]+){{0,2}}")
_NUMBER_WORDS = (
    "واحد|اثنان|اثنين|ثلاث|ثلاثة|أربع|اربع|أربعة|خمس|خمسة|ست|ستة|سبع|سبعة|ثماني|ثمانية|تسع|تسعة|عشر|عشرة|"
    "عشرين|ثلاثين|أربعين|خمسين|مائة|مئة|ألف|ألفي|مليون|مليوني|مليار"
)
_AMOUNT_WORDS = re.compile(rf"(?:{_NUMBER_WORDS})(?:\s+[^\s،,.؛]+){{0,2}}")


def question_type(question: str) -> str:
    norm = normalize(question).strip(" -؟?\t\n")
    words = re.findall(r"\w+", norm)
    head = " ".join(words[:3])
    for qtype, keys in _QWORDS.items():
        for key in keys:
            if re.search(rf"(?:^|\s|و|ف){re.escape(key)}(?:\s|$)", " " + head + " "):
                return qtype
    return "other"


def _nearest(matches: list[tuple[int, int]], anchors: list[int]) -> tuple[int, int] | None:
    if not matches:
        return None
    if not anchors:
        return matches[0]
    return min(matches, key=lambda m: min(abs((m[0] + m[1]) / 2 - a) for a in anchors))


def extract_span(question: str, qterms: list[str], text: str) -> tuple[int, int] | None:
    """A short answer span inside ``text`` (offsets into it), or None for "use the sentence"."""
    qtype = question_type(question)
    toks = tokenize(text, keep_stopwords=True)
    if not toks:
        return None
    qset = set(qterms)
    matched = [any(_soft_match(t.norm, q) for q in qset) for t in toks]
    anchors = [(t.start + t.end) / 2 for t, m in zip(toks, matched) if m]

    if qtype == "when":
        return _nearest([m.span() for m in _DATE.finditer(text)], anchors)
    if qtype == "howmany":
        spans = [m.span() for m in _AMOUNT.finditer(text)] or [m.span() for m in _AMOUNT_WORDS.finditer(text)]
        return _nearest(spans, anchors)
    if qtype in ("why", "how", "yesno"):
        return None

    # who / what / where / other: the run of unmatched content words next to the matched ones
    from rag.normalize import STOPWORDS

    runs: list[tuple[int, int]] = []  # token index ranges of unmatched, non-stopword words
    i = 0
    while i < len(toks):
        if matched[i] or normalize(text[toks[i].start : toks[i].end]) in STOPWORDS:
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and not matched[j + 1] and toks[j + 1].start - toks[j].end <= 2:
            j += 1
        runs.append((i, j))
        i = j + 1
    if not runs or not any(matched):
        return None
    matched_idx = [k for k, m in enumerate(matched) if m]

    def distance(run: tuple[int, int]) -> int:
        return min(min(abs(run[0] - k), abs(run[1] - k)) for k in matched_idx)

    best = min(runs, key=lambda r: (distance(r), -(r[1] - r[0])))
    a, b = best
    if b - a > 7:  # keep answers short: the words nearest the anchor
        if a > max(matched_idx):
            b = a + 7
        else:
            a = b - 7
    return toks[a].start, toks[b].end


class ExtractiveAnswerer:
    """Offline answerer: best sentence by idf-weighted question coverage and retrieval
    score, a short span when the question type allows, and calibrated abstention."""

    name = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        threshold: float,
        citations: int = 3,
        rank_weight: float = 0.2,
        coverage_weight: float = 0.075,
    ):
        self.idf = idf
        self.threshold = threshold
        self.max_citations = citations
        self.rank_weight = rank_weight
        self.coverage_weight = coverage_weight

    def sentences(self, question: str, hits: list[Hit]) -> list[Sentence]:
        qterms = list(dict.fromkeys(t.norm for t in tokenize(question)))
        out = []
        top = hits[0].score if hits else 0.0
        for hit in hits:
            c = hit.chunk
            rank = hit.score - top  # <= 0; favours sentences of better chunks
            for s, e in split_sentences(c.text):
                text = c.text[s:e]
                cov = coverage(qterms, {t.norm for t in tokenize(text)}, self.idf)
                out.append(Sentence(hit, c.start + s, c.start + e, text, cov, cov + self.rank_weight * rank))
        out.sort(key=lambda x: -x.score)
        return out

    def confidence(self, best: Sentence, hits: list[Hit]) -> float:
        """Evidence strength: the best dense similarity among the hits plus a little of the
        best sentence's question coverage (weights fitted on ARCD-train, see bench/tune.py)."""
        dense = max((h.dense for h in hits if h.dense is not None), default=0.0)
        return dense + self.coverage_weight * best.coverage

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        sents = self.sentences(question, hits)
        if not sents:
            return Answer(question, abstain_message(question), True, [], 0.0, self.name, hits=hits)
        best = sents[0]
        conf = self.confidence(best, hits)
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
        span = extract_span(question, qterms, best.text)
        text = best.text[span[0] : span[1]] if span else best.text
        return Answer(question, text, False, citations, conf, self.name, hits=ranked)
