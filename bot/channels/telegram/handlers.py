"""The Telegram channel's handlers: what each update does, around the engine.

Updates are processed concurrently, but each chat takes its turn through a per-chat lock, so one chat's
replies go out in order (escalation first) while other chats are served; a flood wait in one chat holds
only that chat. Storage calls are side effects scheduled after sending, with timeouts: a slow or broken
database never delays or loses a reply. Logs carry exception types and update ids, never what anyone
wrote or who they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Protocol

from telegram import BotCommand, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import NetworkError, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.lane import Lane
from bot.channels.telegram import store_queue
from bot.channels.telegram.admin import AdminTools, IntentWatcher
from bot.channels.telegram.chats import Chats
from bot.channels.telegram.send import (
    ChatGone,
    SendPolicy,
    answer_query,
    delete_all,
    send_reply,
)
from bot.channels.telegram.store_queue import StoreQueue, ask_store
from bot.config import Config
from bot.engine import COMMAND_DESCRIPTIONS, Checked, last_resort
from bot.store import Store
from bot.turns import ERASE, Incoming, Outcome, Reply

log = logging.getLogger(__name__)
AnyApp = Application[Any, Any, Any, Any, Any, Any]

ADMIN_COMMANDS = ("/stats", "/reload")
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member", "channel_post")
SWEEP_SECONDS = 60.0  # how often quiet chats are checked for auto-erase


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
        self.chats = Chats()
        self.writes = StoreQueue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
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

    async def start(self, app: AnyApp) -> None:
        """After ``app.initialize()``: open the store, publish the command menu, start the periodic tasks."""
        if self._open_store and self.store is None:
            self.store = await Store.open(self.config)
        commands = [BotCommand(name, text) for name, text in COMMAND_DESCRIPTIONS.items()]
        try:
            await app.bot.set_my_commands(commands)
        except TelegramError as exc:  # the menu is a convenience; serving matters more
            log.warning("could not set the command menu: %s", type(exc).__name__)
        self._loops.append(asyncio.create_task(self.writes.run(), name="store-writer"))
        self._loops.append(asyncio.create_task(self._sweep_loop(), name="auto-erase"))
        if self.config.watch_intents:
            watcher = IntentWatcher(self.admin, self._watch_seconds)
            self._loops.append(asyncio.create_task(watcher.run(), name="intent-watcher"))

    async def stop(self) -> None:
        """On shutdown: let queued store writes finish (briefly), stop the periodic tasks, close the store."""
        if self._loops:
            await self.writes.drain(store_queue.STORE_SECONDS)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=store_queue.STORE_SECONDS)
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
        self.chats.note(chat_id, [msg.message_id], written)
        if text is not None:
            text = self._strip_mention(text, context.bot.username)
        if text is not None and self._is_admin_command(text, user.id):
            async with self.chats.turn(chat_id):
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
        async with self.chats.turn(chat_id):
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
        async with self.chats.turn(chat_id):
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
                self.chats.drop_ids(change.chat.id)
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
            async with self.chats.turn(chat_id):
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
            self.chats.note(chat_id, [m.message_id for m in messages], _date(messages))
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
            self.writes.put(partial(self.store.record, outcome, user_key="", when=when))

    async def _erasable(self, chat_id: int) -> tuple[set[int], bool]:
        """The chat's deletable message ids, forgotten from memory; False when the store's list is unreadable."""
        ids = set(self.chats.take(chat_id))
        listed = True
        if self.store is not None:
            stored = await ask_store(self.store.messages_for(chat_id), None)
            listed = stored is not None
            ids.update(stored or ())
        return ids, listed

    async def _forget(self, chat_id: int, user_id: int) -> bool:
        """Have the store forget the chat now (retrying a busy database); True once nothing is left."""
        if self.store is None:
            return True
        self.writes.erased(chat_id)
        forget = self.store.forget_chat(chat_id, self.store.user_key(user_id))
        return await ask_store(forget, False, store_queue.FORGET_SECONDS)

    async def _leave(self, chat_id: int, chat_type: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        async with self.chats.turn(chat_id):
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
                self.writes.put_for(chat_id, partial(store.remember_messages, chat_id, [message_id], written))
            else:
                ids.insert(0, message_id)
        if ids:
            self.writes.put_for(chat_id, partial(store.remember_messages, chat_id, ids, when))
        if outcome is not None:
            key = store.user_key(user_id)
            count = partial(store.record, outcome, when=when)
            self.writes.put_for(chat_id, partial(count, user_key=key), erased=partial(count, user_key=""))
            if outcome.fallback and text and self.config.privacy.log_unmatched:
                self.writes.put(partial(store.log_unmatched, text, when))

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
                    await ask_store(self.store.purge(now_utc()), None)
                self.chats.prune()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("auto-erase sweep failed: %s", type(exc).__name__)

    async def sweep(self, idle_since: datetime) -> int:
        """Erase every conversation quiet since ``idle_since``, silently; returns how many."""
        cutoff = idle_since.timestamp()
        chats = self.chats.quiet(cutoff)
        if self.store is not None:
            chats.update(await ask_store(self.store.quiet_chats(idle_since), []))
        bot = self._bot()
        for chat_id in sorted(chats):
            async with self.chats.turn(chat_id):
                if self.chats.active_since(chat_id, cutoff):
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

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
