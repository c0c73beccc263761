"""An article's date from its dateline: the date a news page prints near its top
(«الرياض - 12 مارس 2015», «الأحد 12-03-2017 20:33», «12 آذار/مارس 2017», "March 12, 2015",
«الموافق 13 مارس 2017م» after a Hijri date), for ``.txt``/``.md``/``.html`` articles whose
metadata has none. Only the first lines are read, only a whole date (day, month, year between
1900 and 2100) counts, and nothing is ever taken from today. Month names: rag/months.json."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from pathlib import Path

TOP_LINES = 3  # non-empty lines after the headline that may hold the dateline
TOP_CHARS = 120  # ... within their first characters
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    months = json.loads((Path(__file__).parent / "months.json").read_text(encoding="utf-8"))
    names = sorted({n for k, v in months.items() if k.isdigit() for n in v}, key=len, reverse=True)
    month = "(?P<m>" + "|".join(re.escape(n) for n in names) + ")"
    alias = r"(?:\s*[/(،-]?\s*(?:" + "|".join(re.escape(n) for n in names) + r")\s*\)?)?"  # «مارس/آذار», «آذار (مارس)»
    day = r"(?P<d>[0-3]?\d)"
    year = r"(?P<y>(?:19|20)\d\d)"
    end = r"(?![\d])"
    return [
        (re.compile(rf"(?<![\d/.-])(?P<y>(?:19|20)\d\d)[-/.](?P<m>[01]?\d)[-/.](?P<d>[0-3]?\d){end}"), "num"),
        (re.compile(rf"(?<![\d/.-]){day}\s*[-/.]\s*(?P<m>[01]?\d)\s*[-/.]\s*{year}{end}"), "num"),
        (re.compile(rf"(?<!\d){day}(?:st|nd|rd|th)?\s*(?:من\s+)?{month}{alias}[\s,،]*(?:عام\s+|سنة\s+)?{year}{end}",
                    re.IGNORECASE), "name"),
        (re.compile(rf"(?<![\w]){month}\.?\s+{day}(?:st|nd|rd|th)?,?\s+{year}{end}", re.IGNORECASE), "name"),
    ]


@cache
def _month_numbers() -> dict[str, int]:
    months = json.loads((Path(__file__).parent / "months.json").read_text(encoding="utf-8"))
    return {n.lower(): int(k) for k, v in months.items() if k.isdigit() for n in v}


def find_date(text: str) -> str:
    """The first whole date in ``text`` as YYYY-MM-DD, or "" (a Hijri year never passes)."""
    text = text.translate(DIGITS)
    found = []
    for pattern, kind in _patterns():
        for m in pattern.finditer(text):
            month = int(m["m"]) if kind == "num" else _month_numbers()[m["m"].lower()]
            try:
                found.append((m.start(), dt.date(int(m["y"]), month, int(m["d"])).isoformat()))
            except ValueError:
                continue
            break
    return min(found)[1] if found else ""


def dateline(text: str, has_title_line: bool = True) -> str:
    """The dateline's date among the first lines of an article's text (after its headline)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    top = lines[1 : 1 + TOP_LINES] if has_title_line else lines[:TOP_LINES]
    for line in top:
        got = find_date(line[:TOP_CHARS])
        if got:
            return got
    return ""
