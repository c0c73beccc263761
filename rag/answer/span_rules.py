"""Hand-written answer spans: the rules for «who» questions (the name beside a role, the
subject of the asked verb), counted amounts, what was said, quoted names, measures, and
``tidy`` (never cut a number or a quote). The trained reader (rag/answer/reader.py) gives most
spans; rag/answer/extractive.py keeps these where they measurably beat it, and they answer
when the reader is off."""

from __future__ import annotations

import re
from typing import Callable

from rag.answer.question import (
    AMOUNT,
    AMOUNT_WORDS,
    DATE,
    NUMBER_WORDS,
    REPORTING_VERBS,
    Question,
)
from rag.normalize import STOPWORDS, Token, normalize, soft_match, stem, tokenize

BREAK = re.compile(r"[،,.;؛:!?؟()«»\"\[\]]")


def _nearest(matches: list[tuple[int, int]], anchors: list[int]) -> tuple[int, int] | None:
    if not matches:
        return None
    if not anchors:
        return matches[0]
    return min(matches, key=lambda m: min(abs((m[0] + m[1]) / 2 - a) for a in anchors))


def rule_span(q: Question, text: str, idf: Callable[[str], float] | None = None) -> tuple[int, int] | None:
    """The hand-written rule: for when/how-many questions the date/amount nearest the
    question's words; otherwise a run of unmatched content words next to the matched ones.
    Offsets into ``text``, or None. The learned ranker takes its pick as a feature."""
    toks, matched, stop = _marked(q, text)
    if not toks:
        return None
    return rule_span_at(q.type, text, toks, matched, stop, idf, q.verb, q.focus, q.terms)


def _marked(q: Question, text: str) -> tuple[list[Token], list[bool], list[bool]]:
    """The sentence's tokens, which match a question term, which are stop words (reporting
    verbs count as stop words here)."""
    toks = tokenize(text, keep_stopwords=True)
    matched = [any(soft_match(t.norm, term, prepositions=False) for term in q.terms) for t in toks]
    stop = [(w := normalize(text[t.start : t.end])) in STOPWORDS or w in REPORTING_VERBS for t in toks]
    return toks, matched, stop


def _verb_subject(text: str, toks: list[Token], matched: list[bool], stop: list[bool], verb: str,
                  terms: tuple[str, ...] = ()):
    """The subject of ``verb`` where the sentence has it, before it or after it; else None.
    ``terms``: the question's, to tell a name from the adjective the question makes of it."""
    at = [k for k, t in enumerate(toks) if matched[k] and soft_match(t.norm, verb, prepositions=False)]
    return (_subject_before(text, toks, matched, stop, at)
            or _subject_after(text, toks, matched, stop, at, _named_by_adjective(toks, terms)))


_NISBA = ("ي", "يه", "يون", "يين")


def _named_by_adjective(toks: list[Token], terms: tuple[str, ...]) -> list[bool]:
    """Which tokens are the name a question term is the adjective of («عثمان» for «العثمانية»,
    «سعود» for «السعودية»): they match the term, but a question about «الدولة العثمانية» may
    well be asking for «عثمان»."""
    adjectives = set(terms)
    return [any(t.norm + suffix in adjectives for suffix in _NISBA) for t in toks]


def subject_span(q: Question, text: str) -> tuple[int, int] | None:
    """The subject of the verb a «من + فعل» question asks about, when the sentence has that
    verb («من وقع الاتفاقية؟» -> «رئيسي جهازي الشرطة في كل من البلدين»); else None."""
    if not q.verb:
        return None
    span = _verb_subject(text, *_marked(q, text), q.verb, q.terms)
    return tidy(text, span) if span else None


