"""Logging set-up shared by every entry point: secrets never reach a log line."""

from __future__ import annotations

import logging
import sys

NOISY = ("httpx", "httpcore", "chromadb", "sentence_transformers", "transformers", "urllib3", "bm25s", "telegram.ext.ExtBot")


class RedactSecrets(logging.Filter):
    """Replaces every configured secret in a record's final message with '[REDACTED]'."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        msg = record.getMessage()
        text = msg
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc = record.exc_text or ""
        for s in self.secrets:
            text = text.replace(s, "[REDACTED]")
            exc = exc.replace(s, "[REDACTED]")
        if text != msg:
            record.msg, record.args = text, None
        record.exc_text = exc or None
        return True


def secrets_of(settings) -> list[str]:
    out = []
    for name in ("telegram_token", "chroma_token", "webhook_secret", "llm_api_key", "api_token", "admin_token"):
        value = getattr(settings, name, None)
        if value is not None:
            out.append(value.get_secret_value())
    return out


def setup_logging(level: int | str, secrets: list[str]) -> None:
    """Log to stderr at ``level``; quiet chatty libraries; redact secrets on every handler."""
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    redact = RedactSecrets(secrets)
    for handler in root.handlers:
        for f in list(handler.filters):
            if isinstance(f, RedactSecrets):
                handler.removeFilter(f)
        handler.addFilter(redact)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
