"""The offline answerer: rank the sentences of the retrieved chunks, let the trained reader
(rag/answer/reader.py) read the best few and point at the answer, keep a hand-written span
rule only where it measurably beats the reader, cite, and refuse when the evidence is weak.

How the two share the work was decided on held-out ARCD-train questions with
``bench/tune_reader.py`` (numbers in docs/quality.md): the sentence is the one among the
``reader_sentences`` best-ranked whose reader margin (span score over "no answer here") plus
RANK_WEIGHT x its ranking score is highest (when no margin reaches ``unsure_margin``, the next
sentence is read too); the span is the reader's, except for the question
types in RULE_TYPES and where the reader itself scores the rules' span within RULE_SLACK of
its own best (the reader then agrees the rule's boundaries are about as good, and the rules
know news conventions such as a name beside its role), and where the reader names the one
whose role the sentence qualifies otherwise than the question («وزير الداخلية الروسية» for
«من هو وزير الداخلية الإيراني؟»): then the reader's best span after the question's qualifier
answers. Without the reader (``reader = false``, or no torch) the best-ranked
sentence and the span rules/ranker answer, with their own refusal model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Protocol

from rag.answer.question import Question
from rag.answer.reader import Reader, Span
from rag.answer.refusal import VARIETIES_WEIGHTS_FILE, AbstentionModel, signals
from rag.answer.sentences import Sentence, rank_sentences
from rag.answer.span_ranker import extract_span
from rag.answer.support import same_answer_sentences, shares_word
from rag.answer.span_rules import (
    counted_spans,
    otherwise_qualified,
    qualified_region,
    subject_span,
    tidy,
)
from rag.chunking import split_sentences
from rag.normalize import is_arabic
from rag.records import Answer, Citation, Hit, Retrieved

ABSTAIN_AR = "لا أجد في المصادر المتاحة ما يجيب عن هذا السؤال."
ABSTAIN_EN = "I could not find the answer to this question in the available sources."

RANK_WEIGHT = 15.0  # ranking score (0..~1.2) against reader margin (logits) when choosing the sentence
RULE_TYPES = frozenset({"when", "yesno"})  # question types whose span the rules give even with the reader
UNRANKED_SENTENCES = 6  # sentences the reader reads for a question whose words cannot rank them (English)
RULE_SLACK = 1.0  # a rule's span wins when the reader scores it within this much of its own best span
PASSAGE_MAX_LENGTH = 384  # question + passage window, in pieces, when the reader reads passages
PASSAGE_WINDOW_CHARS = 1000  # a chunk longer than this is read in sentence-aligned windows of at most this


def _shares_number(a: str, b: str) -> bool:
    """Whether two spans share a number written in digits («900 دار نشر» and «900»)."""
    return bool(set(_DIGITS.findall(a)) & set(_DIGITS.findall(b)))


_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")


def _slack(q: Question, text: str, rule: tuple[int, int], reader_text: str, sp: Span) -> bool:
    """The reader scores the rule's span within RULE_SLACK of its own best: it agrees the rule's
    boundaries are about as good."""
    return sp.other >= sp.score - RULE_SLACK


def _counted(q: Question, text: str, rule: tuple[int, int], reader_text: str, sp: Span) -> bool:
    """A «كم» question's counted noun follows a number once in the sentence and the reader's
    span lacks it («كم عدد دور النشر؟»: «900 دار نشر», not the «32» of «من 32 دولة»)."""
    return bool(q.counted) and counted_spans(q, text) == [rule] and not _shares_number(text[rule[0] : rule[1]], reader_text)


def _subject(q: Question, text: str, rule: tuple[int, int], reader_text: str, sp: Span) -> bool:
    """The rule's span is the subject of the verb a «من + فعل» question asks about."""
    subject = subject_span(q, text)
    return subject is not None and subject == rule


# where the rules' span replaces the reader's (``rules_win``), by the names bench/rules_ablation.py turns off
OVERRIDES = {"slack": _slack, "counted": _counted, "subject": _subject}


def reader_text(q: Question) -> str:
    """What the reader reads as the question: a dialect question in its MSA words (the reader
    was trained on MSA; rag/answer/varieties.py), any other as written."""
    return q.msa if q.variety == "dialect" and q.msa else q.text


