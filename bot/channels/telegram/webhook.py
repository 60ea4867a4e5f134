"""Webhook serving that tells Telegram an update is done only once it has been answered.

PTB's webhook server answers Telegram's POST with 200 as soon as the update is queued, so a crash loses
whatever was received but not yet answered: Telegram never sends it again. Here the 200 waits until the
bot has replied, so Telegram redelivers anything a ``kill -9`` interrupted. The same bounds as the poller:

- while the bot is behind (a flood-limited backlog of sends), or once an update has been in hand for
  ``hold`` seconds, Telegram gets its 200 anyway and the answer finishes in the background: Telegram
  holds at most ``max_connections`` deliveries at once, and an emergency must not wait behind them;
- a redelivery of an update still being handled waits for that same handling, and one answered before a
  restart (:class:`AnsweredLog`, ids only) gets its 200 at once: never answered twice;
- an update let go before it was answered is noted with its chat id, so that if a crash cuts it off,
  the person is asked after the restart to send it again (:meth:`Receiver.missed`).

Requests without the secret token get 403 before their body is looked at; bodies are capped in size. An
update PTB cannot parse gets its 200 and is skipped (logged by its id): Telegram would only resend it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.channels.telegram.delivery_log import AnsweredLog
from bot.channels.telegram.updates import HOLD_SECONDS, handle_guarded, read_update

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # Telegram's updates are a few KiB; anything near this is not from Telegram
REMEMBER = 10_000  # answered update ids kept in memory to recognise Telegram's redeliveries
KEEP_SECONDS = 900.0  # an answered id stays in the on-disk log this long (redeliveries come sooner)


class CannotListen(Exception):
    """The webhook server's local address is taken or not allowed (the message says which and why)."""


class Receiver:
    """Hands each delivered update to ``handle`` once and says when Telegram may be told it is done."""

    def __init__(
        self,
        handle: Callable[[Update], Awaitable[Any]],
        *,
        answered: AnsweredLog | None = None,
        behind: Callable[[], bool] = lambda: False,
        hold: float = HOLD_SECONDS,
    ) -> None:
        self.handle = handle
        self.answered = answered or AnsweredLog(None)
        self.behind = behind
        self.hold = hold
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._recent: OrderedDict[int, float] = OrderedDict()  # answered update id -> when (monotonic)
        self._next = 0

    async def receive(self, update: Update) -> None:
        """Return once ``update`` has been answered, or may be left to finish (see module doc)."""
        uid = update.update_id
        self._next = max(self._next, uid + 1)
        if uid in self._recent or uid in self.answered.previous:
            return
        task = self._inflight.get(uid)
        if task is None:
            task = asyncio.create_task(self._handle(update))
            self._inflight[uid] = task
        if not self.behind():
            await asyncio.wait({task}, timeout=self.hold)
        if not task.done():
            chat = update.effective_chat
            self.answered.risk(uid, chat.id if chat else None, self._keep_from)

    def missed(self) -> list[int]:
        """Chats whose update got its 200 before an answer, in a run that then died (ask them again)."""
        return sorted(set(self.answered.missed().values()))

    def forget_missed(self) -> None:
        """The people from :meth:`missed` have been asked: do not ask them again after another restart."""
        for uid in self.answered.missed():
            self.answered.add(uid, self._keep_from)

    async def drain(self, grace: float) -> None:
        """Let updates in hand finish (for up to ``grace`` s), then stop writing the log."""
        if self._inflight:
            await asyncio.wait(set(self._inflight.values()), timeout=grace)
        self.answered.close(self._keep_from())

    def _keep_from(self) -> int:
        """The oldest id Telegram might still send again: anything older may leave the on-disk log."""
        now = time.monotonic()
        recent = [u for u, at in self._recent.items() if now - at < KEEP_SECONDS]
        return min([*self._inflight, *recent], default=self._next)

    async def _handle(self, update: Update) -> None:
        uid = update.update_id
        try:
            await handle_guarded(self.handle, update)
        finally:
            del self._inflight[uid]
            self._recent[uid] = time.monotonic()
            while len(self._recent) > REMEMBER:
                self._recent.popitem(last=False)
            self.answered.add(uid, self._keep_from)


class _Hook(RequestHandler):
    """Telegram's POST: the secret first, then the update, then the 200 once it is answered."""

    def initialize(self, receiver: Receiver, bot: Bot, secret: str) -> None:
        self.receiver = receiver
        self.bot = bot
        self.secret = secret

    async def post(self) -> None:
        """One update from Telegram."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.send_error(403)
            return
        data = update_json(self.request.body)
        if data is None:
            self.send_error(400)
            return
        # An update PTB cannot read gets its 200 all the same: Telegram would only send it again and again.
        update = read_update(data, self.bot)
        if update is not None:
            await self.receiver.receive(update)
        self.set_status(200)


def update_json(body: bytes) -> dict[str, Any] | None:
    """The JSON of the update in a request body, or None for anything that is not one (never raises)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting exhausts the decoder's stack, not the format
        return None
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return None
    return data


def _quiet(handler: RequestHandler) -> None:
    """Access logging: only failures, and never more than status and method (no paths, no bodies)."""
    status = handler.get_status()
    if status >= 400:
        log.info("webhook request refused with %d", status)


class WebhookServer:
    """The local HTTP server Telegram's webhook reaches (through a TLS-terminating proxy)."""

    def __init__(self, receiver: Receiver, bot: Bot, *, path: str, secret: str, listen: str, port: int) -> None:
        # Tornado reads a route as a regular expression; telegram.url's path is a literal ("/tg+hook").
        route = "/" + re.escape(path.strip("/"))
        app = Application(
            [(route, _Hook, {"receiver": receiver, "bot": bot, "secret": secret})],
            log_function=_quiet,
        )
        self.receiver = receiver
        self._server = HTTPServer(app, max_body_size=MAX_BODY)
        self._listen = listen
        self._port = port
        self.port = 0

    def start(self) -> None:
        """Bind and serve on the running event loop (``port`` 0 picks a free port, see ``self.port``)."""
        try:
            sockets = bind_sockets(self._port, self._listen)
        except OSError as exc:
            raise CannotListen(f"{self._listen}:{self._port}: {exc.strerror or exc}") from None
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let answers in hand finish, close the connections."""
        self._server.stop()
        await self.receiver.drain(grace)
        await self._server.close_all_connections()
