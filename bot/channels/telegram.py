"""The Telegram channel: a python-telegram-bot 22 Application around the engine.

Updates are processed concurrently, but each chat takes its turn through a per-chat lock, so one chat's
replies go out in order (escalation first) while other chats are served; a flood wait in one chat holds
only that chat. Storage calls are side effects scheduled after sending, with timeouts: a slow or broken
database never delays or loses a reply. Logs carry exception types and update ids, never what anyone
wrote or who they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

from telegram import BotCommand, LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.channels.lane import Lane
from bot.channels.telegram_admin import AdminTools, IntentWatcher
from bot.channels.telegram_poll import AnsweredLog, Poller
from bot.channels.telegram_send import (
    ChatGone,
    SendGate,
    SendPolicy,
    answer_query,
    delete_all,
    send_reply,
)
from bot.channels.telegram_webhook import CannotListen, Receiver, WebhookServer
from bot.config import TOKEN_ENV, Config
from bot.engine import COMMAND_DESCRIPTIONS, Checked, last_resort
from bot.messages import ERASE, Incoming, Outcome, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")
AnyApp = Application[Any, Any, Any, Any, Any, Any]

ADMIN_COMMANDS = ("/stats", "/reload")
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member", "channel_post")
DELETE_WINDOW = timedelta(hours=47)  # Telegram allows 48 h; an hour's margin for clocks and slow sends
STORE_SECONDS = 3.0  # longest a store call may take before it is abandoned
FORGET_SECONDS = 6.0  # an erase's forget retries a busy database (bot.store.FORGET_SECONDS) before giving up
INFLIGHT = 64  # Bot API requests in flight at once (see SendGate)
SENDS_ENV = "TELEGRAM_SENDS_PER_SECOND"  # overrides telegram.sends_per_second (benchmarks against a fake)
BEHIND_SECONDS = 2.0  # sends queued beyond this: confirm updates on fetch so that later ones are seen
# A webhook takes in at most WEBHOOK_CONNECTIONS updates at once, so holding each 200 until its paced
# answer is sent would slow intake to the send rate, and an emergency would wait behind the whole queue
# at Telegram: let go as soon as any real queue of sends forms.
WEBHOOK_BEHIND_SECONDS = 0.5
BACKLOG = 20_000  # store writes waiting their turn; beyond this, counts are dropped rather than memory
SWEEP_SECONDS = 60.0  # how often quiet chats are checked for auto-erase
RECENT_PER_CHAT = 500  # message ids remembered in memory per chat (the store keeps the rest)
CHATS_IN_MEMORY = 10_000  # chats whose ids are kept in memory, most recent first (the store keeps all)
BOOTSTRAP_RETRIES = 5  # network failures tolerated while setting the webhook at start-up
STARTUP_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # waits between tries to reach Telegram at start-up
WEBHOOK_CONNECTIONS = 40  # deliveries Telegram makes at once (its default); each waits for its answer


class StoreLike(Protocol):
    """The part of bot.store.Store the channel uses (every method already swallows its own errors)."""

    def user_key(self, telegram_user_id: int) -> str: ...
    async def record(self, outcome: Outcome, *, user_key: str, when: datetime) -> None: ...
    async def remember_messages(self, chat_id: int, message_ids: Sequence[int], when: datetime) -> None: ...
    async def messages_for(self, chat_id: int) -> list[int] | None: ...
    async def forget_chat(self, chat_id: int, user_key: str) -> bool: ...
    async def quiet_chats(self, idle_since: datetime) -> list[int]: ...
    async def purge(self, now: datetime) -> None: ...
    async def log_unmatched(self, text: str, when: datetime) -> None: ...
    async def stats(self, today: Any) -> Any: ...
    async def close(self) -> None: ...


class EngineLike(Protocol):
    """The engine as the channel sees it."""

    def check(self, text: str) -> Checked: ...
    def respond(self, incoming: Incoming, checked: Checked | None = None) -> Outcome: ...
    def system_reply(self, name: str, now: datetime | None = None, chat: int | None = None) -> Reply: ...
    def install(self, snapshot: Any) -> None: ...


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


class TelegramChannel:
    """Handlers, per-chat turns and background tasks for one Application."""

    def __init__(
        self,
        engine: EngineLike,
        config: Config,
        store: StoreLike | None = None,
        *,
        open_store: bool = False,
        policy: SendPolicy | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
        watch_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.config = config
        self.store = store
        self.policy = policy or SendPolicy()
        self.admin = AdminTools(engine, config)
        self._open_store = open_store
        self._sweep_seconds = sweep_seconds
        self._watch_seconds = watch_seconds
        self.lane = Lane()  # messages that do not escalate wait here for matching (bot/channels/lane.py)
        self._locks: dict[int, asyncio.Lock] = {}
        self._lock_users: dict[int, int] = {}
        self._recent: dict[int, dict[int, float]] = {}  # chat -> message id -> unix time (ids only)
        self._last_seen: dict[int, float] = {}  # chat -> unix time of its last message
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        # Store writes go through one queue, one at a time and in order: no reply waits for them, a
        # burst cannot pile thousands of calls onto the database at once.
        self._writes: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue(BACKLOG)
        # An erase forgets at once, within its chat's turn, while writes about that chat queued before it
        # may still be waiting: they must not put its ids or day token back. Writes are numbered as they
        # are queued; a chat's entry here is the number its last erase saw.
        self._queued = 0
        self._erased_at: dict[int, int] = {}
        self._app: AnyApp | None = None

    # ----- wiring -----------------------------------------------------------------------------
    def install(self, app: AnyApp) -> None:
        """Register the handlers and the error handler on ``app``."""
        self._app = app
        private = filters.ChatType.PRIVATE
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(
            MessageHandler(private & (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE), self.on_message)
        )
        app.add_handler(
            MessageHandler(
                (filters.ChatType.GROUPS & filters.UpdateType.MESSAGE) | filters.UpdateType.CHANNEL_POST,
                self.on_group,
            )
        )
        app.add_error_handler(self.on_error)

    async def post_init(self, app: AnyApp) -> None:
        """After start-up: open the store, publish the command menu, start the periodic tasks."""
        if self._open_store and self.store is None:
            from bot.store import Store

            self.store = await Store.open(self.config)
        commands = [BotCommand(name, text) for name, text in COMMAND_DESCRIPTIONS.items()]
        try:
            await app.bot.set_my_commands(commands)
        except TelegramError as exc:  # the menu is a convenience; serving matters more
            log.warning("could not set the command menu: %s", type(exc).__name__)
        self._loops.append(asyncio.create_task(self._write_loop(), name="store-writer"))
        self._loops.append(asyncio.create_task(self._sweep_loop(), name="auto-erase"))
        if self.config.watch_intents:
            watcher = IntentWatcher(self.admin, self._watch_seconds)
            self._loops.append(asyncio.create_task(watcher.run(), name="intent-watcher"))

    async def post_shutdown(self, app: AnyApp) -> None:
        """On shutdown: let queued store writes finish (briefly), stop the periodic tasks, close the store."""
        if self._loops:
            try:
                await asyncio.wait_for(self._writes.join(), STORE_SECONDS)
            except asyncio.TimeoutError:
                log.warning("shutdown: %d store writes abandoned", self._writes.qsize())
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STORE_SECONDS)
        if self.store is not None:
            await self.store.close()

    # ----- handlers ---------------------------------------------------------------------------
    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A private message (or an edit): text goes to the engine, anything else gets the text-only line."""
        msg = update.effective_message
        user = update.effective_user
        if msg is None or user is None:
            return
        chat_id = msg.chat_id
        received = now_utc()
        edited = update.edited_message is not None
        written = msg.date or received  # what the 48-hour delete window counts from, even for an edit
        sent_at = (msg.edit_date if edited and msg.edit_date else written) or received
        stale = (received - sent_at).total_seconds() > self.config.telegram.stale_after_seconds
        text = msg.text if msg.text is not None else msg.caption
        if text is None and edited:
            return  # live-location updates and media edits are not new questions
        self._note(chat_id, [msg.message_id], written)
        if text is not None:
            text = self._strip_mention(text, context.bot.username)
        if text is not None and self._is_admin_command(text, user.id):
            async with self._turn(chat_id):
                await self._admin(chat_id, text, received)
            return
        if text is None:
            outcome = None
            replies: tuple[Reply, ...] = (self._system("non_text", received, chat_id),)
        else:
            checked = self._check(text)
            if checked is not None and not checked.urgent:
                # behind a backlog, the rest of the work waits its turn: danger checked later goes first
                # (a check that failed could not say, so that message goes first too)
                await self.lane.turn()
            outcome = self._respond(Incoming(text=text, now=received, chat=chat_id), checked)
            replies = outcome.replies
        async with self._turn(chat_id):
            if outcome is not None and outcome.erase:
                await self._erase(chat_id, user.id, outcome, received)
                return
            sent = await self._deliver(chat_id, replies, stale)
        self._after(chat_id, user.id, outcome, sent, received, text, incoming=(msg.message_id, written))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: acknowledged at once, then answered like a message in the same chat."""
        query = update.callback_query
        if query is None:
            return
        # Scheduled rather than awaited so this chat's turn is taken in update order.
        self._spawn(answer_query(query.answer))
        msg = query.message
        if msg is None or msg.chat.type != ChatType.PRIVATE or not query.data:
            return
        chat_id = msg.chat.id
        received = now_utc()
        outcome = self._respond(Incoming(button=query.data, now=received, chat=chat_id))
        async with self._turn(chat_id):
            if outcome.erase or query.data == ERASE:
                await self._erase(chat_id, query.from_user.id, outcome, received)
                return
            sent = await self._deliver(chat_id, outcome.replies, stale=False)
        self._after(chat_id, query.from_user.id, outcome, sent, received, None)

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any message in a group or channel: say this works in private chats only, then leave."""
        chat = update.effective_chat
        if chat is not None:
            await self._leave(chat.id, chat.type, context)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was added to a group (leave it) or blocked in a private chat (forget the ids)."""
        change = update.my_chat_member
        if change is None:
            return
        status = change.new_chat_member.status
        if change.chat.type == ChatType.PRIVATE:
            if status == ChatMemberStatus.BANNED:
                log.info("a person blocked the bot")
                self._recent.pop(change.chat.id, None)
            return
        if status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.RESTRICTED):
            await self._leave(change.chat.id, change.chat.type, context)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an unexpected error by type and update id only: never text, names or user data."""
        update_id = update.update_id if isinstance(update, Update) else None
        # Network trouble while polling is expected now and then; anything else is a bug to look at.
        level = logging.WARNING if isinstance(context.error, NetworkError) else logging.ERROR
        log.log(level, "error while handling update %s: %s", update_id, type(context.error).__name__)

    async def ask_to_resend(self, chat_ids: Sequence[int]) -> None:
        """After a crash: tell each person whose message was cut off to send it again (999 included)."""
        log.warning("asking %d people to resend a message cut off by a restart", len(chat_ids))

        async def one(chat_id: int) -> None:
            async with self._turn(chat_id):
                await self._deliver(chat_id, [self._system("missed_message", now_utc())], stale=False)

        await asyncio.gather(*(one(c) for c in chat_ids))

    # ----- the work ---------------------------------------------------------------------------
    async def _deliver(self, chat_id: int, replies: Sequence[Reply], stale: bool) -> list[int]:
        """Send replies in order (escalations first); a stale update gets the slow-reply line."""
        first = [r for r in replies if r.kind == "escalation"]
        ordered = first + [r for r in replies if r.kind != "escalation"]
        if stale:
            ordered = self._with_slow_line(ordered)
        sent: list[int] = []
        bot = self._bot()
        for reply in ordered:
            try:
                messages = await send_reply(bot, chat_id, reply, self.policy)
            except ChatGone:
                log.info("chat unavailable (blocked or deleted): replies skipped")
                break
            except TelegramError as exc:
                log.warning("a %s reply could not be sent: %s", reply.kind, type(exc).__name__)
                continue
            sent.extend(m.message_id for m in messages)
            self._note(chat_id, [m.message_id for m in messages], _date(messages))
        return sent

    def _with_slow_line(self, ordered: list[Reply]) -> list[Reply]:
        slow = self._system("slow_reply", now_utc())
        for i, reply in enumerate(ordered):
            if reply.kind != "escalation":
                merged = Reply(slow.html + "\n\n" + reply.html, reply.buttons, reply.kind, reply.ref)
                return [*ordered[:i], merged, *ordered[i + 1 :]]
        return [*ordered, slow]

    async def _erase(self, chat_id: int, user_id: int, outcome: Outcome, when: datetime) -> None:
        """Quick exit: any escalation first, then delete and forget what can be, then say what was done."""
        bot = self._bot()
        escalations = [r for r in outcome.replies if r.kind == "escalation"]
        kept = await self._deliver(chat_id, escalations, stale=False) if escalations else []
        ids, listed = await self._erasable(chat_id)
        ids.difference_update(kept)
        deleted = await delete_all(bot, chat_id, ids, self.policy)
        forgotten = await self._forget(chat_id, user_id)
        summary = erase_summary(deleted, len(ids) - deleted, listed=listed, forgotten=forgotten)
        rest = [r for r in outcome.replies if r.kind != "escalation"] or [self._system("erased", when)]
        rest[0] = Reply(summary + "\n" + rest[0].html, rest[0].buttons, rest[0].kind, rest[0].ref)
        for reply in rest:
            try:
                await send_reply(bot, chat_id, reply, self.policy)
            except (ChatGone, TelegramError) as exc:
                log.info("erase notice not sent: %s", type(exc).__name__)
                break
        if self.store is not None:
            # Counted, but not as this person: their day token has just been forgotten.
            self._write(partial(self.store.record, outcome, user_key="", when=when))

    async def _erasable(self, chat_id: int) -> tuple[set[int], bool]:
        """The chat's deletable message ids, forgotten from memory; False when the store's list is unreadable."""
        ids = set(self._deletable(chat_id))
        listed = True
        if self.store is not None:
            stored = await self._ask_store(self.store.messages_for(chat_id), None)
            listed = stored is not None
            ids.update(stored or ())
        self._recent.pop(chat_id, None)
        self._last_seen.pop(chat_id, None)
        return ids, listed

    async def _forget(self, chat_id: int, user_id: int) -> bool:
        """Have the store forget the chat now (retrying a busy database); True once nothing is left."""
        if self.store is None:
            return True
        self._erased_at[chat_id] = self._queued
        forget = self.store.forget_chat(chat_id, self.store.user_key(user_id))
        return await self._ask_store(forget, False, FORGET_SECONDS)

    async def _leave(self, chat_id: int, chat_type: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        async with self._turn(chat_id):
            if chat_type != ChatType.CHANNEL:
                reply = self._system("group_chat", now_utc())
                try:
                    await send_reply(context.bot, chat_id, reply, self.policy)
                except (ChatGone, TelegramError) as exc:
                    log.info("group notice not sent: %s", type(exc).__name__)
            try:
                await context.bot.leave_chat(chat_id)
            except TelegramError as exc:
                log.info("could not leave a group: %s", type(exc).__name__)

    async def _admin(self, chat_id: int, text: str, now: datetime) -> None:
        command = text.split(maxsplit=1)[0].lower()
        bot = self._bot()
        try:
            if command == "/stats":
                html, png = await self.admin.stats(self.store, now)
                await send_reply(bot, chat_id, Reply(html, kind="notice"), self.policy)
                if png:
                    await bot.send_photo(chat_id, png)
            else:
                html = await self.admin.reload()
                await send_reply(bot, chat_id, Reply(html, kind="notice"), self.policy)
        except (ChatGone, TelegramError) as exc:
            log.warning("admin reply not sent: %s", type(exc).__name__)

    def _after(
        self,
        chat_id: int,
        user_id: int,
        outcome: Outcome | None,
        sent: list[int],
        when: datetime,
        text: str | None,
        incoming: tuple[int, datetime] | None = None,
    ) -> None:
        """Store side effects, scheduled after the reply went out."""
        store = self.store
        if store is None:
            return
        ids = list(sent)
        if incoming is not None:
            message_id, written = incoming
            if (when - written).total_seconds() > 60:  # its 48 hours started earlier than ours
                self._write_for(chat_id, partial(store.remember_messages, chat_id, [message_id], written))
            else:
                ids.insert(0, message_id)
        if ids:
            self._write_for(chat_id, partial(store.remember_messages, chat_id, ids, when))
        if outcome is not None:
            key = store.user_key(user_id)
            count = partial(store.record, outcome, when=when)
            self._write_for(chat_id, partial(count, user_key=key), erased=partial(count, user_key=""))
            if outcome.fallback and text and self.config.privacy.log_unmatched:
                self._write(partial(store.log_unmatched, text, when))

    # ----- auto-erase -------------------------------------------------------------------------
    async def _sweep_loop(self) -> None:
        minutes = self.config.privacy.auto_erase_after_minutes
        last_purge = 0.0
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                if minutes:
                    await self.sweep(now_utc() - timedelta(minutes=minutes))
                if self.store is not None and time.monotonic() - last_purge > 3600:
                    last_purge = time.monotonic()
                    await self._ask_store(self.store.purge(now_utc()), None)
                self._prune()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("auto-erase sweep failed: %s", type(exc).__name__)

    async def sweep(self, idle_since: datetime) -> int:
        """Erase every conversation quiet since ``idle_since``, silently; returns how many."""
        cutoff = idle_since.timestamp()
        chats = {c for c, seen in self._last_seen.items() if seen < cutoff}
        if self.store is not None:
            chats.update(await self._ask_store(self.store.quiet_chats(idle_since), []))
        bot = self._bot()
        for chat_id in sorted(chats):
            async with self._turn(chat_id):
                seen = self._last_seen.get(chat_id)
                if seen is not None and seen >= cutoff:
                    continue  # the person came back while we waited for the turn
                ids, _ = await self._erasable(chat_id)
                await delete_all(bot, chat_id, ids, self.policy)
                # In a private chat the chat id is the person's user id.
                await self._forget(chat_id, chat_id)
        return len(chats)

    # ----- helpers ----------------------------------------------------------------------------
    def _check(self, text: str) -> Checked | None:
        """The engine's escalation check alone; None if it fails (``_respond`` then tries it all again)."""
        try:
            return self.engine.check(text)
        except Exception as exc:
            log.error("the engine failed on a message's escalation check: %s", type(exc).__name__)
            return None

    def _respond(self, incoming: Incoming, checked: Checked | None = None) -> Outcome:
        """The engine's answer; if the engine fails, still the 999 line and the helpline."""
        try:
            return self.engine.respond(incoming, checked)
        except Exception as exc:
            log.error("the engine failed on a message: %s", type(exc).__name__)
            return Outcome((self._last_resort(),), fallback=True)

    def _system(self, name: str, now: datetime, chat: int | None = None) -> Reply:
        try:
            return self.engine.system_reply(name, now, chat)
        except Exception as exc:
            log.error("the engine failed on its %s line: %s", name, type(exc).__name__)
            return self._last_resort()

    def _last_resort(self) -> Reply:
        return last_resort(self.config.service)

    def _bot(self) -> Any:
        assert self._app is not None, "install() first"
        return self._app.bot

    def _note(self, chat_id: int, message_ids: Sequence[int], when: datetime) -> None:
        stamp = when.timestamp()
        # Re-inserted so that the dicts run least recently active first: memory stays bounded however
        # many people write, and a chat pushed out still has its ids in the store.
        recent = self._recent.pop(chat_id, {})
        self._recent[chat_id] = recent
        for mid in message_ids:
            recent[mid] = stamp
        while len(recent) > RECENT_PER_CHAT:
            del recent[next(iter(recent))]
        self._last_seen[chat_id] = max(self._last_seen.pop(chat_id, 0.0), time.time())
        for table in (self._recent, self._last_seen):
            while len(table) > CHATS_IN_MEMORY:
                del table[next(iter(table))]

    def _deletable(self, chat_id: int) -> list[int]:
        oldest = time.time() - DELETE_WINDOW.total_seconds()
        return [mid for mid, stamp in self._recent.get(chat_id, {}).items() if stamp > oldest]

    def _prune(self) -> None:
        oldest = time.time() - DELETE_WINDOW.total_seconds()
        for chat_id in list(self._recent):
            kept = {m: s for m, s in self._recent[chat_id].items() if s > oldest}
            if kept:
                self._recent[chat_id] = kept
            else:
                del self._recent[chat_id]
        for chat_id in [c for c, seen in self._last_seen.items() if seen < oldest]:
            del self._last_seen[chat_id]

    @asynccontextmanager
    async def _turn(self, chat_id: int) -> AsyncIterator[None]:
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

    def _write(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Queue a store write for the writer task (never awaited on the reply path)."""
        try:
            self._writes.put_nowait(call)
        except asyncio.QueueFull:
            log.warning("storage backlog full: a count or message id was not kept")

    def _write_for(
        self, chat_id: int, call: Callable[[], Awaitable[Any]], erased: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        """Queue a write about one chat; if the chat is erased before it runs, ``erased`` runs instead (or nothing)."""
        self._queued += 1
        number = self._queued

        def chosen() -> Awaitable[Any]:
            if self._erased_at.get(chat_id, 0) < number:
                return call()
            return erased() if erased is not None else asyncio.sleep(0)

        self._write(chosen)

    async def _write_loop(self) -> None:
        while True:
            call = await self._writes.get()
            try:
                await self._ask_store(call(), None)
            finally:
                self._writes.task_done()
            if self._writes.empty():
                self._erased_at.clear()  # nothing queued before any erase is left

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask_store(self, call: Awaitable[T], default: T, seconds: float | None = None) -> T:
        """Await a store call for at most a few seconds; any failure gives ``default``."""
        try:
            return await asyncio.wait_for(call, STORE_SECONDS if seconds is None else seconds)
        except Exception as exc:
            log.warning("storage call abandoned: %s", type(exc).__name__)
            return default

    def _is_admin_command(self, text: str, user_id: int) -> bool:
        if user_id not in self.config.telegram.admins or not text.startswith("/"):
            return False
        return text.split(maxsplit=1)[0].lower() in ADMIN_COMMANDS

    @staticmethod
    def _strip_mention(text: str, username: str | None) -> str:
        """ "/help@ThisBot more" -> "/help more" (Telegram clients add the name in some menus)."""
        if not text.startswith("/") or not username:
            return text
        head, sep, rest = text.partition(" ")
        name, at, mention = head.partition("@")
        if at and mention.lower() == username.lower():
            return name + sep + rest
        return text


def erase_summary(deleted: int, failed: int, *, listed: bool, forgotten: bool) -> str:
    """What an erase did and did not do, in the person's words: the first lines of the erase notice."""

    def messages(n: int) -> str:
        return f"{n} message" if n == 1 else f"{n} messages"

    whole = not failed and listed and forgotten
    known = f"{messages(deleted + failed)} from the last 48 hours that I had a record of"
    lines = ["<b>Quick exit</b>" if whole else "<b>Quick exit: not everything was deleted</b>"]
    if failed:
        lines.append(f"I deleted {deleted} of the {known}.")
        lines.append(f"{messages(failed)} could not be deleted: Telegram did not accept the request.")
    else:
        lines.append(f"I deleted the {known}.")
    if not listed:
        lines.append("I could not read my record of this chat's earlier messages, so some may still be here.")
    if not forgotten:
        lines.append(
            "My record of this chat (message ids, this chat's id and today's activity code) could not be "
            "removed because my database was busy or full; it is removed automatically within two days."
        )
    return "\n".join(lines)


def _date(messages: Sequence[Message]) -> datetime:
    return messages[-1].date if messages else now_utc()


# ----- building and running ---------------------------------------------------------------------
def sends_per_second(config: Config) -> float:
    """The send pace across chats: telegram.sends_per_second, unless the environment overrides it."""
    try:
        return max(0.0, float(os.environ.get(SENDS_ENV, config.telegram.sends_per_second)))
    except ValueError:
        return float(config.telegram.sends_per_second)


def build_application(
    config: Config, token: str, channel: TelegramChannel, per_second: float | None = None
) -> AnyApp:
    """The PTB Application with our defaults, concurrency, send gate and handlers."""
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        protect_content=config.telegram.protect_content,
        disable_notification=config.telegram.disable_notification,
    )
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.base_url)
        .defaults(defaults)
        .concurrent_updates(256)
        .rate_limiter(SendGate(INFLIGHT, sends_per_second(config) if per_second is None else per_second))
        .job_queue(None)
        .post_init(channel.post_init)
        .post_shutdown(channel.post_shutdown)
        .build()
    )
    channel.install(app)
    return app


