"""Dates in questions: «ما آخر ...», «أحدث ...», «اليوم» ask for the newest articles; «في 30 نوفمبر
2026» or «2026-11-30» for that day's. Among the retrieved passages that are about as relevant as
the best (within ``recency_margin`` of its fused score), those articles come first and the ones
dated otherwise are dropped: the passages keep the scores they had, handed out again in the new
order, and the refusal evidence counts those articles as one (rag/retrieval.py ``together``).
Nothing else moves, and a question without such words is untouched."""

from __future__ import annotations

import re
from dataclasses import replace

from rag.normalize import normalize
from rag.records import Hit

# normalized forms (rag/normalize.py): أ/إ/آ -> ا, ة -> ه, ى -> ي
_RECENT = {"احدث", "موخرا", "مؤخرا", "اليوم", "امس", "البارحه", "الاخير", "الاخيره", "الاخيرين", "الاخيرتين"}
_BEFORE_LATEST = {"ما", "ماذا", "هي", "هو", "عن", "في", "بشان", "حول"}  # «ما آخر قرار»: "the latest"
_WORD = re.compile(r"[\w\u0621-\u064a]+")
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("يناير", "كانون الثاني"), ("فبراير", "شباط"), ("مارس", "اذار"), ("ابريل", "نيسان"),
            ("مايو", "ايار"), ("يونيو", "حزيران"), ("يوليو", "تموز"), ("اغسطس", "اب"),
            ("سبتمبر", "ايلول"), ("اكتوبر", "تشرين الاول"), ("نوفمبر", "تشرين الثاني"), ("ديسمبر", "كانون الاول"),
        ],
        1,
    )
    for m in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(rf"(?<!\d)(\d{{1,2}})\s+(?:من\s+)?(?:شهر\s+)?({_MONTH})(?:\s+(?:عام\s+|سنه\s+)?(\d{{4}}))?")
_MONTH_YEAR = re.compile(rf"(?:شهر\s+)?({_MONTH})\s+(?:عام\s+|سنه\s+)?(\d{{4}})")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})(?:-(\d{2}))?(?!\d)")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?")


def asked_date(question: str) -> str:
    """The day ("2026-11-30") or month ("2026-11") a question names, or ""; a day without a
    year is matched by month and day ("-11-30")."""
    q = normalize(question)
    m = _ISO.search(q)
    if m:
        return "-".join(p for p in m.groups() if p)
    m = _NUMERIC.search(q)
    if m:
        return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    m = _DAY_MONTH_YEAR.search(q)
    if m:
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], m.group(3)
        return f"{year}-{month:02d}-{day:02d}" if year else f"-{month:02d}-{day:02d}"
    m = _MONTH_YEAR.search(q)
    if m:
        return f"{m.group(2)}-{_MONTHS[m.group(1)]:02d}"
    return ""


def wants_recent(question: str) -> bool:
    """«أحدث»، «مؤخرا»، «اليوم»، «الأخير(ة)», or «آخر» before a noun («آخر التطورات», «ما آخر قرار»);
    «آخر» after a noun («شخص آخر») means "another" and does not count."""
    words = _WORD.findall(normalize(question))
    for i, w in enumerate(words):
        bare = w[1:] if len(w) > 3 and w[0] in "وفب" and w[1:] in _RECENT | {"اخر"} else w
        if bare in _RECENT:
            return True
        if bare == "اخر" and i + 1 < len(words) and (
                words[i + 1].startswith("ال") or i == 0 or words[i - 1] in _BEFORE_LATEST):
            return True
    return False


def article_date(date: str) -> str:
    """An article's date when it is ISO-like (YYYY-MM or YYYY-MM-DD), else ""."""
    m = _ISO_DATE.match((date or "").strip())
    return m.group(0) if m else ""


def _matches(date: str, want: str) -> bool:
    return bool(date) and (date[4:].startswith(want) if want.startswith("-") else date.startswith(want))


def prefer_dates(hits: list[Hit], question: str, margin: float) -> tuple[list[Hit], set[str]]:
    """For a question that names a date or asks for the latest: among the hits (best first)
    within ``margin`` of the best score, the articles of that date (or the newest) come first
    and the close articles dated otherwise are dropped; undated ones stay, after them. Also
    returns the window's article ids when it chose (one story told at several times, not rival
    answers: the refusal evidence counts them as one)."""
    want = asked_date(question)
    if len(hits) < 2 or not (want or wants_recent(question)):
        return hits, set()
    best = hits[0].score
    n = next((i for i, h in enumerate(hits) if h.score < best - margin), len(hits))
    window = hits[:n]
    dates = {h.chunk.doc_id: article_date(h.chunk.date) for h in window}
    if len(dates) < 2:
        return hits, set()
    if want:
        chosen = {d for d, day in dates.items() if _matches(day, want)}
    else:
        newest = max(dates.values())
        chosen = {d for d, day in dates.items() if day and day == newest}
    if not chosen:
        return hits, set()
    kept = [h for h in window if h.chunk.doc_id in chosen] + [h for h in window if not dates[h.chunk.doc_id]]
    return [replace(h, score=s) for h, s in zip(kept, [h.score for h in window])] + hits[n:], set(dates)
