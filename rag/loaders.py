"""Load articles from files: .txt / .md (first line is the headline, optional front matter),
.html (main text via trafilatura), .jsonl / .json records, .jsonl.gz archives. UTF-8 only,
with clear errors. JSONL (plain or gzipped) is streamed record by record, in constant memory;
its size limit applies to each record, not to the file."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rag.dateline import dateline
from rag.records import Article

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".json"}
STREAM_SUFFIXES = {".jsonl", ".jsonl.gz"}  # read a record at a time
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | STREAM_SUFFIXES
GIVE_UP_AFTER = 50  # consecutive unreadable lines after which a stream is taken for not JSONL at all

_ID_BAD = re.compile(r"[\s\x00-\x1f\x7f]+")


class LoadError(ValueError):
    """A file (or a record in it) that cannot be ingested; the message names it."""


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def clean_id(raw: str) -> str:
    cleaned = _ID_BAD.sub("_", str(raw).strip())
    if not cleaned:
        raise LoadError(f"unusable article id {raw!r}")
    return cleaned


def decode(data: bytes, name: str, where: str = "") -> str:
    """UTF-8 text or a LoadError that says what the bytes look like (``where``: the part of
    file ``name`` they come from, e.g. "line 12")."""
    if b"\x00" in data[:8192]:
        raise LoadError(f"{where or name}: binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            legacy = data.decode("cp1256")
            letters = [c for c in legacy if c.isalpha()]
            if letters and sum("\u0600" <= c <= "\u06ff" for c in letters) > len(letters) / 2:
                hint = (
                    " It looks like windows-1256 Arabic; convert it with "
                    f"`iconv -f cp1256 -t utf-8 {name} > {Path(name).stem}.utf8{Path(name).suffix}`."
                )
        except UnicodeDecodeError:
            pass
        raise LoadError(f"{where or name}: not valid UTF-8 (byte {exc.start}).{hint}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _front_matter(text: str) -> tuple[dict, str]:
    """`---` / `key: value` lines / `---` at the top of a text file."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}, text
    meta = {}
    for line in text[4:end].splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            meta[k.strip().lower()] = v.strip()
    return meta, text[end + 5 :]


