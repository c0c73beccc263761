"""A small OpenAI-compatible chat-completions server on 127.0.0.1 with scripted replies
(plain or streamed as server-sent events), errors and delays; it records every request."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self):
        self.replies: list[dict] = []  # {"text": str} | {"status": int} | {"delay": float, "text": str}
        self.default = {"text": "NO_ANSWER"}
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def engine(self, sanad, **overrides):
        """A ``Sanad`` over ``sanad``'s index and model whose LLM answerer is this server."""
        from pydantic import SecretStr

        from rag import Sanad

        settings = sanad.settings.model_copy(update={
            "answerer": "llm", "llm_base_url": self.base_url, "llm_api_key": SecretStr("k"), "llm_max_retries": 0,
            **overrides})
        return Sanad(settings, embedder=sanad.embedder)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                plan = fake.replies.pop(0) if fake.replies else fake.default
                if plan.get("delay"):
                    time.sleep(plan["delay"])
                try:
                    if plan.get("status"):
                        return self._json(plan["status"], {"error": {"message": "server error", "type": "server_error"}})
                    text = plan["text"]
                    if body.get("stream"):
                        return self._stream(text, body.get("model", "m"))
                    self._json(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "m"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    })
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, text, model):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = text.split(" ")
                for i, w in enumerate(words):
                    delta = (w if i == 0 else " " + w)
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                end = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        return Handler