def rule_span_at(
    qtype: str,
    text: str,
    toks: list[Token],
    matched: list[bool],
    stop: list[bool],
    idf: Callable[[str], float] | None,
    verb: str | None = None,
    focus: str | None = None,
    terms: tuple[str, ...] = (),
) -> tuple[int, int] | None:
    """``rule_span`` on a tokenized sentence: which tokens match the question, which are stop
    words; ``verb`` is the verb a «من + فعل» question asks the subject of (questions.asked_verb),
    ``terms`` the question's terms."""
    anchors = [(t.start + t.end) / 2 for t, m in zip(toks, matched) if m]

    if qtype == "when":
        return _nearest([m.span() for m in DATE.finditer(text)], anchors)
    if qtype == "howmany":
        spans = [m.span() for m in AMOUNT.finditer(text)] or [m.span() for m in AMOUNT_WORDS.finditer(text)]
        return _nearest(spans, anchors)
    if qtype in ("why", "how", "yesno") or not any(matched):
        return None
    if verb:
        subject = _verb_subject(text, toks, matched, stop, verb, terms)
        if subject is not None:
            return subject
    # who / what / where / other: a run of unmatched content words next to the matched ones
    runs = _runs(text, toks, matched, stop)
    if not runs:
        return None
    if qtype == "where":
        placed = _placed_span(text, toks, matched, runs)
        if placed is not None:
            return placed
    ranker = _RunRanker(qtype, text, toks, matched, stop, idf or (lambda _t: 1.0), focus)
    a, b = min(runs, key=ranker.key)
    b = min(b, a + RULE_SPAN_WORDS - 1)
    return toks[a].start, toks[b].end


def _runs(text: str, toks: list[Token], matched: list[bool], stop: list[bool]) -> list[tuple[int, int]]:
    """Runs of unmatched content words; they break at stop words, punctuation and matched words."""
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
            and not BREAK.search(text[toks[j].end : toks[j + 1].start])
        ):
            j += 1
        runs.append((i, j))
        i = j + 1
    return runs


def _placed_span(text: str, toks: list[Token], matched: list[bool], runs) -> tuple[int, int] | None:
    """A place follows a locative preposition: the nearest such run to the matched words."""

    def located(run: tuple[int, int]) -> bool:
        a = run[0]
        prev = normalize(text[toks[a - 1].start : toks[a - 1].end]) if a > 0 else ""
        return prev in ("في", "الي", "من", "داخل", "قرب") or _attached_b(text, toks[a])

    placed = [r for r in runs if located(r)]
    if not placed:
        return None
    anchor_idx = [k for k, m in enumerate(matched) if m]
    a, b = min(placed, key=lambda r: min(abs(r[0] - k) for k in anchor_idx))
    b = min(b, a + 2)
    return toks[a].start, toks[b].end


class _RunRanker:
    """Orders candidate runs: beside a matched cluster (the heaviest, or the one holding the
    asked-about word), then by question-type preference, gap and rarity."""

    def __init__(self, qtype, text, toks, matched, stop, weight, focus):
        self.qtype, self.text, self.toks, self.matched, self.stop = qtype, text, toks, matched, stop
        self.weight, self.focus = weight, focus
        self.members = [i for i in range(len(toks)) if matched[i]]

    def _bridge(self, i: int, j: int) -> bool:
        return j - i - 1 <= 3 and all(self.stop[m] for m in range(i + 1, j))

    def cluster(self, k: int | None) -> list[int]:
        """The matched words of the cluster around token k (stop words may bridge)."""
        members = self.members
        if k not in members:
            return []
        pos = members.index(k)
        lo = hi = pos
        while lo > 0 and self._bridge(members[lo - 1], members[lo]):
            lo -= 1
        while hi + 1 < len(members) and self._bridge(members[hi], members[hi + 1]):
            hi += 1
        return members[lo : hi + 1]

    def cluster_mass(self, k: int | None) -> float:
        return float(len(self.cluster(k)))

    def has_focus(self, k: int | None) -> bool:
        """The cluster around token k holds the asked-about word («من هو نظير الوزير؟»: «نظيره»)."""
        return self.focus is not None and any(
            soft_match(self.toks[i].norm, self.focus, prepositions=False) for i in self.cluster(k)
        )

    def neighbour(self, k: int, step: int) -> tuple[int, int | None]:
        """(gap, index) of the nearest matched token from k in direction step, over <= 1 stop word."""
        n, matched, stop = len(self.toks), self.matched, self.stop
        j = k + step
        if 0 <= j < n and matched[j]:
            return 0, j
        if 0 <= j < n and stop[j] and 0 <= j + step < n and matched[j + step]:
            return 1, j + step
        return 9, None

    def key(self, run: tuple[int, int]):
        a, b = run
        toks, qtype = self.toks, self.qtype
        gap_after, right = self.neighbour(b, 1)  # run stands before a matched cluster
        gap_before, left = self.neighbour(a, -1)  # run follows a matched cluster
        gap = min(gap_after, gap_before)
        anchor = max(self.cluster_mass(right), self.cluster_mass(left))
        # beside the asked-about word, that side decides («بدعوة من نظيره الإيراني مصطفى محمد نجار»)
        focused_sides = [(g, k) for g, k in ((gap_before, left), (gap_after, right)) if self.has_focus(k)]
        focused = bool(focused_sides)
        if focused:
            gap, k = min(focused_sides)
            anchor = self.cluster_mass(k)
        prev_word = normalize(self.text[toks[a - 1].start : toks[a - 1].end]) if a > 0 else ""
        if qtype == "who":
            pref = 0 if b - a >= 1 else 1  # a name beside a role: «فلان وزير ...», «وزير ... فلان»
        elif qtype == "where":
            pref = 0 if prev_word in ("في", "الي", "من", "ب") or _attached_b(self.text, toks[a]) else 1
        else:
            pref = 0 if left is not None else 1
        rarity = sum(self.weight(toks[k].norm) for k in range(a, b + 1)) / (b - a + 1)
        after = qtype == "who" and right is None  # of two names beside a role, the one before it
        return (gap > 1, not focused, -anchor, pref, gap, after, -rarity)


