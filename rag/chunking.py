"""Sentence-aware chunking that keeps character offsets into the original article."""

from __future__ import annotations

import hashlib
import re

from rag.records import Article, Chunk

# a sentence ends at . ! ? ؟ … ؛ (with closing quotes/brackets) followed by white space, or at a blank line / newline
_END = re.compile(r"(?:[.!?؟…؛]+[\"'»”)\]]*)(?=\s)|\n+")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of text[start:end], white space trimmed."""
    end = len(text) if end is None else end
    spans = []
    pos = start
    for m in _END.finditer(text, start, end):
        spans.append((pos, m.end() if m.group()[0] != "\n" else m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _split_long(text: str, s: int, e: int, limit: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``limit`` at word boundaries."""
    parts = []
    while e - s > limit:
        cut = text.rfind(" ", s, s + limit)
        if cut <= s:
            cut = s + limit
        parts.append((s, cut))
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        parts.append((s, e))
    return parts


def chunk_article(article: Article, max_chars: int, overlap_sentences: int = 1) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``max_chars``; consecutive chunks share
    ``overlap_sentences`` sentences. A sentence is never cut unless it alone exceeds the limit."""
    text = article.text
    sents: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        sents.extend(_split_long(text, s, e, max_chars) if e - s > max_chars else [(s, e)])
    groups: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(sents):
        j = i
        while j + 1 < len(sents) and sents[j + 1][1] - sents[i][0] <= max_chars:
            j += 1
        groups.append(sents[i : j + 1])
        if j + 1 >= len(sents):
            break
        i = max(j + 1 - overlap_sentences, i + 1)
    chunks = []
    for index, group in enumerate(groups):
        s, e = group[0][0], group[-1][1]
        body = text[s:e]
        digest = hashlib.sha256(passage_text(article.title, body).encode()).hexdigest()
        chunks.append(
            Chunk(
                chunk_id=f"{article.doc_id}:{index}",
                doc_id=article.doc_id,
                title=article.title,
                text=body,
                start=s,
                end=e,
                index=index,
                content_hash=digest,
                date=article.date,
                url=article.url,
            )
        )
    return chunks


def passage_text(title: str, text: str) -> str:
    """What is embedded and keyword-indexed for a chunk: its article's title, then its text."""
    return text if not title or text.startswith(title) else f"{title}\n{text}"


# bump when what is embedded for a chunk changes (e.g. its text preparation)
PASSAGE_RECIPE = "title+text/strip-marks/1"


def article_hash(article: Article, max_chars: int, overlap: int) -> str:
    """Changes when the article, the chunking that cuts it, or the passage recipe changes."""
    h = hashlib.sha256()
    for part in (article.doc_id, article.title, article.source, article.date, article.url, article.text,
                 f"{max_chars}/{overlap}", PASSAGE_RECIPE):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()
