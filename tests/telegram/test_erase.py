"""Quick exit: /erase, the erase intent, the "Erase chat" button, and auto-erase after a quiet spell."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import bot.store
from bot.channels.telegram import store_queue
from bot.channels.telegram.handlers import TelegramChannel
from bot.config import Config
from bot.turns import ERASE, Incoming, Outcome
from tests.support.chat import EMERGENCY, QUESTION, expected, plain, say
from tests.support.default import default_engine
from tests.support.fake_telegram import FakeTelegram, Fault
from tests.support.hostile import disk_full
from tests.support.running import Running, make_config


async def chat_with(running: Running, chat: int) -> None:
    await say(running, chat, "/start")
    await say(running, chat, QUESTION)


def live(fake: FakeTelegram, chat: int) -> list[int]:
    return [m.message_id for m in fake.chats[chat].messages.values() if not m.deleted]


async def wait_notice(running: Running, chat: int, timeout: float = 5.0) -> str:
    """The erase notice: what was deleted and what was not, then the catalog's advice."""
    fake = running.fake
    advice = plain(running.engine.system_reply("erased").html)
    await fake.wait_until(lambda: fake.texts(chat, include_deleted=False)[-1:][0].endswith(advice)
                          if fake.texts(chat, include_deleted=False) else False, timeout=timeout)
    return fake.texts(chat, include_deleted=False)[-1]


async def wait_erased(running: Running, chat: int) -> str:
    notice = await wait_notice(running, chat)
    assert notice.startswith("Quick exit\nI deleted "), notice
    await wait_forgotten(running, chat)
    return notice


async def wait_forgotten(running: Running, chat: int) -> None:
    for _ in range(50):  # the store is told to forget right after the messages are deleted
        if not await running.channel.store.messages_for(chat):  # type: ignore[union-attr]
            return
        await asyncio.sleep(0.05)
    pytest.fail("the store still remembers message ids of an erased chat")


async def test_erase_by_command_deletes_both_sides(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 30)
    before = len(live(fake, 30))
    fake.message(30, "/erase")
    notice = await wait_erased(running, 30)
    assert f"I deleted the {before + 1} messages from the last 48 hours that I had a record of." in notice
    [left] = live(fake, 30)  # only the neutral line is left, not even the request to erase
    assert fake.chats[30].messages[left].from_bot
    assert all(len(c.params["message_ids"]) <= 100 for c in fake.calls_of("deleteMessages"))


async def test_erase_in_words_asks_once_then_the_yes_button_erases(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 32)
    before = len(fake.bot_messages(32))
    fake.message(32, "please erase this chat")
    for _ in range(200):
        if len(fake.bot_messages(32)) > before:
            break
        await asyncio.sleep(0.05)
    confirm = fake.bot_messages(32)[-1]
    assert "Erase this chat now?" in (confirm.html or "")
    assert len(live(fake, 32)) > 1, "words alone erased the chat"
    fake.press(32, confirm.message_id, ERASE)
    await wait_erased(running, 32)
    assert len(live(fake, 32)) == 1


async def test_the_erase_button_under_an_answer(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 31)
    answer = fake.bot_messages(31)[-1]
    qid = fake.press(31, answer.message_id, ERASE)
    await wait_erased(running, 31)
    assert fake.queries[qid]["answered"]
    assert len(live(fake, 31)) == 1


async def test_erase_covers_more_than_one_batch(running: Running) -> None:
    fake = running.fake
    for _ in range(60):  # 60 messages and 60 answers
        fake.message(32, "hello")
    await fake.wait_until(lambda: len(fake.texts(32)) >= 60, timeout=30)
    fake.message(32, "/erase")
    await wait_erased(running, 32)
    assert len(live(fake, 32)) == 1
    assert len(fake.calls_of("deleteMessages")) >= 2