def abstain_message(question: str) -> str:
    return ABSTAIN_AR if is_arabic(question) else ABSTAIN_EN


def passage_windows(text: str, max_chars: int) -> list[tuple[int, int]]:
    """(start, end) of the windows the reader reads a chunk in: the whole text when it fits
    ``max_chars``, else runs of whole sentences of at most that many characters, each next run
    starting with the last sentence of the one before (a sentence longer than that alone)."""
    if len(text) <= max_chars:
        return [(0, len(text))]
    sents = split_sentences(text) or [(0, len(text))]
    out, i = [], 0
    while i < len(sents):
        j = i
        while j + 1 < len(sents) and sents[j + 1][1] - sents[i][0] <= max_chars:
            j += 1
        out.append((sents[i][0], sents[j][1]))
        if j + 1 >= len(sents):
            break
        i = j if j > i else j + 1  # one sentence of overlap, unless the run was one sentence
    return out


class Answerer(Protocol):
    name: str

    def answer(self, question: str, retrieved: Retrieved) -> Answer: ...


@dataclass(frozen=True)
class Choice:
    """What the answer stage picked: a sentence, a span of it, and who chose the span."""

    sentence: Sentence
    span: tuple[int, int] | None  # offsets into sentence.text; None = the whole sentence
    source: str  # "reader" or "rules"
    margin: float = 0.0  # the reader's span score over its no-answer score (0 without the reader)
    reader_text: str = ""  # the reader's span and the rules' span, for evaluation reports
    rules_text: str = ""

    @property
    def text(self) -> str:
        s = self.sentence.text
        return s[self.span[0] : self.span[1]] if self.span else s


