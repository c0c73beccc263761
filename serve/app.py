"""The HTTP API: one FastAPI application built in one place, thin over ``rag.Sanad``.

``POST /ask`` returns exactly ``sanad ask --json``'s object (with ``history`` for follow-ups),
``POST /ask/stream`` the same as Server-Sent Events (the LLM answerer's text as it grows first);
``GET /search``, ``GET /articles`` (paged, filtered), ``GET /articles/{id}``, ``GET /stats``,
``GET /healthz``, ``GET /feeds``; admin calls (``POST /articles`` with JSONL, ``DELETE /articles/{id}``,
``POST /feeds``, ``DELETE /feeds?url=``) need
``Authorization: Bearer $SANAD_ADMIN_TOKEN``; every call needs ``$SANAD_API_TOKEN`` when it is
set. Errors are JSON (``{"error": ...}``) with the CLI's messages: bad input is a 4xx, never a
500. Questions run in a thread pool off the event loop, with a per-address rate limit. The
OpenAPI schema is at ``/openapi.json``, its reference at ``/docs`` (served here: FastAPI's own page
would load its script from a CDN). The web
page (``/``, ``/archive``: serve/page.py) asks through the same API."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from config import Settings
from rag import Follower, QuestionError, Sanad, StoreError
from rag.loaders import LoadError, Problem, decode, load_records
from serve.page import archive_page, ask_page, docs_page

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
UPLOAD = Path("upload.jsonl")  # what errors about an uploaded body name


class AskBody(BaseModel):
    question: str = Field(description="the question, in any variety of Arabic or in English")
    history: list[str | dict] = Field(default_factory=list, description="earlier turns, oldest first: questions, "
                                      "or {question, answer, doc_ids} objects as returned in `turn`")


class FeedBody(BaseModel):
    url: str = Field(description="an RSS or Atom feed URL")


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class RateLimit:
    """At most ``per_minute`` questions per client address in any 60 s (this process)."""

    def __init__(self, per_minute: int):
        self.per_minute, self.seen, self.lock = per_minute, {}, threading.Lock()

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.seen.get(who, []) if now - t < 60]
            if len(recent) >= self.per_minute:
                self.seen[who] = recent
                return False
            self.seen[who] = recent + [now]
            return True


def _token_ok(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def build_app(sanad: Sanad, settings: Settings | None = None) -> FastAPI:
    s = settings or sanad.settings
    app = FastAPI(title="Sanad", description="Answers Arabic questions from news articles, citing the passages.",
                  docs_url=None, redoc_url=None)
    pool = ThreadPoolExecutor(s.serve_workers, thread_name_prefix="sanad-serve")
    limit = RateLimit(s.serve_rate_per_minute)
    api_token, admin_token = s.api_token.get_secret_value(), s.admin_token.get_secret_value()

    async def work(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def throttle(request: Request) -> None:
        if not limit.allow(request.client.host if request.client else "-"):
            raise HTTPError(429, f"more than {s.serve_rate_per_minute} questions a minute from this address")

    def admin(request: Request) -> None:
        if not admin_token:
            raise HTTPError(403, "admin calls are off: set SANAD_ADMIN_TOKEN where sanad serve runs")
        if not _token_ok(request, admin_token):
            raise HTTPError(401, "this call needs Authorization: Bearer <SANAD_ADMIN_TOKEN>")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_token and request.url.path != "/healthz" and not (
                _token_ok(request, api_token) or (admin_token and _token_ok(request, admin_token))):
            return JSONResponse({"error": "this server needs Authorization: Bearer <SANAD_API_TOKEN>"}, 401)
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > s.serve_max_body_bytes:
            return JSONResponse({"error": f"the body is over {s.serve_max_body_bytes} bytes"}, 413)
        return await call_next(request)

    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError):
        return JSONResponse({"error": exc.message}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse({"error": f"bad request: {where or 'body'}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError):
        return JSONResponse({"error": str(exc)}, 422)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError):
        return JSONResponse({"error": str(exc)}, 503)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return ask_page()

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs():
        return docs_page(app.openapi())

    @app.get("/archive", response_class=HTMLResponse, include_in_schema=False)
    async def archive(offset: int = 0, q: str = ""):
        docs = await work(sanad.sources)
        if q:
            docs = [d for d in docs if q in d["title"]]
        offset = max(0, offset)
        return archive_page(docs[offset : offset + 50], len(docs), offset, 50, q)

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    @app.post("/ask")
    async def ask(body: AskBody, request: Request):
        """The answer with its citations: exactly `sanad ask --json`'s object, plus `turn` for the next follow-up."""
        throttle(request)
        answer = await work(sanad.ask, body.question, body.history)
        return {**answer.to_dict(), "turn": answer.turn.to_dict()}

    @app.post("/ask/stream")
    async def ask_stream(body: AskBody, request: Request):
        """Server-Sent Events: `text` events with the answer as it grows (the LLM answerer), then one
        `answer` event with the final object (the extractive answerer sends that one only)."""
        throttle(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def produce():
            try:
                for item in sanad.ask_stream(body.question, history=body.history):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except Exception as exc:  # handed to the event stream as an error event
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        pool.submit(produce)

        async def events():
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    yield f"event: error\ndata: {json.dumps({'error': str(item)}, ensure_ascii=False)}\n\n"
                    return
                if isinstance(item, str):
                    yield f"event: text\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
                    continue
                final = {**item.to_dict(), "turn": item.turn.to_dict()}
                yield f"event: answer\ndata: {json.dumps(final, ensure_ascii=False)}\n\n"
                return

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/search")
    async def search(q: str, k: int = 5):
        if not 1 <= k <= 50:
            raise HTTPError(422, "k must be between 1 and 50")
        return [h.to_dict() for h in await work(sanad.search, q, k)]

    @app.get("/articles")
    async def articles(offset: int = 0, limit_: int = Query(50, alias="limit"), source: str = "", q: str = ""):
        if offset < 0 or not 1 <= limit_ <= 500:
            raise HTTPError(422, "offset must be >= 0 and limit between 1 and 500")
        docs = await work(sanad.sources)
        if source:
            docs = [d for d in docs if source in d["source"]]
        if q:
            docs = [d for d in docs if q in d["title"]]
        return {"total": len(docs), "offset": offset, "articles": docs[offset : offset + limit_]}

    @app.get("/articles/{doc_id}")
    async def article(doc_id: str):
        got = (await work(sanad.articles.get, [doc_id])).get(doc_id)
        if got is None:
            raise HTTPError(404, f"no article with id {doc_id!r}")
        copies = await work(sanad.copies_of, doc_id)
        return {**got.to_dict(), "copies": copies}

    @app.delete("/articles/{doc_id}")
    async def delete_article(doc_id: str, request: Request):
        admin(request)
        if not (await work(sanad.articles.have, [doc_id])):
            raise HTTPError(404, f"no article with id {doc_id!r}")
        chunks = await work(sanad.remove, doc_id)
        return {"removed": doc_id, "chunks": chunks}

    @app.post("/articles")
    async def add_articles(request: Request):
        """Articles as JSONL (one `{"id", "title", "text", "date"?, "url"?, "source"?}` a line), admin only."""
        admin(request)
        try:  # read as `sanad ingest` reads a .jsonl file (rag/loaders.py)
            items = list(load_records(UPLOAD, decode(await request.body(), UPLOAD.name)))
        except LoadError as exc:
            raise HTTPError(422, f"bad JSONL: {exc}") from None
        problems = [str(p) for p in items if isinstance(p, Problem)]
        if problems:
            raise HTTPError(422, "bad JSONL: " + "; ".join(problems[:5]))
        found = [a for a in items if not isinstance(a, Problem)]
        if not found:
            raise HTTPError(422, "no articles in the body (JSONL, one article a line)")
        report = await work(sanad.ingest_articles, found)
        return {"summary": report.summary(), "added": report.added, "replaced": report.replaced,
                "unchanged": report.unchanged, "copies": report.copies, "errors": report.errors}

    @app.get("/feeds")
    async def feeds():
        """The followed feeds with their last poll."""
        return await work(lambda: Follower(sanad).status())

    @app.post("/feeds")
    async def follow(body: FeedBody, request: Request):
        """Follow a feed (admin); the running `sanad follow` or bot polls it."""
        admin(request)
        try:
            added = await work(lambda: Follower(sanad).follow(body.url))
        except ValueError as exc:
            raise HTTPError(422, str(exc)) from None
        return {"url": body.url, "following": True, "added": added}

    @app.delete("/feeds")
    async def unfollow(url: str, request: Request):
        admin(request)
        if not await work(lambda: Follower(sanad).unfollow(url)):
            raise HTTPError(404, f"not following {url}")
        return {"url": url, "following": False}

    @app.get("/stats")
    async def stats():
        return await work(sanad.stats)

    app.state.pool = pool
    return app


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    sanad = Sanad(settings)
    sanad.ensure_ready()
    host, port = host or settings.serve_host, port or settings.serve_port
    log.warning("serving Sanad on http://%s:%s (OpenAPI at /openapi.json)", host, port)
    uvicorn.run(build_app(sanad, settings), host=host, port=port, log_level="warning")
