"""Long polling that confirms an update to Telegram only once it has been answered.

PTB's Updater confirms every batch (by the next getUpdates offset) as soon as it is queued, so a crash
loses whatever was fetched but not yet answered. Here the offset stays at the oldest update still being
handled, so after a ``kill -9`` Telegram delivers everything unanswered again. Three bounds:

- one getUpdates returns at most 100 updates past the offset, so at most 100 are in hand unconfirmed;
- when the bot is behind (``behind()``: a flood-limited backlog of sends) or an update has been in hand
  for ``hold`` seconds (a chat stuck in a long flood wait), the offset moves past it anyway, so the bot
  sees what came later: an emergency behind a backlog matters more than surviving a crash mid-flood;
- at most ``max_inflight`` updates are handled at once; beyond that Telegram keeps them.

Updates answered but not yet confirmed when the process dies come again; :class:`AnsweredLog` keeps
their ids (ids only, never text) so a restart skips them rather than answering twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, TelegramError

log = logging.getLogger(__name__)
LIMIT = 100  # getUpdates returns at most this many
POLL_SECONDS = 10  # long-polling timeout while nothing is in hand
HOLD_SECONDS = 3.0  # longest an unanswered update keeps the offset back (a stuck chat must not stall intake)
MAX_INFLIGHT = 4096  # updates handled at once
LOG_KEEP = 5000  # answered ids kept in the log before it is rewritten
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class AnsweredLog:
    """Ids of answered updates, appended to a small file that outlives the process (never any text).

    Only ids not yet confirmed to Telegram matter, so the file is rewritten short now and then. Any
    failure disables it: answering never depends on this file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.previous: set[int] = set()
        self._fd: int | None = None
        self._written = 0
        if path is None:
            return
        try:
            if path.exists():
                self.previous = {int(x) for x in path.read_text(encoding="ascii").split() if x.isdigit()}
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except (OSError, ValueError) as exc:
            log.warning("answered-updates log unavailable: %s", type(exc).__name__)

    def add(self, update_id: int, keep_from: Callable[[], int]) -> None:
        """Record one answered update; ids below ``keep_from()`` are confirmed and may be forgotten."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, b"%d\n" % update_id)  # no fsync: a killed process's writes survive
            self._written += 1
            if self._written >= LOG_KEEP:
                self._rewrite(keep_from())
        except OSError as exc:
            log.warning("answered-updates log disabled: %s", type(exc).__name__)
            self.close()

    def _rewrite(self, keep_from: int) -> None:
        assert self.path is not None and self._fd is not None
        kept = [int(x) for x in self.path.read_text(encoding="ascii").split() if x.isdigit()]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{i}\n" for i in kept if i >= keep_from), encoding="ascii")
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0

    def close(self) -> None:
        """Stop writing."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class Poller:
    """Fetch updates, hand each to ``handle``, and confirm each only once handled (see module doc)."""

    def __init__(
        self,
        bot: Any,
        handle: Callable[[Update], Awaitable[Any]],
        *,
        allowed_updates: Sequence[str],
        answered: AnsweredLog | None = None,
        behind: Callable[[], bool] = lambda: False,
        timeout: int = POLL_SECONDS,
        hold: float = HOLD_SECONDS,
        max_inflight: int = MAX_INFLIGHT,
    ) -> None:
        self.bot = bot
        self.handle = handle
        self.allowed_updates = list(allowed_updates)
        self.answered = answered or AnsweredLog(None)
        self.behind = behind
        self.timeout = timeout
        self.hold = hold
        self.max_inflight = max_inflight
        self._inflight: dict[int, float] = {}  # update id -> when it was fetched (monotonic)
        self._done: set[int] = set()  # answered, not yet confirmed
        self._next = 0  # one past the highest update id fetched
        self._progress = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def offset(self) -> int:
        """What to confirm up to: the oldest update still held, or everything fetched."""
        now = time.monotonic()
        behind = self.behind()
        held = [u for u, at in self._inflight.items() if not behind and now - at < self.hold]
        return min(held) if held else self._next

    async def run(self) -> None:
        """Poll until cancelled."""
        await self._call(lambda: self.bot.delete_webhook(drop_pending_updates=False))
        last_poll = 0.0
        while not self._stopping:
            offset = self.offset()
            self._done = {u for u in self._done if u >= offset}
            in_hand = self._next - offset
            busy = len(self._inflight) >= self.max_inflight
            # With updates in hand, getUpdates returns them again at once: poll again only once there
            # is room for new ones, or a moment has passed, rather than on every answer.
            if busy or (in_hand > 0 and in_hand >= LIMIT // 2 and time.monotonic() - last_poll < 0.25):
                await self._wait_progress(0.25)
                continue
            last_poll = time.monotonic()
            fetch = partial(
                self.bot.get_updates,
                offset=offset or None,
                limit=LIMIT,
                timeout=0 if in_hand > 0 else self.timeout,
                allowed_updates=self.allowed_updates,
            )
            updates = await self._call(fetch)
            fresh = 0
            for update in updates or ():
                uid = update.update_id
                self._next = max(self._next, uid + 1)
                if uid < offset or uid in self._inflight or uid in self._done:
                    continue
                if uid in self.answered.previous:
                    self._done.add(uid)  # answered before a crash, not yet confirmed: not again
                    continue
                fresh += 1
                self._start(update)
            if not fresh and in_hand > 0:
                await self._wait_progress(0.25)

    async def stop(self, task: asyncio.Task[None], grace: float = 5.0) -> None:
        """Stop polling, let updates in hand finish (for up to ``grace`` s), confirm what was answered."""
        # httpx can turn a cancellation in mid-request into a network error, so say it with a flag too.
        self._stopping = True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        offset = self.offset()
        if offset:
            try:
                await self.bot.get_updates(offset=offset, limit=1, timeout=0)
            except TelegramError as exc:
                log.warning("could not confirm the last updates: %s", type(exc).__name__)
        self.answered.close()

    def _start(self, update: Update) -> None:
        self._inflight[update.update_id] = time.monotonic()
        task = asyncio.create_task(self._handle(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, update: Update) -> None:
        uid = update.update_id
        try:
            await self.handle(update)
        except Exception as exc:  # PTB routes handler errors to the error handler; this is a last guard
            log.error("update %s not handled: %s", uid, type(exc).__name__)
        finally:
            self._inflight.pop(uid, None)
            self._done.add(uid)
            self.answered.add(uid, self.offset)
            self._progress.set()

    async def _wait_progress(self, timeout: float) -> None:
        self._progress.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout)

    async def _call(self, op: Callable[[], Awaitable[Any]]) -> Any:
        """A polling call, retried with backoff on network trouble and conflicts (not a bad token)."""
        for attempt in itertools.count():
            try:
                return await op()
            except InvalidToken:
                raise
            except TelegramError as exc:
                if self._stopping:
                    raise asyncio.CancelledError from None
                # Dropped connections and timeouts while long polling are expected now and then.
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                log.warning("polling: %s; retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
        return None
