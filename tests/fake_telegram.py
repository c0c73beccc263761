"""A small stand-in for Telegram's Bot API on 127.0.0.1: it serves getUpdates from a queue the
test fills, records every call the bot makes, and serves files for getFile downloads."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

BOT_ID = 7000001
BOT_USERNAME = "sanad_test_bot"
JSON_KEYS = {"reply_markup", "commands", "reply_parameters", "link_preview_options", "allowed_updates", "scope"}
INT_KEYS = {"chat_id", "message_id", "offset", "timeout", "limit", "reply_to_message_id"}


class FakeTelegram:
    def __init__(self, token: str):
        self.token = token
        self.calls: list[tuple[str, dict]] = []
        self.call_times: list[float] = []  # time.perf_counter() of each recorded call
        self.updates: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.fail_next: dict[str, list[tuple[int, dict]]] = {}  # method -> [(status, body)]
        self._ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self._cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- life cycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> "FakeTelegram":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what tests use ---------------------------------------------------------------
    def push(self, update: dict) -> int:
        with self._cond:
            uid = next(self._update_ids)
            self.updates.append({"update_id": uid, **update})
            self._cond.notify_all()
        return uid

    def message(self, text: str | None, user_id: int = 11, chat_id: int | None = None, chat_type: str = "private",
                language: str = "ar", **extra) -> int:
        chat_id = chat_id if chat_id is not None else user_id
        msg = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "group"} if chat_type != "private" else {})},
            "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": language},
            **({"text": text} if text is not None else {}),
            **extra,
        }
        self.push({"message": msg})
        return msg["message_id"]

    def calls_to(self, method: str, chat_id: int | None = None) -> list[dict]:
        with self._cond:
            return [p for m, p in self.calls if m == method and (chat_id is None or p.get("chat_id") == chat_id)]

    def wait_for(self, method: str, chat_id: int | None = None, count: int = 1, timeout: float = 60) -> list[dict]:
        deadline = time.time() + timeout
        with self._cond:
            while True:
                got = [p for m, p in self.calls if m == method and (chat_id is None or p.get("chat_id") == chat_id)]
                if len(got) >= count:
                    return got
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {count} x {method} (chat {chat_id}); calls: "
                                         f"{[m for m, _ in self.calls]}")
                self._cond.wait(min(left, 0.2))

    # --- the HTTP side ------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _reply(self, status: int, body: dict | bytes) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot stopped polling mid-request

            def _params(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype and raw:
                    return json.loads(raw)
                params = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                params.update({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
                for k, v in list(params.items()):
                    if k in JSON_KEYS:
                        params[k] = json.loads(v)
                    elif k in INT_KEYS and v.lstrip("-").isdigit():
                        params[k] = int(v)
                return params

            def do_GET(self):
                path = unquote(urlparse(self.path).path)
                prefix = f"/file/bot{fake.token}/"
                if path.startswith(prefix) and path[len(prefix):] in fake.files:
                    return self._reply(200, fake.files[path[len(prefix):]])
                if path.startswith("/bot"):
                    return self.do_POST()
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

            def do_POST(self):
                path = urlparse(self.path).path
                if not path.startswith(f"/bot{fake.token}/"):
                    return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = path.rsplit("/", 1)[1]
                params = self._params()
                if method != "getUpdates":
                    with fake._cond:
                        pending = fake.fail_next.get(method)
                        if pending:
                            status, body = pending.pop(0)
                            fake.calls.append((f"{method}!failed", params))
                            fake.call_times.append(time.perf_counter())
                            return self._reply(status, body)
                        fake.calls.append((method, params))
                        fake.call_times.append(time.perf_counter())
                        fake._cond.notify_all()
                self._reply(200, {"ok": True, "result": fake._result(method, params)})

        return Handler

    def _result(self, method: str, params: dict):
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Sanad", "username": BOT_USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            deadline = time.time() + min(float(params.get("timeout") or 0), 1.0)
            with self._cond:
                if offset:  # as Telegram does: updates below a confirmed offset are forgotten
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                while True:
                    ready = [u for u in self.updates if u["update_id"] >= offset]
                    if ready or time.time() >= deadline:
                        return ready
                    self._cond.wait(0.05)
        if method in ("sendMessage", "editMessageText"):
            chat_id = params.get("chat_id")
            return {
                "message_id": params.get("message_id") or next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if (chat_id or 0) > 0 else "group"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Sanad", "username": BOT_USERNAME},
                "text": params.get("text", ""),
            }
        if method == "getFile":
            file_id = params.get("file_id")
            name = f"documents/{file_id}"
            return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files.get(name, b"")),
                    "file_path": name}
        return True