class ExtractiveAnswerer:
    """Offline answerer: the best sentence, a short span of it, and calibrated abstention."""

    name = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        threshold: float,
        citations: int = 3,
        model: AbstentionModel | None = None,
        reader: Reader | None = None,
        reader_sentences: int = 2,
        unsure_margin: float = float("-inf"),
        related_on_refusal: float = 1.0,
        varieties_threshold: float | None = None,
        reads: str = "sentences",
        reader_passages: int = 2,
        passage_rank_weight: float = 0.0,
    ):
        self.idf = idf
        self.threshold = threshold
        self.max_citations = citations
        self.reader = reader
        self.reader_sentences = reader_sentences
        self.unsure_margin = unsure_margin  # below it on every sentence read, the next one is read too
        self.related_on_refusal = related_on_refusal  # a refusal this close to answering shows what it found
        if reads not in ("sentences", "passages"):
            raise ValueError(f"reader_reads must be 'sentences' or 'passages', not {reads!r}")
        self.reads = reads  # what the reader reads: the best-ranked sentences, or the best chunks whole
        self.reader_passages = reader_passages
        self.passage_rank_weight = passage_rank_weight  # the held sentence's ranking score beside the reader margin
        self.model = model or AbstentionModel.load(reader=reader is not None)
        # English and dialect questions: with the reader, their own model and threshold
        # (rag/answer/refusal.py, bench/tune_varieties.py); without it, the MSA model and threshold
        # with their word-matching evidence unknown
        own = reader is not None
        self.varieties_model = AbstentionModel.load(VARIETIES_WEIGHTS_FILE, reader=True) if own else self.model
        self.varieties_threshold = varieties_threshold if own and varieties_threshold is not None else threshold

    def sentences(self, question: str | Question, hits: list[Hit]) -> list[Sentence]:
        """The sentences of ``hits``, best first (rag/answer/sentences.py)."""
        q = question if isinstance(question, Question) else Question.parse(question)
        return rank_sentences(q, hits, self.idf)

    def choose(self, q: Question, sents: list[Sentence]) -> Choice:
        """The sentence to answer from and the span of it (see the module docstring)."""
        if self.reader is None:
            span = extract_span(q, sents[0].text, self.idf)
            best = sents[0]
            return Choice(best, span, "rules", rules_text=best.text[span[0] : span[1]] if span else best.text)
        if self.reads == "passages":
            return self._choose_passage(q, sents)
        # an English question's words never rank an Arabic sentence: the reader reads more of them
        read = self.reader_sentences if q.variety != "english" else max(self.reader_sentences, UNRANKED_SENTENCES)
        top: list[Sentence] = []
        for s in sents:  # overlapping chunks repeat sentences: read each text once
            if all(s.text != t.text for t in top):
                top.append(s)
                if len(top) == read + 1:
                    break
        spans, rules = self._read(q, top[:read])
        if len(top) > read and max(sp.margin for sp in spans) < self.unsure_margin:
            more, more_rules = self._read(q, top[read:])  # unsure of both: one more
            spans, rules = spans + more, rules + more_rules
        top = top[: len(spans)]
        i = max(range(len(top)), key=lambda j: spans[j].margin + RANK_WEIGHT * top[j].score)
        best, sp, rule = top[i], spans[i], rules[i]
        rules_text = best.text[rule[0] : rule[1]] if rule else best.text
        reader_span = tidy(best.text, (sp.start, sp.end)) if sp.end > sp.start else None
        reader_text = best.text[reader_span[0] : reader_span[1]] if reader_span else ""
        if sp.inner and sp.inner[2] > sp.null and reader_span and otherwise_qualified(q, best.text, reader_span):
            # the reader named the one whose role has another qualifier: its best span after the question's
            inner = sp.inner[:2]
            return Choice(best, inner, "rules", sp.margin, reader_text, best.text[inner[0] : inner[1]])
        if self.rules_win(q, best.text, rule, reader_text, sp):
            return Choice(best, rule, "rules", sp.margin, reader_text, rules_text)
        return Choice(best, reader_span, "reader", sp.margin, reader_text, rules_text)

    def _choose_passage(self, q: Question, sents: list[Sentence]) -> Choice:
        """The reader reads the ``reader_passages`` best chunks whole (chunks in the order of
        their best sentence; a long chunk in sentence-aligned windows) and its best span over
        all of them answers; the quoted sentence is the one that holds the span's start."""
        chunks: list = []
        for s in sents:
            if all(s.hit.chunk.chunk_id != c.chunk_id for c in chunks):
                chunks.append(s.hit.chunk)
                if len(chunks) == self.reader_passages:
                    break
        windows = [(c, ws, we) for c in chunks for ws, we in passage_windows(c.text, PASSAGE_WINDOW_CHARS)]
        spans = self.reader.read(reader_text(q), [c.text[ws:we] for c, ws, we in windows],
                                 max_length=PASSAGE_MAX_LENGTH)
        own = {c.chunk_id: [s for s in sents if s.hit.chunk.chunk_id == c.chunk_id] for c in chunks}
        starts = [c.start + ws + sp.start for (c, ws, _), sp in zip(windows, spans)]  # article offsets

        def holding(j: int) -> Sentence:  # the sentence of window j's chunk that holds its span's start
            mine, at = own[windows[j][0].chunk_id], starts[j]
            return next((s for s in mine if s.start <= at < s.end), None) or min(mine, key=lambda s: abs(s.start - at))

        held = [holding(j) for j in range(len(spans))]
        i = max(range(len(spans)), key=lambda j: spans[j].margin + self.passage_rank_weight * held[j].score)
        (chunk, ws, _), sp, best, at = windows[i], spans[i], held[i], starts[i]
        lo = max(at, best.start) - best.start
        hi = min(chunk.start + ws + sp.end, best.end) - best.start
        reader_span = tidy(best.text, (lo, hi)) if hi > lo else None
        reader_text_ = best.text[reader_span[0] : reader_span[1]] if reader_span else ""
        rule = extract_span(q, best.text, self.idf)
        rules_text = best.text[rule[0] : rule[1]] if rule else best.text
        if self.rules_win(q, best.text, rule, reader_text_, sp):
            return Choice(best, rule, "rules", sp.margin, reader_text_, rules_text)
        return Choice(best, reader_span, "reader", sp.margin, reader_text_, rules_text)

    def _read(self, q: Question, sents: list[Sentence]) -> tuple[list[Span], list[tuple[int, int] | None]]:
        """The reader's span of each sentence, and the rules' span it also scores."""
        rules = [extract_span(q, s.text, self.idf) for s in sents]
        regions = [qualified_region(q, s.text) for s in sents] if q.qualifier else None
        return self.reader.read(reader_text(q), [s.text for s in sents], rules, regions), rules

    @staticmethod
    def rules_win(q: Question, text: str, rule: tuple[int, int] | None, reader_text: str, sp: Span) -> bool:
        """Whether the rules' span replaces the reader's: for RULE_TYPES, and where one of
        OVERRIDES says so. Each was measured against the reader alone on three held-out sources
        (bench/rules_ablation.py, docs/quality.md); the named-measure override changed one
        answer of 838 there and was removed."""
        if q.type in RULE_TYPES or not reader_text:
            return True
        if rule is None:
            return False
        return any(override(q, text, rule, reader_text, sp) for override in OVERRIDES.values())

    def signals(self, choice: Choice, retrieved: Retrieved, q: Question | None = None) -> dict[str, float]:
        """The refusal model's inputs: the retrieval evidence, the chosen sentence's coverage
        and the reader's margin (rag/answer/refusal.py). The word-matching signals (coverage,
        keyword margin) are unknown rather than low for an English question, whose words are
        never the article's, and for a dialect one when no model was fitted for dialects (no
        reader): rag/answer/refusal.py, LEXICAL. The reader's margin goes in through its
        ``margin_map`` (reader weights trained after the refusal models were fitted carry one)."""
        unknown = q is not None and (q.variety == "english" or (q.variety == "dialect" and self.reader is None))
        a, b = getattr(self.reader, "margin_map", (1.0, 0.0))  # the reader's margins on the models' scale
        return signals(retrieved, choice.sentence.coverage, a * choice.margin + b, lexical=not unknown)

    def confidence(self, choice: Choice, retrieved: Retrieved, q: Question | None = None) -> float:
        """Probability that the passages answer the question (rag/answer/refusal.py): the MSA
        model's, or for a question not in MSA the varieties model's."""
        model = self.model if q is None or q.variety == "msa" else self.varieties_model
        return model.probability(self.signals(choice, retrieved, q))

    def evidence(self, question: str, retrieved: Retrieved) -> dict[str, float] | None:
        """The refusal model's inputs for a question (bench/tune.py fits on them)."""
        q = Question.parse(question)
        sents = self.sentences(q, retrieved.hits)
        return self.signals(self.choose(q, sents), retrieved, q) if sents else None

    def answer(self, question: str, retrieved: Retrieved) -> Answer:
        hits = retrieved.hits
        q = Question.parse(question)
        sents = self.sentences(q, hits)
        if not sents:
            return Answer(question, abstain_message(question), True, [], 0.0, self.name, hits=hits)
        choice = self.choose(q, sents)
        conf = self.confidence(choice, retrieved, q)
        # chunks re-ranked by their best sentence, the chosen one first
        per_chunk: dict[str, Sentence] = {choice.sentence.hit.chunk.chunk_id: choice.sentence}
        for s in sents:
            per_chunk.setdefault(s.hit.chunk.chunk_id, s)
        ranked = [s.hit for s in per_chunk.values()]
        ranked += [h for h in hits if h.chunk.chunk_id not in per_chunk]
        if conf < (self.threshold if q.variety == "msa" else self.varieties_threshold):  # no sources; what was
            # found only when it came close
            close = conf >= self.related_on_refusal
            return Answer(question, abstain_message(question), True, [], conf, self.name, hits=ranked, choice=choice,
                          related=self.quote(per_chunk.values()) if close else [])
        sources = self.sources(q, choice, sents)
        return Answer(question, choice.text, False, self.quote(sources, self.max_citations), conf, self.name,
                      hits=ranked, choice=choice, related=self.quote(per_chunk.values(), skip=sources))

    def sources(self, q: Question, choice: Choice, sents: list[Sentence]) -> list[Sentence]:
        """The sentence the answer was taken from, then the retrieved sentences that state the
        same answer (rag/answer/support.py): copies in other papers, a second report of the fact."""
        agrees = None
        if self.reader is not None and choice.span is not None:
            answer = choice.text

            def agrees(s: Sentence) -> bool:  # the reader, reading s for the question, points at the same answer
                (sp,) = self.reader.read(reader_text(q), [s.text])
                return sp.margin > 0 and sp.end > sp.start and shares_word(s.text[sp.start : sp.end], answer)

        return [choice.sentence, *same_answer_sentences(choice.text, choice.sentence, sents, agrees)]

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
