"""Long polling that confirms an update to Telegram only once it has been answered.

PTB's Updater confirms every batch (by the next getUpdates offset) as soon as it is queued, so a crash
loses whatever was fetched but not yet answered. Here the offset stays at the oldest update still being
handled, so after a ``kill -9`` Telegram delivers everything unanswered again. Three bounds:

- one getUpdates returns at most 100 updates past the offset, so at most 100 are in hand unconfirmed;
- when the bot is behind (``behind()``: a flood-limited backlog of sends) or an update has been in hand
  for ``hold`` seconds (a chat stuck in a long flood wait), the offset moves past it anyway, so the bot
  sees what came later: an emergency behind a backlog matters more than surviving a crash mid-flood;
- at most ``max_inflight`` updates are handled at once; beyond that Telegram keeps them.

Updates answered but not yet confirmed when the process dies come again; the AnsweredLog
(delivery_log.py) keeps
their ids (ids only, never text) so a restart skips them rather than answering twice. Updates confirmed
before they were answered (the second bound) and then cut off by a crash cannot come again: the log
keeps their chat ids, and after a restart ``on_missed`` asks those people to send their message again.

PTB parses a batch all or nothing, so one update it cannot read would stop polling, on every restart too:
such a batch is fetched again raw and read update by update, and an unreadable one is confirmed and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.warnings import PTBUserWarning

from bot.channels.telegram.delivery_log import AnsweredLog
from bot.channels.telegram.updates import HOLD_SECONDS, handle_guarded, read_update

log = logging.getLogger(__name__)
LIMIT = 100  # getUpdates returns at most this many
POLL_SECONDS = 10  # long-polling timeout while nothing is in hand
MAX_INFLIGHT = 4096  # updates handled at once
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


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
        on_missed: Callable[[list[int]], Awaitable[Any]] | None = None,
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
        self._chats: dict[int, int | None] = {}  # update id -> its chat, while in hand
        self.on_missed = on_missed
        self._missed: dict[int, int] | None = self.answered.missed()  # checked at the first fetch
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
            self._note_unanswered(offset)
            in_hand = self._next - offset
            busy = len(self._inflight) >= self.max_inflight
            # With updates in hand, getUpdates returns them again at once: poll again only once there
            # is room for new ones, or a moment has passed, rather than on every answer.
            if busy or (in_hand > 0 and in_hand >= LIMIT // 2 and time.monotonic() - last_poll < 0.25):
                await self._wait_progress(0.25)
                continue
            last_poll = time.monotonic()
            updates = await self._fetch(offset, 0 if in_hand > 0 else self.timeout)
            if self._missed is not None and updates is not None:
                self._recover(self._missed, updates)
                self._missed = None
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
        self._note_unanswered(offset)  # still in hand after the grace period: cut off by this stop
        confirmed = None
        if offset:
            try:
                await self._raw_updates(offset=offset, limit=1, timeout=0)
                confirmed = offset
            except TelegramError as exc:
                log.warning("could not confirm the last updates: %s", type(exc).__name__)
        self.answered.close(confirmed)

    async def _fetch(self, offset: int, timeout: int) -> Sequence[Update]:
        """The next batch; one that PTB cannot parse whole is fetched again raw and read update by update."""
        params: dict[str, Any] = {
            "offset": offset or None,
            "limit": LIMIT,
            "timeout": timeout,
            "allowed_updates": self.allowed_updates,
        }
        try:
            return await self._call(partial(self.bot.get_updates, **params))
        except InvalidToken:
            raise
        except Exception:  # PTB's parser failed on an update: find it, skip it, serve the rest of the batch
            raw = await self._call(partial(self._raw_updates, **{**params, "timeout": 0}))
        readable = []
        for data in raw:
            update = read_update(data, self.bot)
            if update is not None:
                readable.append(update)
            elif isinstance(data, dict) and type(data.get("update_id")) is int:
                # Confirmed with the next offset like an answered one: Telegram would only resend it.
                self._next = max(self._next, data["update_id"] + 1)
                self._done.add(data["update_id"])
        return readable

    async def _raw_updates(self, **params: Any) -> list[Any]:
        """getUpdates without PTB parsing the answer (each update's JSON as Telegram sent it)."""
        with warnings.catch_warnings():
            # Only the generic call returns the JSON unparsed; PTB warns that get_updates exists.
            warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning)
            result = await self.bot.do_api_request("getUpdates", api_kwargs=params)
        return result if isinstance(result, list) else []

    def _note_unanswered(self, offset: int) -> None:
        """Updates in hand below ``offset`` are about to be confirmed unanswered: keep their chats."""
        for uid in [u for u in self._inflight if u < offset]:
            self.answered.risk(uid, self._chats.get(uid), self.offset)

    def _recover(self, missed: dict[int, int], updates: Sequence[Update]) -> None:
        """After a crash: people whose update was confirmed but never answered are asked to resend it.

        Telegram sends again everything not confirmed, oldest first; so a missed update older than the
        first one it sends now (or any, if it sends none) was confirmed and is gone.
        """
        first = min((u.update_id for u in updates), default=None)
        gone = {u: c for u, c in missed.items() if first is None or u < first}
        if gone and self.on_missed is not None:
            task = asyncio.create_task(self._ask_again(gone))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _ask_again(self, gone: dict[int, int]) -> None:
        assert self.on_missed is not None
        try:
            await self.on_missed(sorted(set(gone.values())))
        except Exception as exc:  # a last guard: polling must go on
            log.error("could not ask people to resend: %s", type(exc).__name__)
            return
        for uid in gone:
            self.answered.add(uid, self.offset)

    def _start(self, update: Update) -> None:
        self._inflight[update.update_id] = time.monotonic()
        self._chats[update.update_id] = update.effective_chat.id if update.effective_chat else None
        task = asyncio.create_task(self._handle(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, update: Update) -> None:
        uid = update.update_id
        try:
            await handle_guarded(self.handle, update)
        finally:
            self._inflight.pop(uid, None)
            self._chats.pop(uid, None)
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
