"""A strict fake Telegram Bot API server for tests and benchmarks.

The real PTB Application talks to it over HTTP on loopback (``base_url`` = ``fake.base_url``). It keeps
per-chat message stores, long-polls ``getUpdates`` over injected updates, and rejects what Telegram
rejects: malformed HTML, empty or over-long text, bad buttons, unknown chats, messages and callback
queries, deletions after 48 hours. Each rejection is also appended to ``rejected`` so a test can assert
that the bot never sent Telegram anything it would refuse. Scripted faults (429, 5xx, 400, 403, a dropped
connection, a slow answer) are queued per method with :meth:`FakeTelegram.fail` and are not rejections.
While a webhook is set, :meth:`FakeTelegram.deliver_to` makes it push updates to the bot as Telegram does.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlparse

import aiohttp
from aiohttp import web

MAX_TEXT = 4096
MAX_CAPTION = 1024
DELETE_WINDOW = 48 * 3600
BOT_ID = 7000001
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "tg-time",
}
# Parameters PTB sends JSON-encoded in form bodies (strings are sent as they are).
JSON_PARAMS = {
    "chat_id",
    "message_id",
    "message_ids",
    "reply_markup",
    "link_preview_options",
    "protect_content",
    "disable_notification",
    "commands",
    "scope",
    "offset",
    "limit",
    "timeout",
    "allowed_updates",
    "drop_pending_updates",
    "max_connections",
    "show_alert",
    "cache_time",
    "reply_parameters",
    "from_chat_id",
    "entities",
    "caption_entities",
    "allow_sending_without_reply",
    "message_thread_id",
}


class HtmlError(ValueError):
    """Telegram's "can't parse entities" with its reason."""


_TOKEN = re.compile(r"<[^>]*>?|&[^;<>&\s]*;?|[^<&]+", re.S)
_ATTR = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


def parse_html(text: str) -> str:
    """The plain text Telegram would show for ``text`` in HTML parse mode; raises HtmlError."""
    out: list[str] = []
    stack: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        offset = len(text[: m.start()].encode("utf-8"))
        if tok.startswith("<"):
            _check_tag(tok, stack, offset)
        elif tok.startswith("&"):
            if not _ENTITY.fullmatch(tok):
                raise HtmlError(f"Unsupported HTML entity or unescaped & at byte offset {offset}")
            out.append(unescape(tok))
        else:
            if ">" in tok:
                # Telegram tolerates a bare ">", but our contract says every dynamic > is escaped.
                raise HtmlError(f"Unescaped > at byte offset {offset}")
            out.append(tok)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _check_tag(tok: str, stack: list[str], offset: int) -> None:
    if not tok.endswith(">"):
        raise HtmlError(f"Unclosed start tag at byte offset {offset}")
    inner = tok[1:-1]
    if inner.startswith("/"):
        name = inner[1:].strip().lower()
        if not stack or stack[-1] != name:
            raise HtmlError(
                f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1] if stack else ""}>", '
                f'found "</{name}>"'
            )
        stack.pop()
        return
    m = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
    if not m:
        raise HtmlError(f"Empty tag name at byte offset {offset}")
    name = m.group(1).lower()
    if name not in ALLOWED_TAGS:
        raise HtmlError(f'Unsupported start tag "{name}" at byte offset {offset}')
    rest = inner[m.end() :]
    if rest.rstrip().endswith("/"):
        raise HtmlError(f'Unsupported self-closing tag "{name}" at byte offset {offset}')
    attrs: dict[str, str] = {}
    pos = 0
    while rest[pos:].strip():
        am = _ATTR.match(rest, pos)
        if not am or am.end() == pos:
            raise HtmlError(f'Bad attribute in tag "{name}" at byte offset {offset}')
        value = am.group(2) if am.group(2) is not None else am.group(3) or am.group(4) or ""
        attrs[am.group(1).lower()] = unescape(value)
        pos = am.end()
    if any(t in ("pre", "code") for t in stack) and not (name == "code" and stack[-1:] == ["pre"]):
        raise HtmlError(f'Entities inside "{stack[-1]}" are not allowed (byte offset {offset})')
    if name == "blockquote" and "blockquote" in stack:
        raise HtmlError(f"Nested blockquotes are not allowed (byte offset {offset})")
    if name == "a":
        if "a" in stack:
            raise HtmlError(f"Nested links are not allowed (byte offset {offset})")
        href = attrs.get("href", "")
        if not _valid_url(href):
            raise HtmlError(f'Bad link URL "{href}" at byte offset {offset}')
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise HtmlError(f'Tag "tg-emoji" must have an "emoji-id" at byte offset {offset}')
    stack.append(name)