def _attached_b(text: str, tok: Token) -> bool:
    """The word as written starts with ب, as after the preposition («بمدينة», «بالرياض»); its
    stem is no guide («البحر» stems to «بحر», «بالطاقة» to «طاقه»)."""
    return text[tok.start] == "ب"


RULE_SPAN_WORDS = 6
SUBJECT_WORDS = 8
_THAT = frozenset(("ان", "بان", "وان", "لان"))  # «أن/إن» open a clause whose subject precedes its verb


_TIME_WORDS = frozenset(
    normalize(w) for w in "يوم اليوم أمس صباح مساء ظهر ليلة الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت".split()
)


_QUOTES = re.compile(r"[«»\"]")


def _subject_after(
    text: str, toks: list[Token], matched: list[bool], stop: list[bool], verb_at: list[int],
    names: list[bool] | None = None,
) -> tuple[int, int] | None:
    """«من فاز بالجائزة؟» over «وفازت الروائية ليلى منصور بجائزة المعرض»: the words right after
    the asked verb (its positions: ``verb_at``) in verb-subject order, past the question's
    words that may come first as the verb's object («ونفذت المشروع شركة «المسار»»), up to a
    stop word, punctuation (quotes belong to names), a question word, a time word («صباح
    الأحد») or a phrase with the article behind a preposition («للإنشاءات»). None when the
    verb is not followed by such words. ``names[i]``: token i, though it matches, is a name the
    question makes an adjective of, never skipped as the object."""
    names = names or [False] * len(toks)

    def free(i: int) -> bool:  # token i may continue the subject
        if i >= len(toks) or stop[i] or toks[i].norm in _TIME_WORDS:
            return False
        return not BREAK.search(_QUOTES.sub("", text[toks[i - 1].end : toks[i].start]))

    for k in verb_at:
        a = k + 1
        while a < len(toks) and matched[a] and not names[a] and free(a):
            a += 1
        if a == len(toks) or not free(a):
            continue
        b = a
        while b + 1 < len(toks) and b - a + 1 < RULE_SPAN_WORDS and free(b + 1):
            # a question word ends the subject, except right after a one-word role
            # («افتتحت وزيرة المياه سلمى الحربي»: «المياه» is the question's)
            if matched[b + 1] and not (b == a and free(b + 2) and not matched[b + 2]):
                break
            if normalize(text[toks[b + 1].start : toks[b + 1].end]).startswith(("بال", "لل")):
                break
            b += 1
        return toks[a].start, toks[b].end
    return None


