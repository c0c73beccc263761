"""What the bot remembers between messages: a chat's last questions (for follow-ups), the
question each answer message answered (for its buttons), and each user's recent questions
(for the rate limit). It lives in the store (rag.store.StateStore: a second collection of
the same Chroma), not in the process, so any of several bot processes sharing one Chroma
server can take a chat's next message."""

from __future__ import annotations

import threading
import time

from rag.store import StateStore

ANSWERS_KEPT = 50  # answer messages per chat whose question the buttons can still find


class ChatState:
    def __init__(self, store: StateStore, turns: int, per_minute: int, window: float = 60.0):
        self.store = store
        self.turns = turns
        self.per_minute = per_minute
        self.window = window
        self._lock = threading.Lock()  # read-modify-write within this process

    # --- follow-ups ----------------------------------------------------------------------
    def history(self, chat_id: int) -> list[str]:
        """The chat's last questions (as rewritten for retrieval), oldest first."""
        return self.store.get([f"history:{chat_id}"]).get(f"history:{chat_id}", [])

    def remember(self, chat_id: int, question: str) -> None:
        if self.turns <= 0:
            return
        with self._lock:
            turns = (self.history(chat_id) + [question])[-self.turns :]
            self.store.put({f"history:{chat_id}": turns})

    def forget(self, chat_id: int) -> None:
        self.store.delete([f"history:{chat_id}"])

    # --- answer buttons --------------------------------------------------------------------
    def answered(self, chat_id: int, message_id: int, question: str) -> None:
        key = f"answers:{chat_id}"
        with self._lock:
            answers = self.store.get([key]).get(key, {})
            answers[str(message_id)] = question
            self.store.put({key: dict(list(answers.items())[-ANSWERS_KEPT:])})

    def question_of(self, chat_id: int, message_id: int) -> str | None:
        """The question an answer message answered, if it is still remembered."""
        key = f"answers:{chat_id}"
        return self.store.get([key]).get(key, {}).get(str(message_id))

    # --- rate limit ------------------------------------------------------------------------
    def allow(self, user_id: int) -> bool:
        """At most ``per_minute`` questions per user in any ``window`` seconds, counted over
        every process sharing the store (wall-clock times; two processes writing the same
        user's record at the same instant may each count one question fewer)."""
        key = f"rate:{user_id}"
        now = time.time()
        with self._lock:
            recent = [t for t in self.store.get([key]).get(key, []) if now - t < self.window]
            if len(recent) >= self.per_minute:
                return False
            self.store.put({key: recent + [now]})
            return True