def _title_of(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return ""


def _article(doc_id: str, title: str, text: str, path: Path, meta: dict) -> Article:
    if not text.strip():
        raise LoadError(f"{path}: empty article (no text)")
    return Article(
        doc_id=clean_id(doc_id),
        title=(title or _title_of(text)).strip()[:300],
        text=text,
        source=str(meta.get("source", "")),
        date=str(meta.get("date", "")),
        url=str(meta.get("url", "")),
        path=str(path),
    )


def load_text(path: Path, text: str) -> Article:
    meta, body = _front_matter(text)
    if not meta.get("date"):  # a dateline near the top (rag/dateline.py), never today
        meta["date"] = dateline(body, has_title_line=not meta.get("title"))
    return _article(meta.get("id", path.stem), meta.get("title", ""), body, path, meta)


def _extract(html: str, url: str | None = None):
    """trafilatura's main text and metadata of an HTML page, or None."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    return doc if doc is not None and (doc.text or "").strip() else None


def load_html(path: Path, text: str) -> Article:
    doc = _extract(text)
    if doc is None:
        raise LoadError(f"{path}: no main text found in the HTML")
    title = doc.title or ""
    body = doc.text if not title else f"{title}\n\n{doc.text}"
    meta = {"date": doc.date or dateline(body, has_title_line=bool(title)), "url": doc.url or "",
            "source": doc.sitename or ""}
    return _article(path.stem, title, body, path, meta)


def web_id(url: str) -> str:
    """A stable article id for a web page: its host and a hash of its canonical URL."""
    host = urlsplit(url).netloc.lower().removeprefix("www.") or "web"
    return clean_id(f"{host}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}")


def load_page(html: str, url: str, min_chars: int = 0, title: str = "", date: str = "") -> Article:
    """An article from a fetched web page: main text, title, date and canonical URL (trafilatura);
    ``title`` (e.g. from a feed item) fills in a page without one; ``date`` (the feed's) wins over a
    date guessed from the page."""
    doc = _extract(html, url)
    length = len((doc.text or "").strip()) if doc is not None else 0
    if doc is None or length < max(1, min_chars):
        raise LoadError(f"{url}: not an article (main text {length} characters, under {max(1, min_chars)})")
    canonical = doc.url if (doc.url or "").startswith(("http://", "https://")) else url
    title = (doc.title or title or "").strip()
    body = doc.text if not title else f"{title}\n\n{doc.text}"
    return Article(
        doc_id=web_id(canonical),
        title=(title or _title_of(body))[:300],
        text=body.replace("\r\n", "\n"),
        source=doc.sitename or urlsplit(canonical).netloc,
        date=(date or doc.date or "")[:10],
        url=canonical,
    )


def _record(path: Path, rec: object, where: str) -> Article:
    if not isinstance(rec, dict):
        raise LoadError(f"{path}{where}: a record must be a JSON object")
    text = rec.get("text") or rec.get("content") or rec.get("body")
    if not isinstance(text, str) or not text.strip():
        raise LoadError(f"{path}{where}: record has no 'text'")
    rid = rec.get("id") or rec.get("doc_id")
    if rid is None:
        raise LoadError(f"{path}{where}: record has no 'id'")
    text = text.replace("\r\n", "\n")
    return _article(str(rid), str(rec.get("title") or ""), text, path, rec)


def load_records(path: Path, text: str) -> Iterator[Article | Problem]:
    """Good records are yielded; bad ones become Problems naming their line."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(str(path), f"invalid JSON (line {exc.lineno}): {exc.msg}")
            return
        items = data if isinstance(data, list) else data.get("articles", [data]) if isinstance(data, dict) else []
        for i, rec in enumerate(items):
            try:
                yield _record(path, rec, f" record {i + 1}")
            except LoadError as exc:
                yield Problem(str(path), str(exc).split(": ", 1)[-1] + f" (record {i + 1})")
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            yield _record(path, rec, f" line {lineno}")
        except json.JSONDecodeError as exc:
            yield Problem(str(path), f"line {lineno}: invalid JSON ({exc.msg})")
        except LoadError as exc:
            yield Problem(str(path), f"line {lineno}: {str(exc).split(': ', 1)[-1]}")


def suffix_of(path: Path) -> str:
    """The file's kind: its suffix, or ``.jsonl.gz`` for a gzipped JSONL archive."""
    name = Path(path).name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else Path(path).suffix.lower()


def _open_stream(path: Path):
    import gzip

    return gzip.open(path, "rb") if suffix_of(path) == ".jsonl.gz" else open(path, "rb")


def stream_records(path: Path, max_bytes: int) -> Iterator[Article | Problem]:
    """The records of a JSONL file (plain or gzipped), one line at a time: a record over
    ``max_bytes``, an undecodable or invalid line is a Problem naming its line; the rest go on."""
    import gzip
    import zlib

    path = Path(path)
    bad_run, lines = 0, 0
    try:
        with _open_stream(path) as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                lines += 1
                if len(raw) > max_bytes:
                    yield Problem(str(path), f"line {lineno}: record is {len(raw):,} bytes, over the limit of "
                                             f"{max_bytes:,} (SANAD_MAX_FILE_BYTES)")
                    continue
                try:
                    rec = json.loads(decode(raw, str(path), f"line {lineno}"))
                    item = _record(path, rec, f" line {lineno}")
                    bad_run = 0
                    yield item
                except json.JSONDecodeError as exc:
                    bad_run += 1
                    yield Problem(str(path), f"line {lineno}: invalid JSON ({exc.msg})")
                except LoadError as exc:
                    bad_run += 1
                    yield Problem(str(path), f"line {lineno}: {str(exc).split(': ', 1)[-1]}")
                if bad_run >= GIVE_UP_AFTER:
                    yield Problem(str(path), f"stopped at line {lineno}: {GIVE_UP_AFTER} unreadable lines in a row")
                    return
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        yield Problem(str(path), f"not a readable gzip file ({exc})")
        return
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc.strerror or exc}")
        return
    if lines == 0:
        yield Problem(str(path), "empty file")


def count_records(path: Path) -> int:
    """How many articles a file holds, cheaply: a JSONL file's non-empty lines, else 1."""
    if suffix_of(path) not in STREAM_SUFFIXES:
        return 1
    try:
        with _open_stream(path) as fh:
            return sum(1 for line in fh if line.strip())
    except (OSError, EOFError, ValueError):
        return 0


def load_file(path: Path, max_bytes: int) -> Iterator[Article | Problem]:
    """Articles in one file; every failure is a Problem, never an exception."""
    path = Path(path)
    suffix = suffix_of(path)
    if suffix in STREAM_SUFFIXES:
        yield from stream_records(path, max_bytes)
        return
    try:
        if suffix not in SUPPORTED:
            raise LoadError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUPPORTED))}")
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{path}: file is {size:,} bytes, over the limit of {max_bytes:,} (SANAD_MAX_FILE_BYTES)")
        if size == 0:
            raise LoadError(f"{path}: empty file")
        text = decode(path.read_bytes(), str(path))
        if suffix in RECORD_SUFFIXES:
            yield from load_records(path, text)
        elif suffix in HTML_SUFFIXES:
            yield load_html(path, text)
        else:
            yield load_text(path, text)
    except LoadError as exc:
        msg = str(exc)
        prefix = f"{path}: "
        yield Problem(str(path), msg[len(prefix) :] if msg.startswith(prefix) else msg)
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc.strerror or exc}")


def iter_files(root: Path) -> list[Path]:
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise LoadError(f"{root}: no such file or folder")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def load_corpus(root: Path, max_bytes: int) -> Iterator[Article | Problem]:
    """Every article under ``root``; a bad file never stops the others.
    Article ids must be unique: a later duplicate is refused with a Problem."""
    seen: dict[str, str] = {}
    for path in iter_files(root):
        if suffix_of(path) not in SUPPORTED:
            log.info("skipping %s: not a supported article file", path)
            continue
        for item in load_file(path, max_bytes):
            if isinstance(item, Article):
                if item.doc_id in seen:
                    yield Problem(str(path), f"duplicate article id {item.doc_id!r} (already in {seen[item.doc_id]})")
                    continue
                seen[item.doc_id] = str(path)
            yield item