def _subject_before(
    text: str, toks: list[Token], matched: list[bool], stop: list[bool], verb_at: list[int]
) -> tuple[int, int] | None:
    """«من وقع الاتفاقية؟» over «... أن رئيسي جهازي الشرطة في كل من البلدين وقعا اتفاقية»: the
    words between «أن» and the asked verb (its positions: ``verb_at``), at most SUBJECT_WORDS,
    no punctuation, at least one word not in the question, which the run rule would cut at
    stop words and question words. None when the sentence has no such clause."""
    for k in verb_at:
        if k == 0:
            continue
        a = k - 1
        while a > 0 and toks[a - 1].norm not in _THAT and k - a < SUBJECT_WORDS:
            if BREAK.search(text[toks[a - 1].end : toks[a].start]):
                break
            a -= 1
        if a == 0 or toks[a - 1].norm not in _THAT or BREAK.search(text[toks[a - 1].end : toks[a].start]):
            continue
        b = k - 1
        while b > a and stop[b]:
            b -= 1
        if stop[a] or all(matched[i] or stop[i] for i in range(a, b + 1)):
            continue
        return toks[a].start, toks[b].end
    return None


def qualified_region(q: Question, text: str) -> tuple[int, int] | None:
    """Where a «من هو» question that qualifies its role («من هو وزير الداخلية الإيراني؟») may
    find its answer in ``text``: the words right after the qualifier («بدعوة من نظيره الإيراني
    مصطفى محمد نجار تعتبر الأولى» -> «مصطفى محمد نجار تعتبر الأولى»), up to a stop word,
    punctuation or a question word, at most RULE_SPAN_WORDS; the reader chooses the boundaries
    inside it. None without a qualifier or such words."""
    if not q.qualifier:
        return None
    toks, matched, stop = _marked(q, text)
    for k, t in enumerate(toks[:-1]):
        if not soft_match(t.norm, q.qualifier, prepositions=False):
            continue
        a = b = k + 1
        if matched[a] or stop[a] or BREAK.search(text[t.end : toks[a].start]):
            continue
        while (b + 1 < len(toks) and b - a + 1 < RULE_SPAN_WORDS and not matched[b + 1] and not stop[b + 1]
               and not BREAK.search(text[toks[b].end : toks[b + 1].start])):
            b += 1
        return toks[a].start, toks[b].end
    return None


def otherwise_qualified(q: Question, text: str, span: tuple[int, int]) -> bool:
    """Whether ``span`` of ``text`` names the one whose role the sentence qualifies otherwise
    than the question: «من هو وزير الداخلية الإيراني؟» and «فلاديمير كولوكولتسيف وزير الداخلية
    الروسية»: within 4 words of the question's role words followed by another definite nisba
    («الروسية»)."""
    if not q.qualifier:
        return False
    toks, matched, _stop = _marked(q, text)
    inside = [k for k, t in enumerate(toks) if t.start >= span[0] and t.end <= span[1]]
    if not inside:
        return False
    for k in range(1, len(toks)):
        word = normalize(text[toks[k].start : toks[k].end])
        other = (word.startswith(("ال", "وال")) and word.endswith(("ي", "يه")) and not matched[k]
                 and matched[k - 1] and not soft_match(toks[k].norm, q.qualifier, prepositions=False))
        if other and min(abs(k - i) for i in inside) <= 4:
            return True
    return False


def counted_span(q: Question, text: str) -> tuple[int, int] | None:
    """«كم دار نشر شاركت؟» over «... شاركت فيها 900 دار نشر من 32 دولة»: the number right
    before the counted noun, with the noun and the question's words that follow it in both
    («900 دار نشر»). The noun may be the singular of a plural asked about, or the reverse, with
    the same root letters («كم عدد دور النشر؟» over «900 دار نشر»).
    None when the question counts nothing or no number precedes the noun; the first when
    several do (counted_spans gives them all)."""
    found = counted_spans(q, text)
    return found[0] if found else None


