"""What the Telegram channel keeps in memory per chat: whose turn it is, and the ids of the bot's and the
person's messages it may still delete (ids and times only, never text; bounded however many write)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

DELETE_WINDOW = timedelta(hours=47)  # Telegram allows 48 h; an hour's margin for clocks and slow sends
RECENT_PER_CHAT = 500  # message ids remembered in memory per chat (the store keeps the rest)
CHATS_IN_MEMORY = 10_000  # chats whose ids are kept in memory, most recent first (the store keeps all)


class Chats:
    """Per-chat turns, deletable message ids and last activity, for every chat the bot talks to."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._lock_users: dict[int, int] = {}
        self.recent: dict[int, dict[int, float]] = {}  # chat -> message id -> unix time
        self.last_seen: dict[int, float] = {}  # chat -> unix time of its last message

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """This chat's turn: its updates are handled one at a time, in arrival order."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._lock_users[chat_id] = self._lock_users.get(chat_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[chat_id] -= 1
            if not self._lock_users[chat_id]:
                del self._lock_users[chat_id]
                del self._locks[chat_id]

    def note(self, chat_id: int, message_ids: Sequence[int], when: datetime) -> None:
        """Messages in the chat the bot may delete later, and the chat active now."""
        stamp = when.timestamp()
        # Re-inserted so that the dicts run least recently active first: memory stays bounded however
        # many people write, and a chat pushed out still has its ids in the store.
        recent = self.recent.pop(chat_id, {})
        self.recent[chat_id] = recent
        for mid in message_ids:
            recent[mid] = stamp
        while len(recent) > RECENT_PER_CHAT:
            del recent[next(iter(recent))]
        self.last_seen[chat_id] = max(self.last_seen.pop(chat_id, 0.0), time.time())
        for table in (self.recent, self.last_seen):
            while len(table) > CHATS_IN_MEMORY:
                del table[next(iter(table))]

    def take(self, chat_id: int) -> list[int]:
        """The chat's message ids still inside Telegram's delete window; the chat is forgotten."""
        oldest = time.time() - DELETE_WINDOW.total_seconds()
        ids = [mid for mid, stamp in self.recent.pop(chat_id, {}).items() if stamp > oldest]
        self.last_seen.pop(chat_id, None)
        return ids

    def drop_ids(self, chat_id: int) -> None:
        """Forget the chat's message ids (the person blocked the bot: nothing can be deleted now)."""
        self.recent.pop(chat_id, None)

    def quiet(self, cutoff: float) -> set[int]:
        """Chats with no message since ``cutoff`` (unix time)."""
        return {c for c, seen in self.last_seen.items() if seen < cutoff}

    def active_since(self, chat_id: int, cutoff: float) -> bool:
        """Whether the chat had a message at or after ``cutoff`` (unix time)."""
        seen = self.last_seen.get(chat_id)
        return seen is not None and seen >= cutoff

    def prune(self) -> None:
        """Drop ids and chats older than the delete window."""
        oldest = time.time() - DELETE_WINDOW.total_seconds()
        for chat_id in list(self.recent):
            kept = {m: s for m, s in self.recent[chat_id].items() if s > oldest}
            if kept:
                self.recent[chat_id] = kept
            else:
                del self.recent[chat_id]
        for chat_id in [c for c, seen in self.last_seen.items() if seen < oldest]:
            del self.last_seen[chat_id]
