"""Quick exit: /erase, the erase intent, the "Erase chat" button, and auto-erase after a quiet spell."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import bot.channels.telegram as telegram_channel
from bot.messages import ERASE
from tests.conftest import Running, make_config
from tests.fake_telegram import FakeTelegram
from tests.test_telegram_conversation import EMERGENCY, QUESTION, expected, plain, say


async def chat_with(running: Running, chat: int) -> None:
    await say(running, chat, "/start")
    await say(running, chat, QUESTION)


def live(fake: FakeTelegram, chat: int) -> list[int]:
    return [m.message_id for m in fake.chats[chat].messages.values() if not m.deleted]


async def wait_erased(running: Running, chat: int) -> None:
    fake = running.fake
    erased = plain(running.engine.system_reply("erased").html)
    await fake.wait_until(lambda: fake.texts(chat, include_deleted=False)[-1:] == [erased])
    await wait_forgotten(running, chat)


async def wait_forgotten(running: Running, chat: int) -> None:
    for _ in range(50):  # the store is told to forget right after the messages are deleted
        if not await running.channel.store.messages_for(chat):  # type: ignore[union-attr]
            return
        await asyncio.sleep(0.05)
    pytest.fail("the store still remembers message ids of an erased chat")


@pytest.mark.parametrize("how", ["/erase", "please erase this chat"])
async def test_erase_by_command_or_in_words_deletes_both_sides(running: Running, how: str) -> None:
    fake = running.fake
    await chat_with(running, 30)
    assert running.engine.respond(telegram_channel.Incoming(text=how)).erase
    fake.message(30, how)
    await wait_erased(running, 30)
    [left] = live(fake, 30)  # only the neutral line is left, not even the request to erase
    assert fake.chats[30].messages[left].from_bot
    assert all(len(c.params["message_ids"]) <= 100 for c in fake.calls_of("deleteMessages"))


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
    outcome = running.engine.respond(telegram_channel.Incoming(text=text))
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
    monkeypatch.setattr(telegram_channel, "STORE_SECONDS", 0.2)
    running = Running(fake, make_config(fake, tmp_path), store=HangingStore())
    await running.start()
    try:
        assert await say(running, 37, QUESTION) == expected(running, QUESTION)
        fake.message(37, "/erase")
        erased = plain(running.engine.system_reply("erased").html)
        await fake.wait_until(lambda: fake.texts(37, include_deleted=False) == [erased])
        assert len(live(fake, 37)) == 1
    finally:
        await running.stop()
