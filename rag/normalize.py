"""Arabic normalization for matching only. Originals are always kept for quoting:
tokens carry their character offsets into the original text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pyarabic import araby

_ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e\ufeff"
_MARKS = araby.TASHKEEL + (araby.MINI_ALEF, araby.MADDA_ABOVE, araby.HAMZA_ABOVE, araby.HAMZA_BELOW)

_TABLE = str.maketrans(
    {
        **{c: None for c in _MARKS},
        araby.TATWEEL: None,
        **{c: None for c in _ZERO_WIDTH},
        araby.ALEF_HAMZA_ABOVE: araby.ALEF,
        araby.ALEF_HAMZA_BELOW: araby.ALEF,
        araby.ALEF_MADDA: araby.ALEF,
        araby.ALEF_WASLA: araby.ALEF,
        araby.ALEF_MAKSURA: araby.YEH,
        araby.TEH_MARBUTA: araby.HEH,
        **{chr(0x660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        **{chr(0x6F0 + i): str(i) for i in range(10)},  # Persian digits
    }
)


def normalize(text: str) -> str:
    """NFKC, then strip tashkeel/tatweel/zero-width marks, unify alef forms, ى->ي, ة->ه,
    digits to ASCII, lower-case Latin. Used for matching, never for display."""
    text = unicodedata.normalize("NFKC", text)
    # NFKC may leave decomposed hamza marks; normalize once more after stripping them
    return text.translate(_TABLE).lower()


_MARKS_TABLE = str.maketrans({c: None for c in (*_MARKS, araby.TATWEEL, *_ZERO_WIDTH)})


def strip_marks(text: str) -> str:
    """Drop tashkeel, tatweel and zero-width marks only (letters untouched): what the
    embedding model sees, so a fully voweled question embeds like a plain one."""
    return text.translate(_MARKS_TABLE)


# a word: letters/digits plus the marks and joiners that may sit inside an Arabic word
WORD = re.compile(r"[\w" + "".join(_MARKS) + araby.TATWEEL + _ZERO_WIDTH + r"]+")

_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")

STOPWORDS = frozenset(
    normalize(w)
    for w in """
    من ما ماذا متى كم أين اين لماذا كيف هل أي اي ماهو ماهي وما ومن ومتى وكم وأين وكيف وهل لما
    في على إلى الى عن مع بين حتى منذ عند لدى ضد خلال بعد قبل حول نحو دون
    و أو او ثم بل لكن لا لم لن إن ان أن إنّ كان كانت يكون تكون كانوا قد لقد
    هو هي هم هن هما أنا انا نحن أنت انت انتم هذا هذه ذلك تلك هؤلاء الذي التي الذين اللذان اللتان اللواتي
    كل بعض غير سوى أيضا ايضا إذا اذا كما مثل عبر فيه فيها فيما به بها له لها لهم منه منها عليه عليها
    تم يتم التي الذي ذات ذو وهو وهي وقد وفي ومن وعلى وإلى والى وعن
    the a an of in on at to for by with is are was were be what who when where which how why did does do
    """.split()
)


@dataclass(frozen=True)
class Token:
    norm: str  # normalized, stemmed form used for matching
    start: int  # offsets into the original text
    end: int


def stem(word: str) -> str:
    """Light stemming: strip the definite article (with و/ب/ك/ف/ل), nothing else.
    Stripping a bare و/ف prefix damages roots (وقعا -> قع), so it is not done."""
    for p in _PREFIXES:
        if word.startswith(p) and len(word) - len(p) >= 2:
            return word[len(p) :]
    return word


_CONJUNCTIONS = ("و", "ف")
_CLITICS = (*_CONJUNCTIONS, "ب", "ل", "ك", "وب", "ول", "وك", "فب", "فل")  # and attached prepositions
_CONJUNCTION_SET, _CLITIC_SET = frozenset(_CONJUNCTIONS), frozenset(_CLITICS)


def _extends(short: str, long_: str) -> bool:
    """``long_`` is ``short`` or ``short`` plus a suffix of at most two letters; a final ة
    (normalized ه) is written ت before a suffix (تكلفة / تكلفتها) and ات in the plural
    (مرة / مرات, اتفاقية / اتفاقيات)."""
    if long_ == short:
        return True
    if len(short) < 3 or len(long_) - len(short) > 3:
        return False
    if short.endswith("ه") and long_.startswith(short[:-1] + "ات"):
        return True
    if len(long_) - len(short) > 2:
        return False
    return long_.startswith(short) or (short.endswith("ه") and long_.startswith(short[:-1] + "ت"))


def _pair_extends(a: str, b: str) -> bool:
    return _extends(a, b) if len(a) <= len(b) else _extends(b, a)


def soft_match(a: str, b: str, prepositions: bool = True) -> bool:
    """Same term, or one a short suffix-extension of the other (وقع / وقعا, اتفاقيه / اتفاقيات,
    تكلفه / تكلفتها), also behind a conjunction و ف on either word (نفذت / ونفذت, شاركوا /
    وشارك) or, with ``prepositions``, an attached preposition ب ل ك (كلفه / بكلفه, طهران /
    لطهران). Used for matching, never for indexing."""
    if a == b or _pair_extends(a, b):
        return True
    allowed = _CLITIC_SET if prepositions else _CONJUNCTION_SET
    for x, y in ((a, b), (b, a)):
        for n in (1, 2):  # clitics are one or two letters
            if x[:n] in allowed and len(x) - n >= 3 and _pair_extends(x[n:], y):
                return True
    return False


def soft_keys(word: str) -> set[str]:
    """Two words can ``soft_match`` only if their keys meet (the first two letters of the word
    and of the word without a clitic): lets a caller compare a term with a few words of a
    vocabulary instead of all of them."""
    keys = {word[:2]}
    for n in (1, 2):
        if word[:n] in _CLITIC_SET and len(word) - n >= 3:
            keys.add(word[n : n + 2])
    return keys


def is_arabic(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    arabic = sum(1 for c in letters if "\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u077f")
    return arabic >= len(letters) / 2
