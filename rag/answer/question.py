"""Question analysis: what kind of answer a question asks for (a date, an amount, a person,
a place ...), from its question word or the noun it names; what it asks about (the focus
term, the counted noun); whether it asks for a share or a length of time (``measure``); and
the patterns such answers take (dates as news writes them, amounts, percentages, durations),
which the first cut of candidate sentences (rag/answer/sentences.py) looks for."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.answer.varieties import msa_form
from rag.normalize import is_arabic, normalize

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
_DAYTIME = "صباح|مساء|ظهر|ليل|فجر|عصر"  # «الساعة الخامسة صباحًا»
DATE = re.compile(
    rf"(?:(?:{_NUM}\s+)?(?:{_MONTHS})\s+(?:عام\s+|سنة\s+)?{_NUM}|(?:عام|سنة|العام)\s+{_NUM}(?:\s*[مه]\b)?|"
    rf"\b[0-9٠-٩]{{4}}\b|(?:يوم\s+)?(?:السبت|الأحد|الاحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة)|"
    rf"(?:شهر|في)\s+(?:{_MONTHS})(?:\s+(?:عام\s+|سنة\s+)?{_NUM}|\s+من\s+العام\s+(?:المقبل|القادم|الماضي|الجاري))?|"
    rf"(?:العام|الشهر|الأسبوع|الاسبوع)\s+(?:المقبل|القادم|الماضي|الجاري)|"
    rf"الساعة\s+[^\s،,.؛]+(?:\s+(?:{_DAYTIME})[\u064B-\u0652]*ا?[\u064B-\u0652]*)?|منتصف\s+الليل)"
)
AMOUNT = re.compile(rf"{_NUM}(?:\s+(?:في\s+المائة|بالمائة|بالمئة|%|ألف|الف|مليون|ملايين|مليار|مليارات))*(?:\s+[^\s،,.؛]+){{0,2}}")
_NUMBER_WORDS = (
    "واحد|اثنان|اثنين|ثلاث|ثلاثة|أربع|اربع|أربعة|خمس|خمسة|ست|ستة|سبع|سبعة|ثماني|ثمانية|تسع|تسعة|عشر|عشرة|"
    "عشرين|ثلاثين|أربعين|خمسين|مائة|مئة|ألف|ألفي|مليون|مليوني|مليار"
)
NUMBER_WORD = re.compile(rf"(?<!\w)(?:و|ب)?(?:{_NUMBER_WORDS}|ملايين|مليارات|آلاف|الاف)(?!\w)")
PERCENT = re.compile(rf"{_NUM}\s*(?:%|٪|في\s+المائة|في\s+المئة|بالمائة|بالمئة)")
_UNITS = (
    "يوم|يوما|يومًا|أيام|ايام|أسبوع|اسبوع|أسبوعا|اسبوعا|أسابيع|اسابيع|شهر|شهرا|شهرًا|أشهر|اشهر|شهور|"
    "سنة|سنه|سنوات|عام|عاما|عامًا|أعوام|اعوام|ساعة|ساعه|ساعات|دقيقة|دقيقه|دقائق|عقد|عقود|قرن|قرون"
)
_DUALS = "يومين|أسبوعين|اسبوعين|شهرين|سنتين|عامين|ساعتين|دقيقتين|عقدين|قرنين"
DURATION = re.compile(
    rf"(?:(?<!\w)|(?<=(?<!\w)و))(?:(?:{_NUM}|(?:{_NUMBER_WORDS}|بضعة|بضع|عدة))\s+(?:{_UNITS})|{_DUALS})(?!\w)"
)
# «ما نسبة X» wants a percentage, «ما مدة X» / «كم يوما» a duration: narrower than AMOUNT
_MEASURES = (
    (PERCENT, re.compile(r"\b(?:نسبه|بنسبه)\b|\bكم\s+في\s+الم")),
    (DURATION, re.compile(r"\b(?:مده|كم\s+(?:يوما|يوم|اسبوعا|اسبوع|شهرا|شهر|سنه|سنوات|عاما|عام|ساعه|ساعات|دقيقه|قرنا|عقدا))\b"
                          r"|\bhow long\b")),
)


def measure(question: str) -> re.Pattern | None:
    """The pattern a question's answer takes when it names what it measures: a percentage for
    «ما نسبة …», a duration for «ما مدة …» / «كم يوما …» / «منذ متى …»; None otherwise, and for questions
    whose question word asks for something else («متى تزيد نسبة …» asks for a time). A dialect or
    English question is read in its MSA form (rag/answer/varieties.py)."""
    return _measure(msa_form(question).text)


def _measure(question: str) -> re.Pattern | None:
    words = " ".join(re.findall(r"\w+", normalize(question).lower())[:6])
    if re.search(r"\bمنذ\s+(?:متي|كم)\b", words):  # «منذ متى لم يزر ...؟» -> «منذ 34 عاما»
        return DURATION
    if _type(question) not in ("howmany", "what", "other"):
        return None
    return next((pattern for pattern, asks in _MEASURES if asks.search(words)), None)


# what a «أي …» / «ما …» question asks for, by the noun it names
_TYPE_NOUNS = [
    ("when", re.compile(r"\b(?:اي|في اي|منذ)\s+(?:عام|سنه|تاريخ|يوم|شهر|قرن)\b|\bمتي\b")),
    ("where", re.compile(r"\b(?:اي|في اي)\s+(?:مدينه|دوله|بلد|منطقه|قاره|مكان|محافظه|ولايه|جزيره)\b")),
    ("howmany", re.compile(r"\b(?:ما|كم)\s+(?:هو\s+|هي\s+)?(?:ال)?(?:عدد|مساحه|نسبه|طول|ارتفاع|قيمه|عمق|وزن|سعر|تعداد|سرعه|تكلفه|كلفه|مده|مسافه)\b")),
]


def question_type(question: str) -> str:
    """What the question asks for (QUESTION_TYPES), from its question word or the noun it names;
    a dialect or English question by its MSA form («راح فين؟» -> where, «Who is …» -> who)."""
    return _type(msa_form(question).text)


def _type(question: str) -> str:
    """question_type of a question in MSA words."""
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


QUESTION_TYPES = (*_QWORDS, "other")

def _words(question: str) -> list[str]:
    return re.findall(r"\w+", normalize(question))


def counted_noun(question: str) -> list[str]:
    """The words a «كم + noun» question counts, normalized: «كم دار نشر شاركت؟» -> [«دار»,
    «نشر», «شاركت»] (the answer is a number followed by them: «900 دار نشر»); «كم عدد دور
    النشر؟» counts «دور النشر», not «عدد». Empty for other questions."""
    words = _words(question)
    if len(words) < 2 or words[0] not in ("كم", "وكم", "فكم"):
        return []
    return words[2:] if words[1] == "عدد" else words[1:]


_FOCUS_OPENERS = re.compile(r"^\W*(?:و|ف)?(?:من|ما|ماذا)\s+(?:هو|هي|هم|كان|كانت)?\s*", re.UNICODE)
_MEASURE_VERBS = frozenset(normalize(w) for w in "تبلغ يبلغ بلغ بلغت يصل تصل وصل وصلت عدد".split())


def focus_term(question: str, qterms: list[str]) -> str | None:
    """What the question asks about: the first content term of a «من هو X» / «ما هي X»
    question, or the noun a «كم» question counts or measures («كم تبلغ تكلفة X» -> تكلفة)."""
    if not qterms:
        return None
    qtype = _type(question)
    if qtype == "howmany" and normalize(question).lstrip(" و").startswith(("كم", "فكم")):
        rest = [t for t in qterms if t not in _MEASURE_VERBS]
        return rest[0] if rest else None
    if qtype not in ("who", "what", "howmany"):  # «ما هي مدة X» is an amount question
        return None
    return qterms[0] if _FOCUS_OPENERS.match(normalize(question)) else None


@dataclass(frozen=True)
class Question:
    """A question analysed once, passed to every stage of answering (none re-parses the text).
    A dialect or English question is analysed in its MSA form (rag/answer/varieties.py): its
    interrogative and function words come from the lexicon of the varieties, so «مين اللي وقّع
    الاتفاقية؟» gets the type, focus, verb and terms of «من وقع الاتفاقية؟»."""

    text: str  # as asked (cleaned: rag.engine.clean_question)
    type: str  # QUESTION_TYPES
    terms: tuple[str, ...]  # normalized content terms, in order, each once
    focus: str | None  # the term it asks about (focus_term)
    measure: re.Pattern | None  # the pattern its answer takes when it names a measure
    counted: tuple[str, ...]  # the words a «كم + noun» question counts
    variety: str = "msa"  # "msa", "dialect" or "english": how the question is written
    msa: str = ""  # the question in MSA words, as analysed (== text for an MSA question)

    @staticmethod
    def parse(text: str) -> "Question":
        from rag.lexicon import tokenize

        form = msa_form(text)
        a = form.text
        terms = tuple(dict.fromkeys(t.norm for t in tokenize(text, dialect=True if form.variety == "dialect" else None)))
        english = form.variety == "english"
        qtype = _type(a)
        # the focus is the first term of the MSA form, which may put a clause last («حسب النص، شو X»)
        in_msa_order = [t for t in dict.fromkeys(t.norm for t in tokenize(a)) if t in terms] \
            if form.variety == "dialect" else []
        ordered = [*in_msa_order, *(t for t in terms if t not in in_msa_order)]
        return Question(
            text=text, type=qtype,
            terms=terms, focus=_english_focus(text, terms, a) if english else focus_term(a, ordered),
            measure=_measure(a), counted=() if english else tuple(counted_noun(a)),
            variety=form.variety, msa=a,
        )


def _english_focus(text: str, terms: tuple[str, ...], msa: str) -> str | None:
    """What an English question asks about: for «who/what is X» the head of X, the term before
    «of» or else X's last one («Who is the Iranian interior minister?» -> «minister», «What is
    the capital of France?» -> «capital»); for «how many X» the first term of X. None otherwise."""
    words = re.findall(r"[\w']+", normalize(text))
    mwords = msa.rstrip("؟").split()
    if _type(msa) == "howmany" and mwords[:1] == ["كم"]:
        return next((w for w in mwords[1:] if w in terms), None)
    if len(mwords) < 2 or mwords[1] != "هو" or _type(msa) not in ("who", "what"):
        return None
    start = next((i + 2 for i, w in enumerate(words[:-1]) if w in ("who", "what", "which")
                  and words[i + 1] in ("is", "are", "was", "were")), None)
    if start is None:
        return None
    span = words[start:]
    span = span[: span.index("of")] if "of" in span else span
    inside = [w for w in span if w in terms]
    return inside[-1] if inside else None


class QuestionError(ValueError):
    """A question that cannot be asked (empty, nothing but symbols); the message is for the user."""


_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_question(question: str, max_chars: int) -> tuple[str, str]:
    """(cleaned question, notice). Control and zero-width characters go, white space is
    folded, an over-long question is cut at ``max_chars`` with a notice."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    q = _INVISIBLE.sub("", question)
    q = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in q)
    q = re.sub(r"\s+", " ", q).strip()
    if not any(c.isalnum() for c in q):
        raise QuestionError(
            "السؤال فارغ: اكتب سؤالًا بالكلمات. / The question is empty: please ask with words."
            if not q or is_arabic(q)
            else "The question has no words: please ask with words."
        )
    notice = ""
    if len(q) > max_chars:
        cut = q.rfind(" ", 0, max_chars)
        q = q[: cut if cut > max_chars // 2 else max_chars]
        notice = (
            f"السؤال طويل جدًا، فاقتُصر على أول {len(q)} حرفًا."
            if is_arabic(q)
            else f"The question was too long and was cut to its first {len(q)} characters."
        )
    return q, notice
