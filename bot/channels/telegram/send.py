"""Sending to Telegram: split long answers, build keyboards, retry what can be retried.

Every failure mode has one answer here, so handlers stay readable: flood control (429) waits the
``retry_after`` Telegram asks for and retries this chat's message only; 5xx and network errors retry a
few times with backoff; an HTML parse error falls back to plain text rather than sending nothing; a
blocked or vanished chat raises :class:`ChatGone` so the caller stops sending to it. Logs carry
exception types only, never text.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache, partial
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from bot.htmltext import TELEGRAM_LIMIT, escape, split_html, tg_len, to_plain
from bot.turns import Reply, ReplyButton

log = logging.getLogger(__name__)

T = TypeVar("T")
CALLBACK_DATA_MAX = 64  # bytes
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


URGENT = -1  # rate_limit_args of an escalation reply: first through the gate (PTB drops a falsy value)
NORMAL = 0
PACED = frozenset({"sendMessage", "sendPhoto", "editMessageText"})  # what Telegram's flood limits count


class _Turns:
    """Waiters served lowest priority first, then in arrival order."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def join(self, priority: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (priority, next(self._seq), fut))
        return fut

    def wake(self) -> bool:
        """Wake the first waiter still waiting; False if there was none."""
        while self._heap:
            fut = heapq.heappop(self._heap)[2]
            if not fut.done():
                fut.set_result(None)
                return True
        return False


class SendGate(BaseRateLimiter[int]):
    """Every Bot API request but getUpdates passes here: escalations first, a cap in flight, a pace.

    At most ``limit`` requests are in flight at once: bursts do not pile hundreds of requests on httpx's
    pool, where bookkeeping grows with the number waiting (measured on 200 chats x 5 messages: about half
    the CPU per message at 64 than at 256; 64 beat 32 and 128). With ``per_second`` set, sends (what
    Telegram's ~30 messages a second limit counts) are also spaced out, so a backlog drains at the rate
    Telegram accepts instead of collecting 429s. Waiters are served by priority: a reply sent with
    ``rate_limit_args=URGENT`` (an escalation) overtakes every ordinary reply still waiting, so the
    emergency answer is not stuck behind a backlog. A 429 in one chat holds nothing here (that wait
    happens in :func:`with_retries`, outside the gate).
    """

    def __init__(self, limit: int = 64, per_second: float = 0.0) -> None:
        self.limit = limit
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._busy = 0
        self._slots = _Turns()
        self._pace = _Turns()
        self._pacer: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Nothing to prepare (waiters are created on the running loop)."""

    async def shutdown(self) -> None:
        """Stop pacing."""
        if self._pacer is not None:
            self._pacer.cancel()

    def backlog(self) -> int:
        """Requests waiting for their turn."""
        return len(self._slots) + len(self._pace)

    def behind_seconds(self) -> float:
        """How long the sends now waiting will take at the pace (0 when unpaced)."""
        return len(self._pace) * self.interval

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Run one request when its turn comes."""
        priority = NORMAL if rate_limit_args is None else rate_limit_args
        if self.interval and endpoint in PACED:
            turn = self._pace.join(priority)
            if self._pacer is None or self._pacer.done():
                self._pacer = asyncio.create_task(self._pacing())
            await turn  # a cancelled waiter is skipped; its pacing turn is simply not used
        if self._busy < self.limit and not len(self._slots):
            self._busy += 1
        else:
            slot = self._slots.join(priority)
            try:
                await slot
            except asyncio.CancelledError:
                if slot.done() and not slot.cancelled():
                    self._release()  # the slot was handed to us: pass it on
                raise
        try:
            return await callback(*args, **kwargs)
        finally:
            self._release()

    async def _pacing(self) -> None:
        while self._pace.wake():
            await asyncio.sleep(self.interval)

    def _release(self) -> None:
        if not self._slots.wake():
            self._busy -= 1


class ChatGone(Exception):
    """The person blocked the bot or the chat no longer exists: stop sending to it."""


@dataclass(frozen=True)
class SendPolicy:
    """How hard to try before giving up on one message."""

    flood_retries: int = 5  # 429s in a row for one message
    max_flood_wait: float = 300.0  # give up rather than wait longer than this for one message
    network_retries: int = 4  # 5xx / network errors in a row
    backoff: float = 0.5  # first network retry after this many seconds, doubling each time


def retry_after_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait, whatever PTB's int/timedelta setting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns about the int form; the value is what we need
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def with_retries(op: Callable[[], Awaitable[T]], policy: SendPolicy) -> T:
    """Run one Bot API call, waiting out flood control and retrying transient failures."""
    floods = network = 0
    while True:
        try:
            return await op()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            floods += 1
            if floods > policy.flood_retries or wait > policy.max_flood_wait:
                raise
            log.warning("flood control: waiting %.1fs before retrying this chat's message", wait)
            await asyncio.sleep(wait + 0.05)
        except BadRequest:
            raise  # a subclass of NetworkError, but retrying the same request cannot help
        except NetworkError as exc:  # 5xx, timeouts, dropped connections
            if network >= policy.network_retries:
                raise
            delay = policy.backoff * (2**network)
            network += 1
            log.warning("%s from Telegram: retry %d in %.1fs", type(exc).__name__, network, delay)
            await asyncio.sleep(delay)