def make_poller(app: AnyApp, config: Config, channel: TelegramChannel, **options: Any) -> Poller:
    """Our long polling (see telegram_poll): confirms updates once answered, skips ones answered before."""
    return Poller(
        app.bot,
        app.process_update,
        allowed_updates=ALLOWED_UPDATES,
        answered=answered_log(config),
        behind=_behind(app, BEHIND_SECONDS),
        on_missed=channel.ask_to_resend,
        **options,
    )


def make_webhook(app: AnyApp, config: Config, *, port: int | None = None) -> WebhookServer:
    """Our webhook server (see telegram_webhook): Telegram's POST gets its 200 once the update is answered."""
    tg = config.telegram
    receiver = Receiver(app.process_update, answered=answered_log(config), behind=_behind(app, WEBHOOK_BEHIND_SECONDS))
    return WebhookServer(
        receiver,
        app.bot,
        path=urlparse(tg.url).path,
        secret=config.webhook_secret() or "",
        listen=tg.listen,
        port=tg.port if port is None else port,
    )


def answered_log(config: Config) -> AnsweredLog:
    """Ids of updates answered but perhaps not yet confirmed to Telegram, beside the database."""
    return AnsweredLog(config.path(config.storage.path).with_name("answered-updates.log"))


def _behind(app: AnyApp, seconds: float) -> Callable[[], bool]:
    gate = app.bot.rate_limiter
    return lambda: isinstance(gate, SendGate) and gate.behind_seconds() > seconds


