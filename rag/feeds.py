"""Live news: article pages and RSS/Atom feeds into the index.

``Follower.ingest_url`` fetches one page (rag/web.py) and ingests its main text, title, date and
canonical URL (rag/loaders.py ``load_page``); ``Follower.poll`` reads a feed (feedparser), fetches
the items it has not seen and ingests them; ``Follower.run`` polls every followed feed at an
interval. What was seen (feed ETags, item URLs, text hashes) lives in the store's state
collection (rag/state.py ``StateStore``), not in memory: a restarted follower, or another
process against the same Chroma, carries on where the last one stopped. The same text under
another URL is a copy: it is recorded, not stored twice."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rag.loaders import LoadError, load_page
from rag.state import StateStore
from rag.web import Fetcher, FetchError

log = logging.getLogger(__name__)

FOLLOWED = "feeds:followed"
MAX_TRIES = 3  # polls that try a failing item before it is given up
STATE_BATCH = 500


def _key(kind: str, text: str) -> str:
    return f"{kind}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"


def text_key(title: str, text: str) -> str:
    """The same story under another URL (or title) has the same key."""
    body = text[len(title):] if title and text.startswith(title) else text
    return _key("text", " ".join(body.split()))


def parse_interval(text: str | float) -> float:
    """Seconds from "90", "30s", "15m", "2h"."""
    raw = str(text).strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(raw[-1:], 0)
    try:
        value = float(raw[:-1] if scale else raw) * (scale or 1)
    except ValueError:
        raise ValueError(f"{text!r} is not an interval: use e.g. 90, 30s, 15m or 2h") from None
    if value <= 0:
        raise ValueError(f"{text!r}: the interval must be positive")
    return value


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


@dataclass(frozen=True)
class Item:
    link: str
    title: str = ""
    date: str = ""  # YYYY-MM-DD when the feed says


def parse_feed(body: bytes, url: str) -> list[Item]:
    """The items of an RSS or Atom feed, newest first; FetchError when it is not a feed."""
    import feedparser

    d = feedparser.parse(body)
    if not d.entries and (d.bozo or not d.version):
        why = getattr(d, "bozo_exception", None)
        raise FetchError(f"{url}: not an RSS/Atom feed" + (f" ({str(why)[:120]})" if why else ""))
    items = []
    for e in d.entries:
        link = (e.get("link") or "").strip()
        if not link.startswith(("http://", "https://")):
            continue
        stamp = e.get("published_parsed") or e.get("updated_parsed")
        items.append(Item(link, (e.get("title") or "").strip(), time.strftime("%Y-%m-%d", stamp) if stamp else ""))
    # newest first (undated items keep the feed's order, after the dated ones)
    return sorted(items, key=lambda it: it.date or "", reverse=True)


@dataclass
class PollReport:
    feed: str
    listed: int = 0
    new: int = 0
    added: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    deferred: int = 0  # new items over the per-poll cap, left for the next poll
    errors: list[str] = field(default_factory=list)
    not_modified: bool = False
    failed: str = ""  # the feed itself could not be read

    def line(self) -> str:
        if self.failed:
            return f"{self.feed}: failed: {self.failed}"
        if self.not_modified:
            return f"{self.feed}: not modified"
        return (f"{self.feed}: {self.listed} items, {self.new} new: {len(self.added)} added, "
                f"{len(self.copies)} copies, {len(self.errors)} errors"
                + (f", {self.deferred} left for the next poll" if self.deferred else ""))


class Follower:
    def __init__(self, sanad, fetcher: Fetcher | None = None, state: StateStore | None = None):
        self.sanad = sanad
        self.s = sanad.settings
        self.fetcher = fetcher or Fetcher(self.s)
        self.state = state or StateStore(self.s)

    # --- the followed list ------------------------------------------------------------
    def _stored(self) -> list[str]:
        """The feeds added with follow() (the configured ones are not stored)."""
        return self.state.get([FOLLOWED]).get(FOLLOWED, [])

    def followed(self) -> list[str]:
        """The configured feeds, then those added with follow(), each once."""
        return list(dict.fromkeys([*self.s.feeds, *self._stored()]))

    def follow(self, url: str) -> bool:
        url = check_url(url)
        stored = self._stored()
        if url in stored or url in self.s.feeds:
            return False
        self._keep([*stored, url])
        return True

    def unfollow(self, url: str) -> bool:
        stored = self._stored()
        if url.strip() not in stored:
            return False
        self._keep([u for u in stored if u != url.strip()])
        return True

    def _keep(self, urls: list[str]) -> None:
        """The followed list, in the state records and in the article store (part of the
        archive: ``sanad repair`` and ``sanad export`` carry it)."""
        self.sanad.articles.set_meta(FOLLOWED, json.dumps(urls))
        self.state.put({FOLLOWED: urls})

    def status(self) -> list[dict]:
        """Each followed feed with its last poll: when, how many articles it brought, last error."""
        feeds = self.followed()
        states = self.state.get([_key("feed", u) for u in feeds])
        out = []
        for u in feeds:
            st = states.get(_key("feed", u), {})
            out.append({"url": u, "configured": u in self.s.feeds, "last_poll": st.get("last_poll", 0),
                        "articles": st.get("articles", 0), "last_error": st.get("last_error", "")})
        return out

    # --- pages ------------------------------------------------------------------------
    def ingest_url(self, url: str, title: str = "", date: str = "") -> tuple[str, str]:
        """Fetch and ingest one article page: ("added" | "replaced" | "unchanged" | "copy", doc_id).
        FetchError or LoadError when it cannot be fetched or is not an article."""
        url = check_url(url)
        got = self.fetcher.get(url)
        article = load_page(got.text(), got.url, self.s.min_article_chars, title, date)
        tkey = text_key(article.title, article.text)
        first = self.state.get([tkey]).get(tkey)
        if first and first["doc_id"] != article.doc_id and self.sanad.store.present([first["doc_id"]]):
            log.info("%s is a copy of %s (%s)", url, first["doc_id"], first.get("url", ""))
            return "copy", first["doc_id"]
        report = self.sanad.ingest_articles([article])
        if report.copies:  # a near-copy of an indexed story (rag/dedupe.py): recorded under it
            copy = self.state.get([f"copy:{article.doc_id}"]).get(f"copy:{article.doc_id}", {})
            log.info("%s is a copy of %s", url, copy.get("of", "?"))
            return "copy", copy.get("of", article.doc_id)
        self.state.put({tkey: {"doc_id": article.doc_id, "url": article.url}})
        kind = "added" if report.added else "replaced" if report.replaced else "unchanged"
        return kind, article.doc_id

    # --- feeds ------------------------------------------------------------------------
    def _unseen(self, items: list[Item]) -> list[tuple[Item, dict]]:
        """Items never ingested, or whose article has left the index (e.g. after --rebuild), or
        that failed at fewer than MAX_TRIES polls; each with what was recorded of it ({} if nothing)."""
        keys = [_key("item", it.link) for it in items]
        seen: dict = {}
        for i in range(0, len(keys), STATE_BATCH):
            seen.update(self.state.get(keys[i : i + STATE_BATCH]))
        docs = sorted({v["doc_id"] for v in seen.values() if v.get("doc_id")})
        present: set[str] = set()
        for i in range(0, len(docs), STATE_BATCH):
            present |= self.sanad.store.present(docs[i : i + STATE_BATCH])

        def wanted(v: dict | None) -> bool:
            if v is None:
                return True
            if v.get("doc_id"):
                return v["doc_id"] not in present
            return v.get("tries", 0) < MAX_TRIES

        return [(it, seen.get(k) or {}) for it, k in zip(items, keys) if wanted(seen.get(k))]

    def poll(self, feed: str) -> PollReport:
        """Read one feed and ingest its new items (at most ``feed_max_items`` a poll)."""
        rep = PollReport(feed)
        fkey = _key("feed", feed)
        fstate = self.state.get([fkey]).get(fkey, {"url": feed})
        fstate["last_poll"] = int(time.time())
        try:
            got = self.fetcher.get(feed, fstate.get("etag", ""), fstate.get("last_modified", ""))
            if got.not_modified:
                rep.not_modified = True
                self.state.put({fkey: fstate})
                return rep
            items = parse_feed(got.body, feed)
        except FetchError as exc:
            rep.failed = str(exc)
            log.warning("feed %s", exc)
            self.state.put({fkey: {**fstate, "last_error": rep.failed}})
            return rep
        rep.listed = len(items)
        new = self._unseen(list({it.link: it for it in items}.values()))
        rep.new = len(new)
        take = new[: self.s.feed_max_items]
        rep.deferred = len(new) - len(take)
        if rep.deferred:
            log.warning("%s lists %d new items: taking %d this poll", feed, len(new), len(take))
        for it, before in take:
            self._take(it, before, rep)
        # remember the validators only when nothing is left to do, or a 304 would hide the rest
        done = not rep.deferred and not rep.errors
        self.state.put({fkey: {**fstate, "etag": got.etag if done else "", "last_modified": got.last_modified if done else "",
                               "articles": fstate.get("articles", 0) + len(rep.added), "last_error": ""}})
        return rep

    def _take(self, it: Item, before: dict, rep: PollReport) -> None:
        """Ingest one feed item and record the outcome; ``before`` is what was recorded of it."""
        ikey = _key("item", it.link)
        try:
            kind, doc_id = self.ingest_url(it.link, it.title, it.date)
        except (FetchError, LoadError, ValueError) as exc:
            rep.errors.append(str(exc))
            log.warning("feed item not ingested: %s", exc)
            tries = before.get("tries", 0) + 1
            self.state.put({ikey: {"url": it.link, "tries": tries, "error": str(exc)[:300]}})
            return
        (rep.copies if kind == "copy" else rep.added).append(doc_id)
        self.state.put({ikey: {"url": it.link, "doc_id": doc_id, "copy": kind == "copy", "at": int(time.time())}})

    def poll_all(self, report: Callable[[str], None] = print) -> list[PollReport]:
        out = []
        for feed in self.followed():
            rep = self.poll(feed)
            report(rep.line())
            out.append(rep)
        return out

    def run(self, every: float, stop: threading.Event | None = None, report: Callable[[str], None] = print) -> None:
        """Poll every followed feed, then wait ``every`` seconds, until ``stop`` is set. A failing
        feed or store is reported and tried again at the next poll."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.poll_all(report)
            except Exception as exc:  # e.g. the Chroma server went away: say so and keep following
                report(f"poll failed: {type(exc).__name__}: {exc}")
                log.exception("poll failed")
            if stop.wait(every):
                return
