"""Telegram HTML replies: every piece of user and article text escaped, right-to-left
lines marked so Arabic and numbers read correctly, long replies split at sentence
boundaries and never inside a tag."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from bot.phrases import phrase
from rag import Answer, Chunk, Citation, split_sentences

LIMIT = 4096
RLM = "\u200f"  # right-to-left mark: starts each Arabic line so Telegram lays it out RTL
LRI, PDI = "\u2066", "\u2069"  # isolate Latin ids inside Arabic lines


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def _line(text: str, rtl: bool) -> str:
    return f"{RLM}{text}" if rtl else text


def _iso(text: str, rtl: bool) -> str:
    return f"{LRI}{text}{PDI}" if rtl else text


def _pack(items: list[str], limit: int, sep: str, measure=len) -> list[str]:
    """Join consecutive items with ``sep`` into groups whose measure stays within ``limit``."""
    out: list[str] = []
    current = ""
    for item in items:
        if current and measure(current) + len(sep) + measure(item) > limit:
            out.append(current)
            current = item
        else:
            current = f"{current}{sep}{item}" if current else item
    if current:
        out.append(current)
    return out


def _cut(sentence: str, size: int, measure) -> list[str]:
    """An over-long sentence cut at word boundaries into parts within ``size``."""
    parts = []
    while measure(sentence) > size:
        cut = len(sentence)
        while cut > 1 and measure(sentence[:cut]) > size:
            space = sentence.rfind(" ", 0, cut - 1)
            cut = space if space > 0 else cut - max(1, cut // 10)
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return parts + ([sentence] if sentence else [])


def pieces(text: str, size: int, measure=lambda t: len(esc(t))) -> list[str]:
    """Cut plain text into pieces whose escaped length is at most ``size``, at sentence
    boundaries (at word boundaries inside an over-long sentence)."""
    parts = [p for s, e in split_sentences(text) for p in _cut(text[s:e], size, measure)]
    return _pack(parts, size, " ", measure) or [""]


def blocks_to_messages(blocks: list[str], limit: int = LIMIT) -> list[str]:
    """Pack complete HTML blocks into messages of at most ``limit`` characters."""
    return _pack(blocks, limit, "\n\n")


def _text_blocks(prefix_html: str, text: str, rtl: bool, wrap: tuple[str, str] = ("", "")) -> list[str]:
    """Blocks for a possibly very long text; each block is complete HTML on its own."""
    budget = LIMIT - len(prefix_html) - 200
    open_tag, close_tag = wrap
    out = []
    for i, piece in enumerate(pieces(text, budget)):
        head = prefix_html if i == 0 else ""
        out.append(_line(f"{head}{open_tag}{esc(piece)}{close_tag}", rtl))
    return out


def _heading(i: int, c: Citation | Chunk, rtl: bool, label: str = "") -> str:
    """[i] (label) title · date (the article's, when known)."""
    date = f" · {_iso(esc(c.date), rtl)}" if c.date else ""
    label = f"({esc(label)}) " if label else ""
    return _line(f"<b>[{i}] {label}{esc(c.title)}</b>{date}", rtl)


def _reference(c: Citation | Chunk, rtl: bool) -> str:
    """The passage id, and a link to the article's page when it came from the web."""
    ref = f"<code>{_iso(esc(c.chunk_id), rtl)}</code>"
    if c.url:
        link = f'<a href="{html.escape(c.url, quote=True)}">{esc(urlsplit(c.url).netloc or c.url)}</a>'
        ref = f"{ref} {_iso(link, rtl)}"
    return _line(ref, rtl)


def _elsewhere(c: Citation, rtl: bool, lang: str) -> str:
    """The other papers that printed the same story (syndicated copies), linked where known."""
    names = []
    for o in c.also_in:
        name = esc(o.get("source") or o.get("doc_id", ""))
        if o.get("url"):
            name = f'<a href="{html.escape(o["url"], quote=True)}">{name}</a>'
        names.append(_iso(name, rtl))
    return _line(f"{esc(phrase('also_in', lang))} {' · '.join(names)}", rtl)


def _quoted(i: int, c: Citation, rtl: bool, label: str = "", lang: str = "ar") -> list[str]:
    """Blocks for one cited passage: [i] (label) title · date, the quote, the reference, and
    where else the story was published."""
    head = _heading(i, c, rtl, label)
    quote = _text_blocks("", f"«{c.quote}»", rtl, ("<i>", "</i>"))
    ref = _reference(c, rtl)
    if c.also_in:
        ref = f"{ref}\n{_elsewhere(c, rtl, lang)}"
    return ["\n".join([head, quote[0], ref])] if len(quote) == 1 else [head, *quote, ref]


def _confidence(answer: Answer, rtl: bool, lang: str) -> str:
    """The judge's probability, the same number ``sanad ask --json`` shows as ``confidence``."""
    return _line(f"<i>{esc(phrase('confidence', lang))} {_iso(f'{answer.confidence:.0%}', rtl)}</i>", rtl)


def format_answer(answer: Answer, lang: str) -> list[str]:
    """The reply to a question: the answer, then its numbered sources (a source from another
    article than the first is labelled "also reported by") and the judge's confidence; in the
    closest band, that no sure answer was found and the closest passage. Returns messages."""
    rtl = lang == "ar"
    blocks: list[str] = []
    if answer.notice:
        blocks.append(_line(f"<i>{esc(answer.notice)}</i>", rtl))
    if answer.band == "closest":  # the closest passage, which may not answer: quoted, not a source
        blocks.append(_line(esc(phrase("closest", lang)), rtl))
        blocks += _quoted(1, answer.related[0], rtl, lang=lang)
        blocks.append(_confidence(answer, rtl, lang))
        return blocks_to_messages(blocks)
    if answer.abstained:
        blocks.append(_line(esc(phrase("abstain", lang)), rtl))
        return blocks_to_messages(blocks)
    blocks += _text_blocks(f"<b>{esc(phrase('answer', lang))}</b> ", answer.answer, rtl)
    blocks.append(_confidence(answer, rtl, lang))
    if answer.citations:
        blocks.append(_line(f"<b>{esc(phrase('sources', lang))}</b>", rtl))
    first = answer.citations[0].doc_id if answer.citations else ""
    for i, c in enumerate(answer.citations, 1):
        blocks += _quoted(i, c, rtl, phrase("also", lang) if c.doc_id != first else "", lang)
    return blocks_to_messages(blocks)


def format_passages(chunks: list[Chunk], lang: str) -> list[str]:
    rtl = lang == "ar"
    blocks: list[str] = []
    for i, c in enumerate(chunks, 1):
        blocks.append(f"{_heading(i, c, rtl)}\n{_reference(c, rtl)}")
        blocks += _text_blocks("", c.text, rtl)
    if not blocks:
        blocks.append(_line(esc(phrase("no_passages", lang)), rtl))
    return blocks_to_messages(blocks)


def format_related(answer: Answer, lang: str) -> list[str]:
    """The other retrieved passages, which do not state the answer (the "related" button)."""
    rtl = lang == "ar"
    if not answer.related:
        return [_line(esc(phrase("no_related", lang)), rtl)]
    blocks = [_line(f"<b>{esc(phrase('related', lang))}</b>", rtl)]
    for i, c in enumerate(answer.related, 1):
        blocks.append("\n".join([_heading(i, c, rtl), _line(f"<i>{esc('«' + c.quote[:1500] + '»')}</i>", rtl),
                                 _reference(c, rtl)]))
    return blocks_to_messages(blocks)


def format_sources(docs: list[dict], page: int, per_page: int, lang: str) -> tuple[str, int]:
    """One page of the article list, and the number of pages."""
    rtl = lang == "ar"
    pages = max(1, -(-len(docs) // per_page))
    page = min(max(page, 0), pages - 1)
    lines = [_line(f"<b>{esc(phrase('source_list', lang))}</b> ({page + 1}/{pages})", rtl)]
    for d in docs[page * per_page : (page + 1) * per_page]:
        date = f" · {esc(d['date'])}" if d.get("date") else ""
        lines.append(_line(f"• {esc(d['title'])}{date} <code>{_iso(esc(d['doc_id']), rtl)}</code>", rtl))
    return "\n".join(lines), pages


def format_stats(stats: dict, lang: str) -> str:
    rtl = lang == "ar"
    age = stats.get("index_age_seconds")
    age_text = "-" if age is None else f"{age // 3600}h {age % 3600 // 60}m"
    rows = [
        (phrase("stat_articles", lang), stats["articles"]),
        (phrase("stat_chunks", lang), stats["chunks"]),
        (phrase("stat_model", lang), stats["model"]),
        (phrase("stat_age", lang), age_text),
    ]
    return "\n".join(_line(f"<b>{esc(k)}:</b> {_iso(esc(str(v)), rtl)}", rtl) for k, v in rows)


def format_feeds(rows: list[dict], lang: str) -> str:
    """The followed feeds: URL, last poll, articles brought, last error."""
    import time

    rtl = lang == "ar"
    if not rows:
        return _line(esc(phrase("no_feeds", lang)), rtl)
    lines = [_line(f"<b>{esc(phrase('feeds', lang))}</b>", rtl)]
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["last_poll"])) + " UTC" if r["last_poll"] else phrase("never", lang)
        error = f" ⚠ {esc(r['last_error'][:200])}" if r["last_error"] else ""
        lines.append(_line(f"• {_iso(esc(r['url']), rtl)} · {_iso(esc(when), rtl)} · {r['articles']}{error}", rtl))
    return "\n".join(lines)
