"""Fetching pages and feeds politely: robots.txt, a delay between two requests to one host,
timeouts and retries, conditional GETs (ETag / Last-Modified), a size cap, a redirect limit,
and text decoded as the server declares it. Every failure is a FetchError naming the URL."""

from __future__ import annotations

import codecs
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from config import Settings

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}
ROBOTS_TTL = 3600.0  # seconds a host's robots.txt is trusted
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.-]+)""")


class FetchError(Exception):
    """A URL that could not be fetched (or may not be); the message says which and why."""


@dataclass(frozen=True)
class Fetched:
    url: str  # where the body came from, after redirects
    status: int  # 200, or 304 when a conditional GET found nothing new
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")

    def text(self) -> str:
        return decode_page(self.body, self.headers.get("content-type", ""), self.url)


def declared_charset(body: bytes, content_type: str) -> str:
    """The charset the HTTP header declares, else the page's <meta> or XML declaration."""
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", content_type or "", re.IGNORECASE)
    if m:
        return m.group(1)
    head = body[:4096]
    m = _XML_ENCODING.search(head.lstrip()) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else ""


def decode_page(body: bytes, content_type: str, url: str) -> str:
    """Text of a fetched page: as declared (header, then <meta>), else UTF-8."""
    charset = declared_charset(body, content_type) or "utf-8"
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        raise FetchError(f"{url}: unknown charset {charset!r}") from None
    try:
        text = body.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        raise FetchError(f"{url}: not valid {charset} (byte {exc.start}); the page declares no other charset") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


class Fetcher:
    """One per process (thread-safe): it remembers each host's robots.txt and last request."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None):
        self.s = settings
        self._client = httpx.Client(
            timeout=settings.fetch_timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.fetch_user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
        )
        self._last: dict[str, float] = {}
        self._robots: dict[str, tuple[float, RobotFileParser]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    # --- politeness -------------------------------------------------------------------
    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._last.get(host, 0.0) + self.s.fetch_host_delay)
            self._last[host] = turn
        if turn > now:
            time.sleep(turn - now)

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets Sanad's user agent fetch ``url`` (no robots.txt: yes;
        robots.txt unreachable or forbidden: no, until it can be read)."""
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(host)
        if cached and time.monotonic() - cached[0] < ROBOTS_TTL:
            return cached[1].can_fetch(self.s.fetch_user_agent, url)
        rp = RobotFileParser(host + "/robots.txt")
        try:
            got = self._request(host + "/robots.txt", {})
        except FetchError as exc:
            log.warning("robots.txt of %s unreadable (%s): not fetching from it now", host, exc)
            return False
        if got.status in (401, 403):
            rp.disallow_all = True
        elif got.status >= 400:
            rp.allow_all = True
        else:
            rp.parse(got.body.decode("utf-8", "replace").splitlines())
        self._robots[host] = (time.monotonic(), rp)
        return rp.can_fetch(self.s.fetch_user_agent, url)

    # --- requests ---------------------------------------------------------------------
    def _request(self, url: str, headers: dict) -> Fetched:
        """One GET with retries; the body is read up to the size cap. Redirects are returned."""
        host = urlsplit(url).netloc
        tries = self.s.fetch_retries + 1
        for attempt in range(tries):
            self._wait_turn(host)
            try:
                with self._client.stream("GET", url, headers=headers) as resp:
                    if resp.status_code in RETRY_STATUS and attempt + 1 < tries:
                        reason = f"HTTP {resp.status_code}"
                    else:
                        return Fetched(str(resp.url), resp.status_code, self._read(resp, url),
                                       {k.lower(): v for k, v in resp.headers.items()})
            except httpx.TimeoutException:
                reason = f"no answer within {self.s.fetch_timeout:g} s"
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt + 1 == tries:
                raise FetchError(f"{url}: {reason} (tried {tries} times)")
            log.info("%s: %s; trying again", url, reason)
            time.sleep(min(0.5 * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    def _read(self, resp: httpx.Response, url: str) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.s.fetch_max_bytes:
            raise FetchError(f"{url}: {int(declared):,} bytes, over the limit of {self.s.fetch_max_bytes:,} "
                             "(SANAD_FETCH_MAX_BYTES)")
        body = bytearray()
        for part in resp.iter_bytes():
            body += part
            if len(body) > self.s.fetch_max_bytes:
                raise FetchError(f"{url}: over the limit of {self.s.fetch_max_bytes:,} bytes (SANAD_FETCH_MAX_BYTES)")
        return bytes(body)

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """GET ``url`` following redirects; 200 or 304 (with ``etag`` / ``last_modified``), else FetchError."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs can be fetched")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = [url]
        while True:
            if not self.allowed(url):
                raise FetchError(f"{url}: robots.txt does not allow fetching it")
            got = self._request(url, headers)
            if got.status in (301, 302, 303, 307, 308) and got.headers.get("location"):
                url = urljoin(url, got.headers["location"])
                if url in seen:
                    raise FetchError(f"{seen[0]}: redirect loop ({' -> '.join(seen + [url])})")
                if len(seen) > self.s.fetch_max_redirects:
                    raise FetchError(f"{seen[0]}: more than {self.s.fetch_max_redirects} redirects")
                seen.append(url)
                continue
            if got.status in (200, 304):
                return got
            raise FetchError(f"{url}: HTTP {got.status}")
