"""One turn at a time at the matcher for messages that do not escalate, so that danger is answered first.

Behind a backlog (a flood of messages after a bot restart, a burst), every update is checked for danger
as soon as it arrives, and the rest of the work (matching, rendering) waits here in arrival order. One
message is let through per turn of the event loop, so between two of them the loop reads the next
updates from Telegram and checks them too: an emergency that arrives behind a thousand questions is
answered once it has been read, not once the thousand have been matched.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Lane:
    """A first-come, first-served queue of waiters, let through one per event-loop turn."""

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    async def turn(self) -> None:
        """Wait until everything that came in before has had its turn."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._let_through())
        await waiter

    async def _let_through(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a waiter cancelled while queued is skipped
                waiter.set_result(None)
            # the waiter runs, and the loop reads sockets, before the next one is let through
            await asyncio.sleep(0)
