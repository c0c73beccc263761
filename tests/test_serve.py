"""The HTTP API (serve/app.py) through a real uvicorn on 127.0.0.1: the same answers as
`sanad ask --json`, follow-ups, admin calls refused without the token, 4xx for bad input,
concurrent questions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

QUESTIONS = ["من هو وزير الداخلية الروسي؟", "من دشن خط السكة الحديد السريع؟", "من فاز بكأس العالم لكرة القدم؟"]
ADMIN = "admin-secret-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(sanad, **overrides):
    import uvicorn

    from config import load_settings
    from serve.app import build_app

    settings = load_settings(home=sanad.settings.home, cache_dir=str(sanad.settings.cache_path), **overrides)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(sanad, settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture()
def api(make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    return sanad


def test_ask_answers_as_the_cli_does(seeded, cache_dir):
    env = {**os.environ, "SANAD_HOME": str(seeded.settings.home), "SANAD_CACHE_DIR": str(cache_dir),
           "HF_HUB_OFFLINE": "1", "SANAD_CORPUS": ""}
    with serving(seeded) as url:
        for q in QUESTIONS:
            got = httpx.post(f"{url}/ask", json={"question": q}, timeout=120)
            assert got.status_code == 200, got.text
            body = got.json()
            cli = json.loads(subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--json", q], env=env,
                                            capture_output=True, text=True, timeout=300).stdout)
            turn = body.pop("turn")
            assert abs(body.pop("confidence") - cli.pop("confidence")) < 0.01  # the thread count's float noise
            assert body == cli
            assert turn["question"] == q
        then = httpx.post(f"{url}/ask", json={"question": "ومتى؟", "history": [
            httpx.post(f"{url}/ask", json={"question": QUESTIONS[1]}, timeout=120).json()["turn"]]}, timeout=120)
        assert "الخميس" in then.json()["answer"]


def test_bad_input_is_a_4xx_with_a_message(seeded):
    with serving(seeded) as url:
        empty = httpx.post(f"{url}/ask", json={"question": "   "}, timeout=60)
        assert empty.status_code == 422 and "empty" in empty.json()["error"]
        missing = httpx.post(f"{url}/ask", json={}, timeout=60)
        assert missing.status_code == 422 and "question" in missing.json()["error"]
        broken = httpx.post(f"{url}/ask", content=b"{not json", headers={"content-type": "application/json"}, timeout=60)
        assert broken.status_code == 422
        assert httpx.get(f"{url}/articles/no-such-id", timeout=60).status_code == 404
        assert httpx.get(f"{url}/search", params={"q": "وزير", "k": 0}, timeout=60).status_code == 422
        big = httpx.post(f"{url}/ask", content=b"x" * 6_000_000, headers={"content-type": "application/json"},
                         timeout=60)
        assert big.status_code == 413
        assert httpx.get(f"{url}/healthz", timeout=60).json() == {"ok": True}
        schema = httpx.get(f"{url}/openapi.json", timeout=60).json()
        assert {"/ask", "/search", "/articles", "/articles/{doc_id}", "/stats"} <= set(schema["paths"])
        docs = httpx.get(f"{url}/docs", timeout=60)
        assert docs.status_code == 200 and "POST /ask" in docs.text and "cdn" not in docs.text.lower()


def test_admin_calls_need_the_token_and_change_nothing_without_it(api):
    before = {d["doc_id"] for d in api.sources()}
    line = json.dumps({"id": "api-1", "title": "خبر", "text": "افتتحت البلدية حديقة جديدة في الحي الشمالي."},
                      ensure_ascii=False)
    with serving(api) as url:  # no SANAD_ADMIN_TOKEN: admin calls are off
        assert httpx.post(f"{url}/articles", content=line.encode(), timeout=60).status_code == 403
    with serving(api, admin_token=ADMIN) as url:
        assert httpx.post(f"{url}/articles", content=line.encode(), timeout=60).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert httpx.delete(f"{url}/articles/{sorted(before)[0]}", headers=wrong, timeout=60).status_code == 401
        assert {d["doc_id"] for d in api.sources()} == before  # nothing changed
        auth = {"authorization": f"Bearer {ADMIN}"}
        added = httpx.post(f"{url}/articles", content=line.encode(), headers=auth, timeout=120)
        assert added.status_code == 200 and added.json()["added"] == ["api-1"]
        got = httpx.get(f"{url}/articles/api-1", timeout=60).json()
        assert got["text"].startswith("افتتحت البلدية") and got["copies"] == []
        listed = httpx.get(f"{url}/articles", params={"limit": 2}, timeout=60).json()
        assert listed["total"] == len(before) + 1 and len(listed["articles"]) == 2
        bad = httpx.post(f"{url}/articles", content=b'{"id": "x"}\n', headers=auth, timeout=60)
        assert bad.status_code == 422 and "line 1: record has no 'text'" in bad.json()["error"]
        feed = "http://127.0.0.1:9/feed.xml"
        assert httpx.post(f"{url}/feeds", json={"url": feed}, timeout=60).status_code == 401
        assert httpx.post(f"{url}/feeds", json={"url": "not a url"}, headers=auth, timeout=60).status_code == 422
        assert httpx.post(f"{url}/feeds", json={"url": feed}, headers=auth, timeout=60).json()["added"] is True
        assert [f["url"] for f in httpx.get(f"{url}/feeds", timeout=60).json()] == [feed]
        assert httpx.delete(f"{url}/feeds", params={"url": feed}, headers=auth, timeout=60).status_code == 200
        assert httpx.delete(f"{url}/feeds", params={"url": feed}, headers=auth, timeout=60).status_code == 404
        gone = httpx.delete(f"{url}/articles/api-1", headers=auth, timeout=60)
        assert gone.status_code == 200 and gone.json()["removed"] == "api-1"
    assert {d["doc_id"] for d in api.sources()} == before


def test_an_api_token_guards_every_call_but_healthz(seeded):
    with serving(seeded, api_token="api-secret-9") as url:
        assert httpx.get(f"{url}/stats", timeout=60).status_code == 401
        assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
        ok = httpx.get(f"{url}/stats", headers={"authorization": "Bearer api-secret-9"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["articles"] == 6


def test_concurrent_questions_are_all_answered_and_the_rate_limit_holds(seeded):
    with serving(seeded, serve_rate_per_minute=20) as url:
        def ask(i):
            return httpx.post(f"{url}/ask", json={"question": QUESTIONS[i % 2]}, timeout=300)

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(ask, range(24)))
    codes = [r.status_code for r in replies]
    assert codes.count(200) == 20 and codes.count(429) == 4
    assert all("كولوكولتسيف" in r.json()["answer"] or "الفارسي" in r.json()["answer"] for r in replies
               if r.status_code == 200)


def sse(text: str) -> list[tuple[str, object]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_ask_stream_sends_the_text_as_it_grows_then_the_answer(seeded):
    from fake_openai import FakeOpenAI

    with serving(seeded) as url:  # the extractive answerer: the final object only
        events = sse(httpx.post(f"{url}/ask/stream", json={"question": QUESTIONS[0]}, timeout=120).text)
    assert [e for e, _ in events] == ["answer"] and "كولوكولتسيف" in events[0][1]["answer"]
    llm = FakeOpenAI()
    llm.default = {"text": "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف كما تقول المصادر [1]."}
    sanad = llm.engine(seeded)
    try:
        with serving(sanad) as url:
            reply = httpx.post(f"{url}/ask/stream", json={"question": QUESTIONS[0]}, timeout=120)
    finally:
        llm.stop()
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = sse(reply.text)
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and kinds.count("text") >= 2 and set(kinds[:-1]) == {"text"}
    assert "كولوكولتسيف" in events[-2][1] and "كولوكولتسيف" in events[-1][1]["answer"]