@lru_cache(maxsize=1024)
def keyboard(buttons: tuple[ReplyButton, ...]) -> InlineKeyboardMarkup | None:
    """One button per row; buttons Telegram would refuse are left out (and logged) instead of failing.

    Cached: answers come from a fixed catalog, so the same few keyboards are built again and again
    (PTB's markup objects are immutable, so sharing them is safe).
    """
    rows: list[list[InlineKeyboardButton]] = []
    for b in buttons:
        if not b.text.strip():
            log.warning("button without a label left out")
        elif b.url:
            rows.append([InlineKeyboardButton(b.text, url=b.url)])
        elif b.data and 1 <= len(b.data.encode("utf-8")) <= CALLBACK_DATA_MAX:
            rows.append([InlineKeyboardButton(b.text, callback_data=b.data)])
        else:
            log.warning("button left out: callback data must be 1-%d bytes", CALLBACK_DATA_MAX)
    return InlineKeyboardMarkup(rows) if rows else None


def _is_parse_error(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower() or "can't find end tag" in exc.message.lower()


def _is_markup_error(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "button" in text or "reply markup" in text or "keyboard" in text


def _is_gone(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "chat not found" in text or "user is deactivated" in text


def plain_parts(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The reader's text of ``html`` (links as "text (url)") in pieces of at most ``limit`` characters."""
    return [to_plain(part, links=False) for part in split_html(escape(to_plain(html)), limit)]


async def send_html(
    bot: Bot,
    chat_id: int,
    html: str,
    markup: InlineKeyboardMarkup | None,
    policy: SendPolicy,
    priority: int = NORMAL,
) -> list[Message]:
    """Send one message of HTML; falls back to plain text if Telegram cannot parse it."""
    send = partial(bot.send_message, chat_id, html, reply_markup=markup, **_turn(bot, priority))
    try:
        msg = await with_retries(send, policy)
        return [msg]
    except Forbidden:
        raise ChatGone from None
    except BadRequest as exc:
        if _is_gone(exc):
            raise ChatGone from None
        if _is_markup_error(exc) and markup is not None:
            log.warning("Telegram refused the buttons: sending the answer without them")
            return await send_html(bot, chat_id, html, None, policy, priority)
        if not _is_parse_error(exc):
            raise
    log.warning("Telegram could not parse an answer's HTML: sending it as plain text")
    sent: list[Message] = []
    parts = plain_parts(html)
    for i, part in enumerate(parts):
        plain = partial(
            bot.send_message,
            chat_id,
            part,
            parse_mode=None,
            reply_markup=markup if i == len(parts) - 1 else None,
            **_turn(bot, priority),
        )
        try:
            sent.append(await with_retries(plain, policy))
        except Forbidden:
            raise ChatGone from None
    return sent


def _turn(bot: Bot, priority: int) -> dict[str, Any]:
    """The keyword that puts a request ahead in the gate (PTB refuses it on a bot without one)."""
    return {"rate_limit_args": priority} if priority != NORMAL and getattr(bot, "rate_limiter", None) else {}


async def send_reply(bot: Bot, chat_id: int, reply: Reply, policy: SendPolicy) -> list[Message]:
    """Send one Reply: split at paragraphs when over Telegram's limit, buttons under the last part."""
    # Tags and entities only shorten the text, so HTML within the limit fits as it is; only long
    # answers pay for the tag-aware splitter.
    html = reply.html
    parts = [html] if html.strip() and tg_len(html) <= TELEGRAM_LIMIT else split_html(html)
    if not parts:
        log.warning("empty %s reply skipped", reply.kind)
        return []
    markup = keyboard(reply.buttons)
    priority = URGENT if reply.kind == "escalation" else NORMAL
    sent: list[Message] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent.extend(await send_html(bot, chat_id, part, markup if last else None, policy, priority))
    return sent


async def delete_all(bot: Bot, chat_id: int, message_ids: Iterable[int], policy: SendPolicy) -> int:
    """Delete messages in batches of 100; already-gone ones are fine. Returns how many were asked for."""
    ids = sorted(set(message_ids))
    done = 0
    for start in range(0, len(ids), DELETE_BATCH):
        batch = ids[start : start + DELETE_BATCH]
        try:
            await with_retries(partial(bot.delete_messages, chat_id, batch), policy)
            done += len(batch)
        except TelegramError as exc:
            # Deleting is best effort: one refused batch must not stop the others or the reply.
            log.warning("deleting messages failed: %s", type(exc).__name__)
    return done


async def answer_query(answer: Callable[[], Awaitable[object]]) -> None:
    """Acknowledge a button press (stops the client's spinner); failures are only logged."""
    try:
        await answer()
    except TelegramError as exc:
        log.info("button acknowledgement failed: %s", type(exc).__name__)