def _valid_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return bool(parsed.netloc)
    return parsed.scheme == "tg" or (parsed.scheme == "mailto" and "@" in url)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class Rejected(Exception):
    """A request Telegram would refuse: becomes an error response and an entry in ``rejected``."""

    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class Fault:
    """A scripted failure for the next matching call of one method."""

    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0  # wait this long first (longer than the client's timeout = a timeout)
    chat_id: int | None = None  # only calls for this chat
    after: bool = False  # do the work, then drop the connection: the answer is lost, the effect is not

    @classmethod
    def flood(cls, retry_after: int = 1, chat_id: int | None = None) -> Fault:
        """429 Too Many Requests with parameters.retry_after."""
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after, chat_id=chat_id)

    @classmethod
    def server_error(cls, status: int = 500, chat_id: int | None = None) -> Fault:
        """A 5xx answer."""
        return cls(status, "Internal Server Error" if status == 500 else "Bad Gateway", chat_id=chat_id)

    @classmethod
    def bad_request(cls, description: str, chat_id: int | None = None) -> Fault:
        """A scripted 400 (description without the "Bad Request: " prefix)."""
        return cls(400, f"Bad Request: {description}", chat_id=chat_id)

    @classmethod
    def blocked(cls, chat_id: int | None = None) -> Fault:
        """403: the user blocked the bot."""
        return cls(403, "Forbidden: bot was blocked by the user", chat_id=chat_id)

    @classmethod
    def dropped(cls, chat_id: int | None = None) -> Fault:
        """The connection closes with no answer (a network error)."""
        return cls(drop=True, chat_id=chat_id)

    @classmethod
    def lost_answer(cls, chat_id: int | None = None) -> Fault:
        """The request is carried out, then the connection drops: the client cannot tell it worked."""
        return cls(drop=True, after=True, chat_id=chat_id)


    @classmethod
    def stalled(cls, seconds: float = 6.0, chat_id: int | None = None) -> Fault:
        """No answer for longer than PTB's 5 s read timeout, and the request was never carried out."""
        return cls(drop=True, delay=seconds, chat_id=chat_id)

    @classmethod
    def timed_out(cls, seconds: float = 6.0, chat_id: int | None = None) -> Fault:
        """No answer for longer than PTB's 5 s read timeout; the request is carried out all the same."""
        return cls(drop=True, after=True, delay=seconds, chat_id=chat_id)


FAULT_KINDS: dict[str, Callable[[], Fault]] = {
    "500": Fault.server_error,
    "429": Fault.flood,
    "drop": Fault.dropped,
    "lost": Fault.lost_answer,
    "stall": Fault.stalled,
    "timeout": Fault.timed_out,
}


class Bucket:
    """A token bucket: ``rate`` a second, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> float:
        """Take a token; 0.0 if there was one, else the seconds until there will be."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class FloodLimits:
    """Telegram's flood control: about 30 messages a second overall, about 1 a second in one chat."""

    per_second: float = 30.0
    per_chat: float = 1.0
    chat_burst: float = 3.0  # Telegram lets short bursts in one chat through
    methods: tuple[str, ...] = ("sendMessage", "sendPhoto", "editMessageText")


@dataclass
class Message:
    """One message the fake knows, the person's or the bot's."""

    message_id: int
    chat_id: int
    date: int
    from_bot: bool
    text: str | None = None
    html: str | None = None
    reply_markup: dict[str, Any] | None = None
    kind: str = "text"
    deleted: bool = False


@dataclass
class Chat:
    """A chat the bot has seen (Telegram refuses to send to any other)."""

    id: int
    type: str = "private"
    messages: dict[int, Message] = field(default_factory=dict)
    next_id: int = 1
    blocked: bool = False
    member: bool = True

    def new_id(self) -> int:
        mid = self.next_id
        self.next_id += 1
        return mid