async def test_an_emergency_with_the_erase_request_is_answered_and_kept(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 33)
    text = EMERGENCY + ", erase this chat"
    outcome = running.engine.respond(Incoming(text=text))
    assert outcome.escalations
    fake.message(33, text)
    assert outcome.replies[0].kind == "escalation"
    escalation = plain(outcome.replies[0].html)
    await fake.wait_until(lambda: escalation in fake.texts(33))
    await asyncio.sleep(0.3)
    # Whether or not the engine also erases, the escalation answer is sent and never deleted.
    [msg] = [m for m in fake.bot_messages(33, include_deleted=True) if m.text == escalation]
    assert not msg.deleted
    if not outcome.erase:
        assert fake.calls_of("deleteMessages") == []


async def test_messages_past_48_hours_are_left_alone(running: Running) -> None:
    fake = running.fake
    fake.message(34, "hello", age=10)
    await fake.wait_until(lambda: bool(fake.texts(34)))
    # An edit of a message written two days ago: Telegram will not delete it, so the bot must not ask.
    old = fake.message(34, "hello from two days ago", age=49 * 3600)["message"]["message_id"]
    await fake.wait_until(lambda: len(fake.texts(34)) >= 2)
    fake.edit(34, old, "hello again")
    await fake.wait_until(lambda: len(fake.texts(34)) >= 3)
    fake.message(34, "/erase")
    await wait_erased(running, 34)
    assert old in live(fake, 34)


async def test_auto_erase_wipes_quiet_chats_silently(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 35)
    await asyncio.sleep(0.2)  # let the ids reach the store
    bot_messages = len(fake.texts(35))
    erased = await running.channel.sweep(datetime.now(timezone.utc) + timedelta(minutes=1))
    assert erased >= 1
    assert live(fake, 35) == []
    assert len(fake.texts(35)) == bot_messages  # nothing new pops up on a phone someone may be watching
    await wait_forgotten(running, 35)
    assert await running.channel.sweep(datetime.now(timezone.utc) + timedelta(minutes=1)) == 0


async def test_auto_erase_leaves_active_chats_alone(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 36)
    await running.channel.sweep(datetime.now(timezone.utc) - timedelta(minutes=5))
    assert len(live(fake, 36)) == 4


class HangingStore:
    """A database that never answers: replies and erasing must not wait for it."""

    def user_key(self, telegram_user_id: int) -> str:
        return "k"

    def __getattr__(self, name: str) -> Any:
        async def hang(*args: object, **kwargs: object) -> None:
            await asyncio.Event().wait()

        return hang

    async def close(self) -> None:
        return None


async def test_a_hanging_database_costs_no_reply_and_no_erase(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_queue, "STORE_SECONDS", 0.2)
    monkeypatch.setattr(store_queue, "FORGET_SECONDS", 0.2)
    running = Running(fake, make_config(fake, tmp_path), store=HangingStore())
    await running.start()
    try:
        assert await say(running, 37, QUESTION) == expected(running, QUESTION)
        fake.message(37, "/erase")
        notice = await wait_notice(running, 37)
        assert fake.texts(37, include_deleted=False) == [notice]
        assert notice.startswith("Quick exit: not everything was deleted\nI deleted the 3 messages")
        assert "could not read my record of this chat's earlier messages" in notice
        assert "could not be removed" in notice
    finally:
        await running.stop()


