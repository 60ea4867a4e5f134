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
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.warnings import PTBUserWarning

log = logging.getLogger(__name__)
LIMIT = 100  # getUpdates returns at most this many
POLL_SECONDS = 10  # long-polling timeout while nothing is in hand
HOLD_SECONDS = 3.0  # longest an unanswered update keeps the offset back (a stuck chat must not stall intake)
MAX_INFLIGHT = 4096  # updates handled at once
LOG_KEEP = 5000  # answered ids kept in the log before it is rewritten
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


async def handle_guarded(handle: Callable[[Update], Awaitable[Any]], update: Update) -> None:
    """Hand ``update`` to ``handle``; anything it raises is logged by type and update id only."""
    try:
        await handle(update)
    except Exception as exc:  # PTB routes handler errors to the error handler; this is a last guard
        log.error("update %s not handled: %s", update.update_id, type(exc).__name__)


def read_update(data: Any, bot: Any) -> Update | None:
    """``data`` (one update's JSON) as an Update, or None when PTB cannot read it (logged by id only)."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # untrusted input meets PTB's parser: one bad update must not stop the rest
        uid = data.get("update_id") if isinstance(data, dict) else None
        log.warning("update %s skipped: it could not be read (%s)", uid, type(exc).__name__)
        return None


class AnsweredLog:
    """Which updates were answered, kept in a small file that outlives the process (never any text).

    Two kinds of line: ``<update id>`` once an update is answered, and ``r <update id> <chat id>`` when
    Telegram is told an update is done before it is answered (a flood backlog, a stuck chat). After a
    crash, the first kind stops updates being answered twice; the second names the chats whose message
    was confirmed but never answered, so they can be asked to send it again (:meth:`missed`). Only
    entries Telegram may still send again, or still unanswered, matter: the file is rewritten short now
    and then and on close. Any failure disables it: answering never depends on this file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.previous: set[int] = set()
        self._missed: dict[int, int] = {}  # the last run's update id -> chat id, confirmed, unanswered
        self._risked: dict[int, int] = {}  # this run's, likewise
        self._fd: int | None = None
        self._written = 0
        if path is None:
            return
        try:
            if path.exists():
                self.previous, self._missed = _parse(path.read_text(encoding="ascii"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except (OSError, ValueError) as exc:
            log.warning("answered-updates log unavailable: %s", type(exc).__name__)

    def missed(self) -> dict[int, int]:
        """Update id -> chat id of the last run's updates confirmed to Telegram but never answered."""
        return dict(self._missed)

    def add(self, update_id: int, keep_from: Callable[[], int]) -> None:
        """Record one answered update; ids below ``keep_from()`` are confirmed and may be forgotten."""
        self._risked.pop(update_id, None)
        self._missed.pop(update_id, None)
        self._append(b"%d\n" % update_id, keep_from)

    def risk(self, update_id: int, chat_id: int | None, keep_from: Callable[[], int]) -> None:
        """Record that Telegram is told ``update_id`` is done before it has been answered."""
        if chat_id is None or update_id in self._risked:
            return
        self._risked[update_id] = chat_id
        self._append(b"r %d %d\n" % (update_id, chat_id), keep_from)

    def _append(self, line: bytes, keep_from: Callable[[], int]) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, line)  # no fsync: a killed process's writes survive
            self._written += 1
            if self._written >= LOG_KEEP:
                self._rewrite(keep_from())
        except OSError as exc:
            log.warning("answered-updates log disabled: %s", type(exc).__name__)
            self.close(rewrite=False)

    def _rewrite(self, keep_from: int) -> None:
        assert self.path is not None and self._fd is not None
        answered, _ = _parse(self.path.read_text(encoding="ascii"))
        kept = [f"{i}\n" for i in sorted(answered) if i >= keep_from]
        kept += [f"r {u} {c}\n" for u, c in {**self._missed, **self._risked}.items()]
        tmp = self.path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # a leftover would keep its own permissions
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds chat ids: owner only
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write("".join(kept))
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0

    def close(self, keep_from: int | None = None, *, rewrite: bool = True) -> None:
        """Stop writing; with ``keep_from``, first drop what no longer matters (chat ids included)."""
        if self._fd is None:
            return
        if rewrite and keep_from is not None:
            try:
                self._rewrite(keep_from)
            except OSError as exc:
                log.warning("answered-updates log not tidied: %s", type(exc).__name__)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _parse(text: str) -> tuple[set[int], dict[int, int]]:
    """(answered ids, unanswered update id -> chat id) from the log's lines; damaged lines are skipped."""
    answered: set[int] = set()
    risked: dict[int, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 1 and parts[0].isdigit():
            answered.add(int(parts[0]))
        elif len(parts) == 3 and parts[0] == "r" and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            risked[int(parts[1])] = int(parts[2])
    return answered, {u: c for u, c in risked.items() if u not in answered}


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