async def serve(app: AnyApp, channel: TelegramChannel, config: Config) -> None:
    """Start, serve (polling or webhook) until SIGINT/SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if not await initialize(app, stop):
        return
    try:
        await channel.post_init(app)
        await app.start()
        if config.telegram.mode == "webhook":
            await _serve_webhook(app, config, channel, stop)
        else:
            await _serve_polling(app, config, channel, stop)
    finally:
        # Also when serving failed (a refused webhook URL): a running app cannot shut down, and an
        # unclosed store keeps its worker thread, so the process would hang instead of exiting.
        if app.running:
            await app.stop()
        try:
            await app.shutdown()
        finally:
            await channel.post_shutdown(app)


async def initialize(app: AnyApp, stop: asyncio.Event) -> bool:
    """app.initialize(), tried again with backoff while Telegram cannot be reached; False if stopped first."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await app.initialize()
            return True
        except InvalidToken:
            raise  # retrying cannot help
        except NetworkError as exc:
            delay = STARTUP_RETRY_SECONDS[min(attempt, len(STARTUP_RETRY_SECONDS)) - 1]
            # The error's own words ("httpx.ConnectError: All connection attempts failed") hold no user data.
            log.warning("start-up attempt %d: cannot reach Telegram: %s; retrying in %.1fs", attempt, exc, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                await app.bot.shutdown()  # its HTTP clients are open even though get_me failed
                return False


async def _serve_polling(app: AnyApp, config: Config, channel: TelegramChannel, stop: asyncio.Event) -> None:
    poller = make_poller(app, config, channel)
    task = asyncio.create_task(poller.run(), name="poller")
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # a bad token ends polling: raise it
    waiter.cancel()
    await poller.stop(task)


async def _serve_webhook(app: AnyApp, config: Config, channel: TelegramChannel, stop: asyncio.Event) -> None:
    server = make_webhook(app, config)
    server.start()  # listening before Telegram is told where to deliver
    try:
        await set_webhook(app.bot, config)
        missed = server.receiver.missed()
        if missed:
            await channel.ask_to_resend(missed)
            server.receiver.forget_missed()
        await stop.wait()
    finally:
        await server.stop()


async def set_webhook(bot: Any, config: Config) -> None:
    """Point Telegram at our URL, keeping what people wrote meanwhile; network trouble is retried."""
    tg = config.telegram
    for attempt in range(BOOTSTRAP_RETRIES + 1):
        try:
            await bot.set_webhook(
                url=tg.url,
                secret_token=config.webhook_secret(),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                max_connections=WEBHOOK_CONNECTIONS,
            )
            return
        except (BadRequest, InvalidToken):
            raise  # a wrong URL, port or token: retrying cannot help
        except NetworkError as exc:
            if attempt == BOOTSTRAP_RETRIES:
                raise
            log.warning("setting the webhook: %s; retrying", type(exc).__name__)
            await asyncio.sleep(1.0 + attempt)


class _RedactToken(logging.Filter):
    """Belt and braces: no log line may carry the bot token (httpx logs request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


class _NoUpdateContent(logging.Filter):
    """Belt and braces: a python-telegram-bot log line that quotes updates keeps only its exception type.

    PTB logs the whole batch (everyone's text, names and ids) when it cannot parse one update of it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] == "telegram" and "update_id" in record.getMessage():
            error = record.exc_info[1] if record.exc_info else None
            record.msg = "python-telegram-bot logged update content (withheld): %s"
            record.args = (type(error).__name__ if error else "no exception",)
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def configure_logging(level: str, token: str) -> None:
    """Log to stderr at ``level``, with nothing that could carry a message, a name or the token."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    # PTB logs API parameters and returned updates (people's messages) at DEBUG; httpx logs request
    # URLs (which hold the token) at INFO: keep both above those levels whatever log_level says.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for handler in root.handlers:
        handler.addFilter(_NoUpdateContent())
        handler.addFilter(_RedactToken(token))


def run(config: Config) -> int:
    """`python -m bot run`: serve on Telegram until SIGINT/SIGTERM. Returns the exit code."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(
            f"error: set {TOKEN_ENV} to the token @BotFather gave you (it is never read from a file)",
            file=sys.stderr,
        )
        return 2
    if config.telegram.mode == "webhook" and not config.webhook_secret():
        print(
            "error: webhook mode needs telegram.secret_token (or TELEGRAM_WEBHOOK_SECRET) so that "
            "requests not from Telegram are rejected",
            file=sys.stderr,
        )
        return 2
    configure_logging(config.log_level, token)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta, no warning
    from bot.check import load_for_serving
    from bot.engine import Engine, conversations

    catalog, problems = load_for_serving(str(config.path(config.intents_dir)), config.placeholders())
    errors = [p for p in problems if p.severity == "error"]
    if catalog is None or errors:
        for problem in problems:
            print(problem, file=sys.stderr)
        print("error: the intent files have problems; fix them (see `python -m bot check`)", file=sys.stderr)
        return 1
    engine = Engine(catalog, config.placeholders(), erase_button=config.privacy.erase_button,
                    conversations=conversations(config))
    channel = TelegramChannel(engine, config, open_store=True)
    app = build_application(config, token, channel)
    try:
        asyncio.run(serve(app, channel, config))
    except InvalidToken:
        print(f"error: Telegram refused the token in {TOKEN_ENV}", file=sys.stderr)
        return 1
    except CannotListen as exc:
        print(f"error: the webhook server cannot listen on {exc} (telegram.listen / telegram.port)", file=sys.stderr)
        return 1
    except BadRequest as exc:
        # Telegram's own words (e.g. "bad webhook: An HTTPS URL must be provided"): no user data in them.
        print(f"error: Telegram refused the settings: {exc.message}", file=sys.stderr)
        return 1
    except TelegramError as exc:
        print(f"error: could not start: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0