@dataclass
class Call:
    """One request the bot made (after any scripted fault was applied)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


class FakeTelegram:
    """The fake server. ``await start()``, point PTB at ``base_url``, inject updates, inspect state."""

    def __init__(self, token: str = "123456:TEST-token_abc", username: str = "support_test_bot"):
        self.token = token
        self.username = username
        self.chats: dict[int, Chat] = {}
        self.calls: list[Call] = []
        self.rejected: list[tuple[str, str, dict[str, Any]]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.queries: dict[str, dict[str, Any]] = {}  # id -> {chat_id, answered}
        self.photos: list[dict[str, Any]] = []
        self.left_chats: list[int] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_query = 1
        self._waiters: set[asyncio.Future[None]] = set()
        self._poller: web.Request | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.on_send: Callable[[int, float], None] | None = None  # benchmark hook: (chat_id, time)
        self.limits: FloodLimits | None = None  # set to enforce flood control with 429s
        self.floods = 0  # 429s sent because of ``limits``
        self._global: Bucket | None = None
        self._per_chat: dict[Any, Bucket] = {}
        self._every: tuple[int, tuple[str, ...], tuple[Callable[[], Fault], ...]] | None = None
        self._counted = 0
        self.faults_in_progress = 0  # delayed faults still waiting to act
        self.webhook_connections = 40
        self.deliveries = 0  # webhook POSTs the bot answered with 200
        self.failed_deliveries = 0  # webhook POSTs that failed (refused, dropped, timed out, not 200)
        self.delivered_at: dict[int, float] = {}  # update id -> perf_counter() when the bot answered 200
        self._target: str | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._delivering: dict[int, asyncio.Task[None]] = {}
        self._not_before: dict[int, float] = {}  # update id -> earliest next delivery attempt
        self._attempts: dict[int, int] = {}

    # ----- server lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What to put in telegram.base_url (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (a free port unless given)."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # A deep accept queue: PTB opens up to 256 connections at once, and with aiohttp's default of
        # 128 the kernel drops SYNs, adding 1-7 s TCP retransmit stalls that measure nothing real.
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=2048)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Shut the server down (and any webhook delivery)."""
        tasks = [t for t in (self._deliverer, *self._delivering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- webhook delivery -------------------------------------------------------------------
    def deliver_to(self, url: str, timeout: float = 60.0) -> None:
        """While a webhook is set, POST updates to ``url`` (where the public URL leads) as Telegram does.

        Like Telegram: oldest first, up to ``max_connections`` at once, the secret token in a header. An
        update is done only when the answer is 200; anything else (refused connection, dropped
        connection, no answer within ``timeout``, another status) is tried again later, waiting longer
        each time (0.25 s doubling, at most 8 s), so a bot that was down gets everything on restart.
        """
        self._target = url
        if self._deliverer is None:
            self._deliverer = asyncio.create_task(self._deliver_loop(timeout))

    async def _deliver_loop(self, timeout: float) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            while True:
                if self.webhook is not None and self._target is not None:
                    self._start_deliveries(session)
                await self._wait_change(0.05)

    def _start_deliveries(self, session: aiohttp.ClientSession) -> None:
        assert self.webhook is not None
        allowed = self.webhook.get("allowed_updates")
        now = time.monotonic()
        for update in list(self._updates):
            if len(self._delivering) >= self.webhook_connections:
                return
            uid = update["update_id"]
            if uid in self._delivering or self._not_before.get(uid, 0.0) > now:
                continue
            if allowed and not any(k in update for k in allowed):
                self._updates.remove(update)  # Telegram never delivers what the bot did not ask for
                continue
            self._delivering[uid] = asyncio.create_task(self._deliver(session, update))

    async def _deliver(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        assert self.webhook is not None and self._target is not None
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        uid = update["update_id"]
        try:
            async with session.post(self._target, data=json.dumps(update), headers=headers) as response:
                ok = response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            ok = False
        finally:
            self._delivering.pop(uid, None)
        if ok:
            self.deliveries += 1
            self.delivered_at[uid] = time.perf_counter()
            self._updates = [u for u in self._updates if u["update_id"] != uid]
            self._not_before.pop(uid, None)
            self._attempts.pop(uid, None)
        else:
            self.failed_deliveries += 1
            tries = self._attempts[uid] = self._attempts.get(uid, 0) + 1
            self._not_before[uid] = time.monotonic() + min(8.0, 0.25 * 2 ** (tries - 1))
        self._pulse()

    # ----- scripting --------------------------------------------------------------------------
    def fail(self, method: str, *faults: Fault) -> None:
        """Queue failures for the next calls of ``method`` (in order)."""
        self.faults.setdefault(method, []).extend(faults)

    def fail_every(self, n: int, kinds: tuple[str, ...], methods: tuple[str, ...] = ("sendMessage",)) -> None:
        """Every ``n``-th call of ``methods`` fails, with each of ``kinds`` (keys of FAULT_KINDS) in turn."""
        self._every = (n, methods, tuple(FAULT_KINDS[k] for k in kinds))
        self._counted = 0

    def enforce_limits(self, limits: FloodLimits | None = None) -> None:
        """Answer 429 with retry_after, as Telegram does, to sends over the flood limits."""
        self.limits = limits or FloodLimits()
        self._global = Bucket(self.limits.per_second, self.limits.per_second)
        self._per_chat.clear()

    def chat(self, chat_id: int, type_: str = "private") -> Chat:
        """The chat with this id, created on first use."""
        if chat_id not in self.chats:
            self.chats[chat_id] = Chat(chat_id, type_)
        return self.chats[chat_id]

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = self._next_update
        self._next_update += 1
        self._updates.append(update)
        self._pulse()
        return update

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Support", "username": self.username}

    def _chat_json(self, chat: Chat) -> dict[str, Any]:
        if chat.type == "private":
            return {"id": chat.id, "type": "private", "first_name": "Test"}
        return {"id": chat.id, "type": chat.type, "title": "A group"}

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        kind: str = "text",
        caption: str | None = None,
        age: float = 0.0,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """Inject a message from a person (``kind``: text photo sticker voice location contact document)."""
        chat = self.chat(chat_id, chat_type)
        chat.member = True
        date = int(time.time() - age)
        msg = Message(chat.new_id(), chat_id, date, False, text=text, kind=kind)
        chat.messages[msg.message_id] = msg
        body: dict[str, Any] = {
            "message_id": msg.message_id,
            "date": date,
            "chat": self._chat_json(chat),
            "from": self._user(user_id if user_id is not None else abs(chat_id)),
        }
        if kind == "text":
            if not text:
                raise ValueError("Telegram never delivers an empty text message")
            body["text"] = text
            if text.startswith("/"):
                body["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
        else:
            body.update(_media(kind, msg.message_id))
            if caption:
                body["caption"] = caption
        return self._push({"message": body})

    def edit(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """Inject an edit of a person's earlier text message."""
        chat = self.chats[chat_id]
        msg = chat.messages[message_id]
        msg.text = text
        body = {
            "message_id": message_id,
            "date": msg.date,
            "edit_date": int(time.time()),
            "chat": self._chat_json(chat),
            "from": self._user(chat_id),
            "text": text,
        }
        return self._push({"edited_message": body})

    def press(self, chat_id: int, message_id: int, data: str | None = None) -> str:
        """Inject a press of a button under one of the bot's messages; returns the query id."""
        chat = self.chats[chat_id]
        msg = chat.messages[message_id]
        if not msg.from_bot:
            raise ValueError("people can only press buttons under the bot's messages")
        buttons = [b for row in (msg.reply_markup or {}).get("inline_keyboard", []) for b in row]
        datas = [b.get("callback_data") for b in buttons if "callback_data" in b]
        if data is None:
            data = datas[0]
        elif data not in datas:
            raise ValueError(f"no button with data {data!r} under message {message_id}")
        qid = str(900000 + self._next_query)
        self._next_query += 1
        self.queries[qid] = {"chat_id": chat_id, "answered": False}
        self._push(
            {
                "callback_query": {
                    "id": qid,
                    "from": self._user(chat_id),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": self._message_json(msg),
                }
            }
        )
        return qid

    def add_to_group(self, chat_id: int, by_user: int = 42) -> dict[str, Any]:
        """Inject the bot being added to a group (a my_chat_member update)."""
        chat = self.chat(chat_id, "group")
        chat.member = True
        now = int(time.time())
        return self._push(
            {
                "my_chat_member": {
                    "chat": self._chat_json(chat),
                    "from": self._user(by_user),
                    "date": now,
                    "old_chat_member": {"user": self._bot_user(), "status": "left"},
                    "new_chat_member": {"user": self._bot_user(), "status": "member"},
                }
            }
        )

    def block(self, chat_id: int) -> None:
        """The person blocks the bot: every later send to this chat gets 403."""
        self.chat(chat_id).blocked = True

    # ----- inspection -------------------------------------------------------------------------
    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[Message]:
        """The bot's messages in a chat, oldest first."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if m.from_bot and (include_deleted or not m.deleted)]

    def texts(self, chat_id: int, *, include_deleted: bool = True) -> list[str]:
        """Plain text of the bot's messages in a chat, oldest first."""
        return [m.text or "" for m in self.bot_messages(chat_id, include_deleted=include_deleted)]

    def calls_of(self, method: str) -> list[Call]:
        """Every successful call of one method."""
        return [c for c in self.calls if c.method == method and c.status == 200]

    def pending_updates(self) -> int:
        """Injected updates the bot has not confirmed yet."""
        return len(self._updates)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds (checked after every request); fail after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError("timed out waiting for the bot")
            await self._wait_change(min(remaining, 0.25))

    def _pulse(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _wait_change(self, timeout: float) -> None:
        # A fresh future per wait: no pulse between the caller's check and this wait is lost.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            self._waiters.discard(waiter)

    # ----- request handling -------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _read_params(request)
        fault = self._take_fault(method, params) or self._periodic_fault(method)
        if fault is None:
            flood = self._flood_wait(method, params)
            if flood:
                self.floods += 1
                fault = Fault.flood(max(1, math.ceil(flood)))
        if fault is not None:
            if fault.delay:
                self.faults_in_progress += 1
                try:
                    await asyncio.sleep(fault.delay)
                finally:
                    self.faults_in_progress -= 1
            if fault.after:
                await self._answer(method, params, request)
            if fault.drop or fault.delay:
                if request.transport is not None:
                    request.transport.close()
                self.calls.append(Call(method, params, time.time(), 0))
                self._pulse()
                return web.Response(status=500)
            self.calls.append(Call(method, params, time.time(), fault.status))
            self._pulse()
            extra = {"retry_after": fault.retry_after} if fault.retry_after else None
            return _error(fault.status, fault.description, extra)
        return await self._answer(method, params, request)

    async def _answer(self, method: str, params: dict[str, Any], request: web.Request) -> web.StreamResponse:
        handler = getattr(self, "_m_" + method.lower(), None)
        try:
            if handler is None:
                raise Rejected(404, "Not Found")
            result = await handler(params, request) if method.lower() == "getupdates" else handler(params)
        except Rejected as exc:
            self.rejected.append((method, exc.description, params))
            self.calls.append(Call(method, params, time.time(), exc.code))
            self._pulse()
            return _error(exc.code, exc.description)
        if result is _GONE:
            return web.Response(status=499)
        self.calls.append(Call(method, params, time.time()))
        self._pulse()
        return web.json_response({"ok": True, "result": result})

    def _periodic_fault(self, method: str) -> Fault | None:
        if self._every is None or method not in self._every[1]:
            return None
        n, _, kinds = self._every
        self._counted += 1
        if self._counted % n:
            return None
        return kinds[(self._counted // n - 1) % len(kinds)]()

    def _flood_wait(self, method: str, params: dict[str, Any]) -> float:
        """Seconds the sender must wait under ``limits`` (0 when the call may go through)."""
        if self.limits is None or self._global is None or method not in self.limits.methods:
            return 0.0
        chat = params.get("chat_id")
        bucket = self._per_chat.get(chat)
        if bucket is None:
            bucket = self._per_chat[chat] = Bucket(self.limits.per_chat, self.limits.chat_burst)
        wait = bucket.take()
        if wait:
            return wait
        wait = self._global.take()
        if wait:
            bucket.tokens += 1  # the chat's token was not used
        return wait

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        for i, fault in enumerate(queue):
            if fault.chat_id is None or fault.chat_id == params.get("chat_id"):
                return queue.pop(i)
        return None

    def _known_chat(self, params: dict[str, Any]) -> Chat:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise Rejected(400, "Bad Request: chat_id is empty" if chat_id is None else "Bad Request: chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise Rejected(400, "Bad Request: chat not found")
        if chat.blocked:
            raise Rejected(403, "Forbidden: bot was blocked by the user")
        if not chat.member:
            raise Rejected(403, "Forbidden: bot is not a member of the group chat")
        return chat

    def _message_json(self, msg: Message) -> dict[str, Any]:
        chat = self.chats[msg.chat_id]
        body: dict[str, Any] = {"message_id": msg.message_id, "date": msg.date, "chat": self._chat_json(chat)}
        body["from"] = self._bot_user() if msg.from_bot else self._user(msg.chat_id)
        if msg.text is not None:
            body["text"] = msg.text
        if msg.reply_markup:
            body["reply_markup"] = msg.reply_markup
        return body

    # ----- Bot API methods --------------------------------------------------------------------
    def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getupdates(self, params: dict[str, Any], request: web.Request) -> Any:
        if self.webhook is not None:
            raise Rejected(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if self._poller is not None and self._poller is not request:
            old = self._poller
            if old.transport is not None and not old.transport.is_closing():
                old["conflict"] = True
        self._poller = request
        offset = params.get("offset")
        limit = params.get("limit", 100)
        timeout = params.get("timeout", 0)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise Rejected(400, "Bad Request: invalid limit")
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + (timeout if isinstance(timeout, (int, float)) else 0)
        while True:
            if isinstance(offset, int) and offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            ready = [u for u in self._updates if not allowed or any(k in u for k in allowed)]
            if request.get("conflict"):
                raise Rejected(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if request.transport is None or request.transport.is_closing():
                return _GONE
            if ready or time.monotonic() >= deadline:
                if self._poller is request:
                    self._poller = None
                return ready[:limit]
            await self._wait_change(max(0.01, min(0.5, deadline - time.monotonic())))

    def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url", "")
        if url == "":
            self.webhook = None
            return True
        parsed = urlparse(url)
        if parsed.scheme != "https":
            raise Rejected(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if (parsed.port or 443) not in (443, 80, 88, 8443):
            raise Rejected(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise Rejected(400, "Bad Request: bad webhook: secret token contains unallowed characters")
        connections = params.get("max_connections", 40)
        if not isinstance(connections, int) or not 1 <= connections <= 100:
            raise Rejected(400, "Bad Request: bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        self.webhook_connections = connections
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise Rejected(400, "Bad Request: commands must be a list of at most 100 commands")
        for c in commands:
            if not isinstance(c, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise Rejected(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise Rejected(400, "Bad Request: command description is empty or too long")
        self.commands = commands
        return True

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params)
        text = params.get("text")
        if not isinstance(text, str):
            raise Rejected(400, "Bad Request: message text is empty")
        plain = self._render(text, params.get("parse_mode"), MAX_TEXT, "message")
        markup = _check_markup(params.get("reply_markup"))
        msg = Message(chat.new_id(), chat.id, int(time.time()), True, text=plain, html=text, reply_markup=markup)
        chat.messages[msg.message_id] = msg
        if self.on_send is not None:
            self.on_send(chat.id, time.perf_counter())
        return self._message_json(msg)

    def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params)
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo.startswith(b"\x89PNG") and not photo.startswith(b"\xff\xd8"):
            raise Rejected(400, "Bad Request: IMAGE_PROCESS_FAILED")
        caption = params.get("caption")
        plain = self._render(caption, params.get("parse_mode"), MAX_CAPTION, "caption") if caption else None
        msg = Message(chat.new_id(), chat.id, int(time.time()), True, text=plain, kind="photo")
        chat.messages[msg.message_id] = msg
        self.photos.append({"chat_id": chat.id, "size": len(photo)})
        body = self._message_json(msg)
        body.pop("text", None)
        body["photo"] = [
            {
                "file_id": f"p{msg.message_id}",
                "file_unique_id": f"u{msg.message_id}",
                "width": 800,
                "height": 600,
            }
        ]
        if plain:
            body["caption"] = plain
        return body

    def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params)
        msg = self._existing(chat, params.get("message_id"), "message to edit not found")
        if not msg.from_bot:
            raise Rejected(400, "Bad Request: message can't be edited")
        text = params.get("text")
        if not isinstance(text, str):
            raise Rejected(400, "Bad Request: message text is empty")
        plain = self._render(text, params.get("parse_mode"), MAX_TEXT, "message")
        markup = _check_markup(params.get("reply_markup"))
        if plain == msg.text and markup == msg.reply_markup:
            raise Rejected(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        msg.text, msg.html, msg.reply_markup = plain, text, markup
        return self._message_json(msg)

    def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query = self.queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"]:
            raise Rejected(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text", ""))) > 200:
            raise Rejected(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = True
        return True

    def _m_deletemessage(self, params: dict[str, Any]) -> bool:
        chat = self._known_chat(params)
        msg = self._existing(chat, params.get("message_id"), "message to delete not found")
        if time.time() - msg.date >= DELETE_WINDOW:
            raise Rejected(400, "Bad Request: message can't be deleted for everyone")
        msg.deleted = True
        return True

    def _m_deletemessages(self, params: dict[str, Any]) -> bool:
        chat = self._known_chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(isinstance(i, int) for i in ids):
            raise Rejected(400, "Bad Request: message_ids must be a list of 1-100 message identifiers")
        for mid in ids:
            msg = chat.messages.get(mid)
            if msg is not None and time.time() - msg.date >= DELETE_WINDOW:
                raise Rejected(400, "Bad Request: message can't be deleted for everyone")
        # Telegram skips messages that are already gone.
        for mid in ids:
            if mid in chat.messages:
                chat.messages[mid].deleted = True
        return True

    def _m_leavechat(self, params: dict[str, Any]) -> bool:
        chat = self._known_chat(params)
        if chat.type == "private":
            raise Rejected(400, "Bad Request: chat member status can't be changed in private chats")
        chat.member = False
        self.left_chats.append(chat.id)
        return True

    def _m_sendchataction(self, params: dict[str, Any]) -> bool:
        self._known_chat(params)
        return True

    def _existing(self, chat: Chat, message_id: Any, what: str) -> Message:
        msg = chat.messages.get(message_id) if isinstance(message_id, int) else None
        if msg is None or msg.deleted:
            raise Rejected(400, f"Bad Request: {what}")
        return msg

    @staticmethod
    def _render(text: str, parse_mode: Any, limit: int, what: str) -> str:
        if parse_mode not in (None, "HTML"):
            raise Rejected(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        if parse_mode == "HTML":
            try:
                text = parse_html(text)
            except HtmlError as exc:
                raise Rejected(400, f"Bad Request: can't parse entities: {exc}") from None
        plain = text.strip()
        if not plain:
            raise Rejected(400, f"Bad Request: {what} text is empty")
        if utf16_len(plain) > limit:
            raise Rejected(400, f"Bad Request: {what} is too long")
        return plain


_GONE = object()


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


async def _read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    params: dict[str, Any] = {}
    if request.method == "GET":
        form: Any = request.query
    else:
        form = await request.post()
    for key, value in form.items():
        if hasattr(value, "file"):
            params[key] = value.file.read()
        elif key in JSON_PARAMS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params


def _check_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise Rejected(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise Rejected(400, "Bad Request: BUTTON_TEXT_INVALID")
            kinds = [k for k in ("callback_data", "url") if k in button]
            if len(kinds) != 1:
                raise Rejected(400, 'Bad Request: can\'t find field "callback_data" or "url" in the button')
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise Rejected(400, "Bad Request: BUTTON_DATA_INVALID")
            elif not _valid_url(str(button["url"])):
                raise Rejected(400, "Bad Request: BUTTON_URL_INVALID")
    return markup


def _media(kind: str, mid: int) -> dict[str, Any]:
    file = {"file_id": f"f{mid}", "file_unique_id": f"u{mid}"}
    if kind == "photo":
        return {"photo": [{**file, "width": 90, "height": 90, "file_size": 1000}]}
    if kind == "sticker":
        return {
            "sticker": {
                **file,
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        }
    if kind == "voice":
        return {"voice": {**file, "duration": 3}}
    if kind == "location":
        return {"location": {"latitude": 51.5, "longitude": -0.12}}
    if kind == "contact":
        return {"contact": {"phone_number": "+447700900000", "first_name": "Someone"}}
    if kind == "document":
        return {"document": {**file, "file_name": "evidence.pdf"}}
    raise ValueError(f"unknown message kind {kind!r}")
