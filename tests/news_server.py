"""A news site on 127.0.0.1 for the feed tests: RSS/Atom feeds (with ETags), Arabic article
pages, robots.txt, and the ways a site fails (404, 500, a page that never answers, a redirect
loop, a huge page, a page in windows-1256). Tests change ``routes`` while it runs and read
``hits`` (path -> request times) and ``requests`` (path, headers)."""

from __future__ import annotations

import hashlib
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def article_html(title: str, paragraphs: list[str], date: str = "", canonical: str = "",
                 charset: str = "utf-8") -> str:
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="ar" dir="rtl"><head><meta charset="{charset}"><title>{title}</title>'
            f"{meta}{link}</head><body><nav><a href='/'>الرئيسية</a> | <a href='/sport'>رياضة</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>جميع الحقوق محفوظة</footer></body></html>")


def rss(items: list[tuple[str, str, str]], title: str = "أخبار") -> str:
    """items: (link, title, RFC 822 date or "")."""
    out = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
           "<link>http://127.0.0.1/</link><description>feed</description>"]
    for link, item_title, date in items:
        pub = f"<pubDate>{date}</pubDate>" if date else ""
        out.append(f"<item><title>{item_title}</title><link>{link}</link>{pub}</item>")
    out.append("</channel></rss>")
    return "".join(out)


def atom(items: list[tuple[str, str, str]], title: str = "أخبار") -> str:
    """items: (link, title, ISO date)."""
    out = [f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
           "<id>urn:test</id><updated>2026-11-30T08:00:00Z</updated>"]
    for link, item_title, date in items:
        out.append(f'<entry><title>{item_title}</title><link href="{link}"/><id>{link}</id>'
                   f"<updated>{date}</updated></entry>")
    out.append("</feed>")
    return "".join(out)


def rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day).replace(hour=9, tzinfo=timezone.utc))


class NewsServer:
    def __init__(self):
        # path -> (status, headers, body) or a callable(path) returning one
        self.routes: dict[str, object] = {"/robots.txt": (200, {"Content-Type": "text/plain"},
                                                          b"User-agent: *\nDisallow: /private/\n")}
        self.hits: dict[str, list[float]] = {}
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "NewsServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- content ----------------------------------------------------------------------
    def page(self, path: str, html: str, charset: str = "utf-8", declare: bool = True) -> str:
        ctype = f"text/html; charset={charset}" if declare else "text/html"
        self.routes[path] = (200, {"Content-Type": ctype}, html.encode(charset))
        return self.url + path

    def feed(self, path: str, xml: str, kind: str = "rss") -> str:
        """A feed served with an ETag and Last-Modified, answering 304 to a matching conditional GET."""
        body = xml.encode("utf-8")
        tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        self.routes[path] = (200, {"Content-Type": f"application/{kind}+xml; charset=utf-8", "ETag": tag,
                                   "Last-Modified": format_datetime(datetime.now(timezone.utc), usegmt=True)}, body)
        return self.url + path

    def count(self, path: str) -> int:
        with self.lock:
            return len(self.hits.get(path, []))

    # --- HTTP -------------------------------------------------------------------------
    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urlsplit(self.path).path
                with site.lock:
                    site.hits.setdefault(path, []).append(time.monotonic())
                    site.requests.append((path, dict(self.headers)))
                route = site.routes.get(path)
                if callable(route):
                    route = route(path)
                if route is None:
                    route = (404, {"Content-Type": "text/plain"}, b"not found")
                status, headers, body = route
                if status == 200 and headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                    status, body = 304, b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
