"""What the bot remembers between messages: a chat's last turns (question as searched,
answer, the articles it rests on: rag.followup.Turn, for follow-ups), the question each
answer message answered (for its buttons), and each user's recent questions (for the rate
limit). It lives in the store (rag.state.StateStore: a second collection of the same Chroma),
not in the process, so any of several bot processes sharing one Chroma server can take a
chat's next message. A question costs two reads and two writes (a rewritten follow-up one
more of each)."""

from __future__ import annotations

import threading
import time

from rag import StateStore
from rag.followup import Turn

ANSWERS_KEPT = 50  # answer messages per chat whose question the buttons can still find


class ChatState:
    def __init__(self, store: StateStore, turns: int, per_minute: int, window: float = 60.0):
        self.store = store
        self.turns = turns
        self.per_minute = per_minute
        self.window = window
        self._lock = threading.Lock()  # read-modify-write within this process

    def begin(self, chat_id: int, user_id: int) -> list[Turn] | None:
        """Start answering a question: count it against the user's limit (``per_minute`` in
        any ``window`` seconds, over every process sharing the store) and return the chat's
        last turns (the history ``Sanad.ask`` reads a follow-up with); None when over the limit."""
        rate, turns = f"rate:{user_id}", f"history:{chat_id}"
        now = time.time()
        with self._lock:
            got = self.store.get([rate, turns])
            recent = [t for t in got.get(rate, []) if now - t < self.window]
            if len(recent) >= self.per_minute:
                return None
            self.store.put({rate: recent + [now]})
        return [Turn.of(t) for t in got.get(turns, [])]

    def remember(self, chat_id: int, turn: Turn) -> None:
        """Keep an answered turn as the chat's newest (before the answer is sent, so a /reset
        sent on seeing the answer comes after it)."""
        if self.turns <= 0 or not any(c.isalnum() for c in turn.question):
            return
        key = f"history:{chat_id}"
        with self._lock:
            history = self.store.get([key]).get(key, [])
            self.store.put({key: (history + [turn.to_dict()])[-self.turns :]})

    def answered(self, chat_id: int, message_id: int, question: str) -> None:
        """The answer message ``message_id`` answered ``question`` (for its buttons; only
        needed when the question was rewritten, else the message the answer replies to has it)."""
        key = f"answers:{chat_id}"
        with self._lock:
            answers = self.store.get([key]).get(key, {})
            answers[str(message_id)] = question
            self.store.put({key: dict(list(answers.items())[-ANSWERS_KEPT:])})

    def question_of(self, chat_id: int, message_id: int) -> str | None:
        """The question an answer message answered, if it is still remembered."""
        key = f"answers:{chat_id}"
        return self.store.get([key]).get(key, {}).get(str(message_id))

    def forget(self, chat_id: int) -> None:
        """/reset: follow-ups start afresh."""
        self.store.delete([f"history:{chat_id}"])
