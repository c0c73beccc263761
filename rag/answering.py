"""Answerers turn retrieved chunks into an answer with citations.

``Answerer`` is the interface; ``ExtractiveAnswerer`` is the offline default: it ranks the
sentences of the retrieved chunks against the question, extracts a short span for the
common question types, always cites, and abstains when the evidence is weak."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Protocol

from rag.chunking import split_sentences
from rag.normalize import STOPWORDS, is_arabic, normalize, soft_match, tokenize
from rag.records import Answer, Citation, Hit, Retrieved

ABSTAIN_AR = "لا أجد في المصادر المتاحة ما يجيب عن هذا السؤال."
ABSTAIN_EN = "I could not find the answer to this question in the available sources."


def abstain_message(question: str) -> str:
    return ABSTAIN_AR if is_arabic(question) else ABSTAIN_EN


class Answerer(Protocol):
    name: str

    def answer(self, question: str, retrieved: Retrieved) -> Answer: ...


@dataclass(frozen=True)
class Sentence:
    hit: Hit
    start: int  # article offsets
    end: int
    text: str
    coverage: float  # idf-weighted share of question terms found in the sentence
    score: float


def coverage(
    qterms: list[str],
    sterms: set[str],
    idf: Callable[[str], float],
    focus: str | None = None,
    context: set[str] = frozenset(),
) -> float:
    """idf-weighted share of the question's terms found in a sentence; the ``focus`` term
    (the noun a who/what question asks about) counts FOCUS_WEIGHT times; a term found only
    in the ``context`` (the article's title, which every sentence implicitly refers to)
    earns CONTEXT_CREDIT."""
    weights = {t: idf(t) * (FOCUS_WEIGHT if t == focus else 1.0) for t in qterms}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    got = 0.0
    for t, w in weights.items():
        if t in sterms:
            got += w
        elif any(soft_match(t, s) for s in sterms):
            got += 0.8 * w
        elif t in context or any(soft_match(t, s) for s in context):
            got += CONTEXT_CREDIT * w
    return got / total


CONTEXT_CREDIT = 0.5
FOCUS_WEIGHT = 3.0
_FOCUS_OPENERS = re.compile(r"^\W*(?:و|ف)?(?:من|ما|ماذا)\s+(?:هو|هي|هم|كان|كانت)?\s*", re.UNICODE)


def focus_term(question: str, qterms: list[str]) -> str | None:
    """The first content term of a «من هو X» / «ما هي X» question: what it asks about."""
    if not qterms or question_type(question) not in ("who", "what"):
        return None
    return qterms[0] if _FOCUS_OPENERS.match(normalize(question)) else None


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


# what a «أي …» / «ما …» question asks for, by the noun it names
_TYPE_NOUNS = [
    ("when", re.compile(r"\b(?:اي|في اي|منذ)\s+(?:عام|سنه|تاريخ|يوم|شهر|قرن)\b|\bمتي\b")),
    ("where", re.compile(r"\b(?:اي|في اي)\s+(?:مدينه|دوله|بلد|منطقه|قاره|مكان|محافظه|ولايه|جزيره)\b")),
    ("howmany", re.compile(r"\b(?:ما|كم)\s+(?:هو\s+|هي\s+)?(?:ال)?(?:عدد|مساحه|نسبه|طول|ارتفاع|قيمه|عمق|وزن|سعر|تعداد)\b")),
]


def question_type(question: str) -> str:
    norm = normalize(question).strip(" -؟?\t\n")
    words = re.findall(r"\w+", norm)
    head = " ".join(words[:3])
    for qtype, pattern in _TYPE_NOUNS:
        if pattern.search(" ".join(words[:5])):
            return qtype
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


def extract_span(
    question: str, qterms: list[str], text: str, idf: Callable[[str], float] | None = None
) -> tuple[int, int] | None:
    """A short answer span inside ``text`` (offsets into it), or None for "use the sentence"."""
    qtype = question_type(question)
    toks = tokenize(text, keep_stopwords=True)
    if not toks:
        return None
    qset = set(qterms)
    matched = [any(soft_match(t.norm, q) for q in qset) for t in toks]
    anchors = [(t.start + t.end) / 2 for t, m in zip(toks, matched) if m]

    if qtype == "when":
        return _nearest([m.span() for m in _DATE.finditer(text)], anchors)
    if qtype == "howmany":
        spans = [m.span() for m in _AMOUNT.finditer(text)] or [m.span() for m in _AMOUNT_WORDS.finditer(text)]
        return _nearest(spans, anchors)
    if qtype in ("why", "how", "yesno") or not any(matched):
        return None

    # who / what / where / other: a run of unmatched content words next to the matched ones.
    # Runs break at stop words, punctuation and matched words.
    stop = [normalize(text[t.start : t.end]) in STOPWORDS for t in toks]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        if matched[i] or stop[i]:
            i += 1
            continue
        j = i
        while (
            j + 1 < len(toks)
            and not matched[j + 1]
            and not stop[j + 1]
            and not _BREAK.search(text[toks[j].end : toks[j + 1].start])
        ):
            j += 1
        runs.append((i, j))
        i = j + 1
    if not runs:
        return None
    weight = idf or (lambda _t: 1.0)
    # clusters of matched words (allowing one stop word inside); the heaviest is the anchor

    def cluster_mass(k: int) -> float:
        """How many matched words the cluster around token k holds (stop words may bridge)."""
        members = [i for i in range(len(toks)) if matched[i]]
        if k not in members:
            return 0.0
        pos = members.index(k)
        lo = hi = pos
        while lo > 0 and _bridge(members[lo - 1], members[lo]):
            lo -= 1
        while hi + 1 < len(members) and _bridge(members[hi], members[hi + 1]):
            hi += 1
        return float(hi - lo + 1)

    def _bridge(i: int, j: int) -> bool:
        return j - i - 1 <= 3 and all(stop[m] for m in range(i + 1, j))

    def neighbour(k: int, step: int) -> tuple[int, int | None]:
        """(gap, index) of the nearest matched token from k in direction step, over <= 1 stop word."""
        j = k + step
        if 0 <= j < len(toks) and matched[j]:
            return 0, j
        if 0 <= j < len(toks) and stop[j] and 0 <= j + step < len(toks) and matched[j + step]:
            return 1, j + step
        return 9, None

    def key(run: tuple[int, int]):
        a, b = run
        gap_after, right = neighbour(b, 1)  # run stands before a matched cluster
        gap_before, left = neighbour(a, -1)  # run follows a matched cluster
        gap = min(gap_after, gap_before)
        anchor = max(cluster_mass(right) if right is not None else 0.0, cluster_mass(left) if left is not None else 0.0)
        prev_word = normalize(text[toks[a - 1].start : toks[a - 1].end]) if a > 0 else ""
        if qtype == "who":
            pref = 0 if right is not None and b - a >= 1 else 1  # "Name, title" apposition
        elif qtype == "where":
            pref = 0 if prev_word in ("في", "الي", "من", "ب") or toks[a].norm[:1] == "ب" else 1
        else:
            pref = 0 if left is not None else 1
        rarity = sum(weight(toks[k].norm) for k in range(a, b + 1)) / (b - a + 1)
        return (gap > 1, -anchor, pref, gap, -rarity)

    if qtype == "where":
        # a place follows a locative preposition: the nearest such run to the matched words
        def located(run: tuple[int, int]) -> bool:
            a = run[0]
            prev = normalize(text[toks[a - 1].start : toks[a - 1].end]) if a > 0 else ""
            return prev in ("في", "الي", "من", "داخل", "قرب") or toks[a].norm[:1] == "ب"

        placed = [r for r in runs if located(r)]
        if placed:
            anchor_idx = [k for k, m in enumerate(matched) if m]
            a, b = min(placed, key=lambda r: min(abs(r[0] - k) for k in anchor_idx))
            b = min(b, a + 2)
            return toks[a].start, toks[b].end

    a, b = min(runs, key=key)
    b = min(b, a + MAX_SPAN_WORDS - 1)
    return toks[a].start, toks[b].end


MAX_SPAN_WORDS = 6
_BREAK = re.compile(r"[،,.;؛:!?؟()«»\"\[\]]")


@lru_cache(maxsize=65536)
def term_set(text: str) -> frozenset[str]:
    """Matching terms of a sentence or title (cached: the same sentences come back often)."""
    return frozenset(t.norm for t in tokenize(text))


TYPE_BONUS = 0.15
_ENDS_SENTENCE = re.compile(r"[.!?؟…][\"'»”)\]]*$")
HEADLINE_PENALTY = 0.1


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
        coverage_weight: float = 0.067,
    ):
        self.idf = idf
        self.threshold = threshold
        self.max_citations = citations
        self.rank_weight = rank_weight
        self.coverage_weight = coverage_weight

    def sentences(self, question: str, hits: list[Hit]) -> list[Sentence]:
        qterms = list(dict.fromkeys(t.norm for t in tokenize(question)))
        focus = focus_term(question, qterms)
        pattern = {"when": _DATE, "howmany": _AMOUNT}.get(question_type(question))
        out = []
        top = hits[0].score if hits else 0.0
        for hit in hits:
            c = hit.chunk
            rank = hit.score - top  # <= 0; favours sentences of better chunks
            title_terms = term_set(c.title)
            for s, e in split_sentences(c.text):
                text = c.text[s:e]
                sterms = term_set(text)
                cov = coverage(qterms, sterms, self.idf)  # evidence, for abstention
                focused = coverage(qterms, sterms, self.idf, focus, title_terms)  # for ranking
                score = focused + self.rank_weight * rank
                if pattern is not None and pattern.search(text):
                    score += TYPE_BONUS  # a when/how-many question wants a sentence with a date/number
                if not _ENDS_SENTENCE.search(text):
                    score -= HEADLINE_PENALTY  # a headline line supports an answer but rarely holds it
                out.append(Sentence(hit, c.start + s, c.start + e, text, cov, score))
        out.sort(key=lambda x: -x.score)
        return out

    def confidence(self, best: Sentence, retrieved: Retrieved) -> float:
        """Evidence strength: how far the best dense match stands above the other candidates,
        plus a little of the best sentence's question coverage. A gap, unlike a raw cosine,
        carries over between corpora (weights fitted on ARCD-train, see bench/tune.py)."""
        return retrieved.dense_gap + self.coverage_weight * best.coverage

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
