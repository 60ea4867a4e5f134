"""Store writes in one queue, one at a time and in order: no reply waits for them, a burst cannot pile
thousands of calls onto the database at once, and a write about a chat erased after it was queued
never puts that chat back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
STORE_SECONDS = 3.0  # longest a store call may take before it is abandoned
FORGET_SECONDS = 6.0  # an erase's forget retries a busy database (bot.store.FORGET_SECONDS) before giving up
BACKLOG = 20_000  # store writes waiting their turn; beyond this, counts are dropped rather than memory


async def ask_store(call: Awaitable[T], default: T, seconds: float | None = None) -> T:
    """Await a store call for at most a few seconds; any failure gives ``default``."""
    try:
        return await asyncio.wait_for(call, STORE_SECONDS if seconds is None else seconds)
    except Exception as exc:
        log.warning("storage call abandoned: %s", type(exc).__name__)
        return default


class StoreQueue:
    """The queue and its writer (``run``, one task)."""

    def __init__(self, backlog: int = BACKLOG) -> None:
        self._writes: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue(backlog)
        # An erase forgets at once, within its chat's turn, while writes about that chat queued before it
        # may still be waiting: they must not put its ids or day token back. Writes are numbered as they
        # are queued; a chat's entry here is the number its last erase saw.
        self._queued = 0
        self._erased_at: dict[int, int] = {}

    def put(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Queue a store write (never awaited on the reply path)."""
        try:
            self._writes.put_nowait(call)
        except asyncio.QueueFull:
            log.warning("storage backlog full: a count or message id was not kept")

    def put_for(
        self, chat_id: int, call: Callable[[], Awaitable[Any]], erased: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        """Queue a write about one chat; if the chat is erased before it runs, ``erased`` runs instead (or nothing)."""
        self._queued += 1
        number = self._queued

        def chosen() -> Awaitable[Any]:
            if self._erased_at.get(chat_id, 0) < number:
                return call()
            return erased() if erased is not None else asyncio.sleep(0)

        self.put(chosen)

    def erased(self, chat_id: int) -> None:
        """The chat is being erased now: writes about it queued so far must not run as they were."""
        self._erased_at[chat_id] = self._queued

    async def run(self) -> None:
        """The writer: every queued write in order, each bounded by STORE_SECONDS."""
        while True:
            await self.write_next()

    async def write_next(self) -> None:
        """Wait for the next write and run it."""
        call = await self._writes.get()
        try:
            await ask_store(call(), None)
        finally:
            self._writes.task_done()
        if self._writes.empty():
            self._erased_at.clear()  # nothing queued before any erase is left

    def __len__(self) -> int:
        return self._writes.qsize()

    async def drain(self, seconds: float) -> None:
        """Let the queued writes finish, for at most ``seconds``."""
        try:
            await asyncio.wait_for(self._writes.join(), seconds)
        except asyncio.TimeoutError:
            log.warning("shutdown: %d store writes abandoned", self._writes.qsize())