async def test_after_a_restart_the_notice_claims_only_what_was_deleted(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(fake, tmp_path)
    full, _ = await disk_full(config, monkeypatch)  # no message id reaches the database
    before = Running(fake, config, store=full)
    await before.start()
    try:
        await chat_with(before, 38)
    finally:
        await before.stop()
    shown = live(fake, 38)
    after = Running(fake, config, open_store=True)
    await after.start()
    try:
        fake.message(38, "/erase")
        notice = await wait_notice(after, 38)
    finally:
        await after.stop()
    assert live(fake, 38)[:-1] == shown  # the bot cannot know of them, so it must not say they are gone
    assert "have been deleted" not in notice
    assert notice.startswith("Quick exit\nI deleted the 1 message from the last 48 hours that I had a record of.\n")
    assert "delete this chat from your chat list in Telegram: that also removes anything still showing" in notice


async def test_deletions_telegram_refuses_are_reported(running: Running) -> None:
    fake = running.fake
    await chat_with(running, 39)
    shown = live(fake, 39)
    fake.fail("deleteMessages", Fault.bad_request("message can't be deleted for everyone"))
    fake.message(39, "/erase")
    notice = await wait_notice(running, 39)
    assert live(fake, 39)[:-2] == shown  # nothing went: not the chat, not the request to erase
    assert notice.startswith(f"Quick exit: not everything was deleted\nI deleted 0 of the {len(shown) + 1} messages")
    assert f"\n{len(shown) + 1} messages could not be deleted: Telegram did not accept the request." in notice


def lock_database(config: Config) -> Callable[[], None]:
    """Another process's exclusive lock on the database; returns its release."""
    other = sqlite3.connect(config.path(config.storage.path), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO daily_counts (day, kind, name, count) VALUES ('2000-01-01', 'lock', '', 1)")

    def release() -> None:
        other.execute("ROLLBACK")
        other.close()

    return release


def stored_about(config: Config, chat: int) -> tuple[int, int]:
    with sqlite3.connect(config.path(config.storage.path)) as raw:
        ids = raw.execute("SELECT count(*) FROM recent_messages WHERE chat_id = ?", (chat,)).fetchone()[0]
        tokens = raw.execute("SELECT count(*) FROM daily_active").fetchone()[0]
    return int(ids), int(tokens)


async def test_an_erase_waits_out_a_short_database_lock(running: Running) -> None:
    fake, config = running.fake, running.config
    await chat_with(running, 40)
    await wait_stored(running, 40)
    assert stored_about(config, 40) != (0, 0)
    release = lock_database(config)
    asyncio.get_running_loop().call_later(3.0, release)
    fake.message(40, "/erase")
    notice = await wait_notice(running, 40, timeout=10)
    assert notice.startswith("Quick exit\nI deleted ")
    assert stored_about(config, 40) == (0, 0)


async def test_an_erase_that_cannot_get_the_database_says_what_is_left(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, config = running.fake, running.config
    monkeypatch.setattr(bot.store, "FORGET_SECONDS", 0.5)
    await chat_with(running, 41)
    await wait_stored(running, 41)
    release = lock_database(config)
    try:
        fake.message(41, "/erase")
        notice = await wait_notice(running, 41)
        assert stored_about(config, 41) != (0, 0)
    finally:
        release()
    assert notice.startswith("Quick exit: not everything was deleted\n")
    assert "My record of this chat (message ids, this chat's id and today's activity code) could not be " in notice


async def wait_stored(running: Running, chat: int) -> None:
    for _ in range(50):
        if await running.channel.store.messages_for(chat):  # type: ignore[union-attr]
            return
        await asyncio.sleep(0.05)
    pytest.fail("the message ids never reached the store")


class RecordingStore(HangingStore):
    """Answers at once and notes every write, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    def __getattr__(self, name: str) -> Any:
        async def note(*args: object, **kwargs: object) -> bool:
            self.calls.append((name, args, kwargs))
            return True

        return note


async def test_writes_queued_before_an_erase_do_not_bring_the_chat_back(fake: FakeTelegram, tmp_path: Path) -> None:
    store = RecordingStore()
    channel = TelegramChannel(default_engine(), make_config(fake, tmp_path), store)
    when = datetime.now(timezone.utc)
    outcome = Outcome((), intent="x")
    channel._after(42, 42, outcome, [7, 8], when, "hi", incoming=(6, when))  # queued, not yet written
    assert await channel._forget(42, 42)
    while len(channel.writes):
        await channel.writes.write_next()
    names = [(name, kwargs.get("user_key")) for name, _, kwargs in store.calls]
    assert names == [("forget_chat", None), ("record", "")]  # counted, but no ids and no day token