def counted_spans(q: Question, text: str) -> list[tuple[int, int]]:
    """Every span ``counted_span`` could give, in order."""
    counted = [stem(w) for w in q.counted]
    if not counted:
        return []
    toks = tokenize(text, keep_stopwords=True)

    def number(i: int) -> bool:
        return any(c.isdigit() for c in toks[i].norm) or normalize(text[toks[i].start : toks[i].end]) in NUMBER_WORDS

    def noun(j: int) -> bool:  # token j is the counted noun, or its singular/plural (same root letters)
        if soft_match(toks[j].norm, counted[0], prepositions=False):
            return True
        return not number(j) and len(root) >= 2 and _root_letters(toks[j].norm) == root

    root = _root_letters(counted[0])
    found = []
    for j in range(1, len(toks)):
        if not number(j - 1) or text[toks[j - 1].end : toks[j].start].strip() or not noun(j):
            continue  # the number right before the noun, nothing but space between
        a = j - 1
        while a > 0 and number(a - 1) and j - a < 4:
            a -= 1
        b = j
        while b + 1 < len(toks) and b - j + 1 < len(counted) and soft_match(toks[b + 1].norm, counted[b - j + 1], prepositions=False):
            b += 1
        found.append((toks[a].start, toks[b].end))
    return found


def _root_letters(word: str) -> str:
    """A normalized word without its article, long vowels and final ه: what a broken plural
    shares with its singular («دور» and «دار», «مدارس» and «مدرسه»: «در», «مدرس»)."""
    word = word[2:] if word.startswith("ال") and len(word) > 4 else word
    return re.sub("[اوي]", "", word.removesuffix("ه"))


_THAT_SAID = _THAT - {"لان"}  # «قال إن/أن ...»; «لأن» gives a reason, not what was said


def said_span(text: str) -> tuple[int, int] | None:
    """What a reporting verb introduces: «قال صفروف إن الزيارة ناجحة» -> «الزيارة ناجحة» (from
    the first «إن/أن» after the verb to the end of the sentence), or None without one."""
    toks = tokenize(text, keep_stopwords=True)
    words = [normalize(text[t.start : t.end]) for t in toks]
    for i, w in enumerate(words):
        if w not in REPORTING_VERBS:
            continue
        j = next((k for k in range(i + 1, min(i + 25, len(toks))) if words[k] in _THAT_SAID), None)
        if j is not None and j + 1 < len(toks):
            return toks[j + 1].start, len(text.rstrip(" .،؛!؟?"))
    return None


_QUOTED = re.compile(r"«([^«»]{1,80})»|\"([^\"]{1,80})\"|“([^“”]{1,80})”")


def quoted_span(qterms: list[str], text: str) -> tuple[int, int] | None:
    """The quoted words («بيت على الشاطئ») nearest the question's words, without the quotes;
    not a quote of the question's own words («المعروف باسم «حكة السبع سنوات»»)."""
    qset = set(qterms)
    inner = [next(m.span(g) for g in (1, 2, 3) if m.group(g) is not None) for m in _QUOTED.finditer(text)]
    inner = [(a, b) for a, b in inner if not all(t.norm in qset for t in tokenize(text[a:b]))]
    return _nearest(inner, _anchors(qset, text))


def measured_span(wanted: re.Pattern, qterms: list[str], text: str) -> tuple[int, int] | None:
    """The percentage / duration (questions.measure) nearest the question's words in ``text``."""
    return _nearest([m.span() for m in wanted.finditer(text)], _anchors(set(qterms), text))


def _anchors(qset: set[str], text: str) -> list[float]:
    """Midpoints of the words of ``text`` that are question terms (exactly), for ``_nearest``."""
    return [(t.start + t.end) / 2 for t in tokenize(text, keep_stopwords=True) if t.norm in qset]


RULE_TYPES = ("who",)  # question types answered by the rule rather than the learned ranker


_NUMBER_TAIL = re.compile(r"(?:[.,٫][0-9٠-٩]+)+")
_NUMBER_HEAD = re.compile(r"(?:[0-9٠-٩]+[.,٫])+$")


def tidy(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """Never cut a decimal number («3.1», not «3») and close a quote the span opens
    («شركة «المسار»»)."""
    a, b = span
    if b < len(text) and text[b - 1].isdigit():
        m = _NUMBER_TAIL.match(text, b)
        b = m.end() if m else b
    if a > 0 and text[a].isdigit():
        m = _NUMBER_HEAD.search(text, 0, a)
        a = m.start() if m else a
    piece = text[a:b]
    if piece.count("«") > piece.count("»") and text[b : b + 1] == "»":
        b += 1
    if piece.count("»") > piece.count("«") and a > 0 and text[a - 1] == "«":
        a -= 1
    return a, b
