"""What the bot does, kept out of the handlers: access rules, per-user rate limits,
conversation rewriting, and running the engine off the event loop. What it remembers
between messages is in the store (bot/state.py), not in the process."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.state import ChatState
from config import Settings
from rag import (
    SUPPORTED,
    Answer,
    Article,
    Chunk,
    Follower,
    IngestReport,
    PollReport,
    Sanad,
    StateStore,
)

log = logging.getLogger(__name__)


class BotService:
    def __init__(self, sanad: Sanad, settings: Settings | None = None):
        self.sanad = sanad
        self.settings = settings or sanad.settings
        store = StateStore(sanad.settings)
        self.state = ChatState(store, self.settings.bot_history_turns, self.settings.bot_user_rate_per_minute)
        self.follower = Follower(sanad, state=store)
        self.executor = ThreadPoolExecutor(max_workers=self.settings.bot_workers, thread_name_prefix="sanad")

    # --- rules ----------------------------------------------------------------------
    def allowed(self, user_id: int | None) -> bool:
        allow = self.settings.bot_allowed_users
        return not allow or (user_id is not None and (user_id in allow or user_id in self.settings.bot_admins))

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.bot_admins

    # --- work, off the event loop -----------------------------------------------------
    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def ask(self, question: str, history: list | None = None) -> Answer:
        """Answer ``question``, a follow-up of the chat's earlier turns (ChatState.begin) if it is one."""
        return await self.run(self.sanad.ask, question, history)

    def can_stream(self) -> bool:
        """Stream only with the LLM answerer (the extractive one answers in one go)."""
        return self.sanad.settings.answerer == "llm"

    async def ask_streaming(self, question: str, history: list | None, on_text) -> Answer:
        """Like ``ask``, calling ``await on_text(partial)`` as the model's text grows."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def produce():
            try:
                for item in self.sanad.ask_stream(question, history=history):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except BaseException as exc:  # handed to the event loop, raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        self.executor.submit(produce)
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Answer):
                return item
            await on_text(item)

    async def passages(self, answer: Answer) -> list[Chunk]:
        def load():
            seen, out = set(), []
            for c in answer.citations:
                if c.chunk_id not in seen:
                    seen.add(c.chunk_id)
                    chunk = self.sanad.passage(c.chunk_id)
                    if chunk is not None:
                        out.append(chunk)
            return out

        return await self.run(load)

    def upload_problem(self, file_name: str, size: int | None) -> tuple[str, dict] | None:
        """(phrase key, arguments) when an upload must be refused before downloading it."""
        if Path(file_name or "").suffix.lower() not in SUPPORTED:
            return "bad_type", {}
        if size is not None and size > self.settings.bot_max_upload_bytes:
            return "too_big", {"limit": self.settings.bot_max_upload_bytes}
        return None

    async def ingest_file(self, file_name: str, data: bytes) -> IngestReport:
        def work():
            with tempfile.TemporaryDirectory(prefix="sanad-upload-") as tmp:
                path = Path(tmp) / Path(file_name).name
                path.write_bytes(data)
                return self.sanad.ingest(path)

        return await self.run(work)

    async def ingest_text(self, doc_id: str, text: str, source: str) -> IngestReport:
        title = next((line.strip() for line in text.splitlines() if line.strip()), doc_id)[:300]
        article = Article(doc_id=doc_id, title=title, text=text, source=source)
        return await self.run(self.sanad.ingest_articles, [article])

    # --- feeds (admins) -------------------------------------------------------------------
    async def follow(self, url: str) -> PollReport | None:
        """Add a feed and poll it once; None when it was already followed."""
        if not await self.run(self.follower.follow, url):
            return None
        return await self.run(self.follower.poll, url.strip())

    async def unfollow(self, url: str) -> bool:
        return await self.run(self.follower.unfollow, url)

    async def feeds(self) -> list[dict]:
        return await self.run(self.follower.status)

    async def poll_feeds(self) -> list[PollReport]:
        """One poll of every followed feed (the bot's follow loop, bot/app.py)."""
        return await self.run(self.follower.poll_all, lambda line: log.warning("feed poll: %s", line))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.follower.fetcher.close()
