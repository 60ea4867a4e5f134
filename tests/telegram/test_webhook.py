"""Webhook mode: Telegram's POST gets its 200 only once the update is answered, and never twice an answer.

The fake delivers updates to the bot's webhook server as Telegram does (``FakeTelegram.deliver_to``):
oldest first, several at once, the secret token in a header, again later until the answer is 200.
The scenarios written once for both modes (flood backlog, kill -9, restarts) are in test_reliability.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from telegram import Update

from bot.channels.telegram.app import make_webhook, set_webhook
from bot.channels.telegram.delivery_log import AnsweredLog
from bot.channels.telegram.webhook import Receiver, WebhookServer
from tests.support.chat import EMERGENCY, QUESTION, expected
from tests.support.fake_telegram import FakeTelegram, Fault
from tests.support.load import TEXTS, Bot, Load, plan_for, tally
from tests.support.running import HOOK, SECRET, Running, make_config


class Served:
    """The real Application behind our webhook server, with the fake delivering to it."""

    def __init__(self, running: Running, server: WebhookServer) -> None:
        self.running = running
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}/tg/hook"

    async def post(self, body: bytes | str, secret: str | None = SECRET) -> int:
        """One POST as Telegram (or someone else) would make it; returns the status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with aiohttp.ClientSession() as session, session.post(self.url, data=body, headers=headers) as r:
            return r.status


@pytest.fixture
async def served(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Served]:
    running = Running(fake, make_config(fake, tmp_path, telegram=HOOK))
    await running.start(poll=False)
    server = make_webhook(running.app, running.config, port=0)
    server.start()
    await set_webhook(running.app.bot, running.config)
    out = Served(running, server)
    fake.deliver_to(out.url)
    try:
        yield out
    finally:
        await server.stop()
        await running.stop()


async def test_set_webhook_keeps_pending_updates_and_asks_for_the_right_updates(
    served: Served, fake: FakeTelegram
) -> None:
    assert fake.webhook == {
        "url": "https://bot.example.org/tg/hook",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"],
    }
    assert fake.calls_of("setWebhook")[-1].params.get("drop_pending_updates") is False
    assert not fake.calls_of("getUpdates")


async def test_the_200_comes_only_after_the_answer(served: Served, fake: FakeTelegram) -> None:
    sent: dict[int, float] = {}
    fake.on_send = lambda chat, at: None if chat in sent else sent.update({chat: at})
    update = fake.message(80, QUESTION)
    await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 10)
    assert fake.texts(80) == expected(served.running, QUESTION)
    assert sent[80] < fake.delivered_at[update["update_id"]]
    assert fake.pending_updates() == 0


async def test_requests_without_the_secret_are_refused_unread(served: Served, fake: FakeTelegram) -> None:
    chat = {"id": 84, "type": "private", "first_name": "Test"}
    forged = json.dumps(
        {"update_id": 10**6, "message": {"message_id": 1, "date": int(time.time()), "chat": chat, "text": "hi"}}
    )
    assert await served.post(forged, None) == 403
    assert await served.post(forged, "wrong") == 403
    assert await served.post(b"\xff not json", SECRET) == 400
    assert await served.post("[1, 2]", SECRET) == 400
    assert fake.calls_of("sendMessage") == []


@pytest.mark.parametrize("path", ["/tg+hook", "/hook(1)"])
async def test_the_webhook_path_is_matched_literally(fake: FakeTelegram, tmp_path: Path, path: str) -> None:
    config = make_config(fake, tmp_path, telegram={**HOOK, "url": f"https://bot.example.org{path}"})
    running = Running(fake, config)
    await running.start(poll=False)
    server = make_webhook(running.app, running.config, port=0)
    server.start()
    await set_webhook(running.app.bot, running.config)
    fake.deliver_to(f"http://127.0.0.1:{server.port}{path}")
    try:
        update = fake.message(85, QUESTION)
        await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 10)
        assert fake.texts(85) == expected(running, QUESTION)
        assert fake.failed_deliveries == 0
    finally:
        await server.stop()
        await running.stop()


async def test_deeply_nested_json_is_a_bad_request_and_serving_goes_on(
    served: Served, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.channels.telegram.webhook")
    deep = "[" * 100_000 + "]" * 100_000
    assert await served.post(deep) == 400
    assert await served.post('{"update_id": 7, "message": ' + deep + "}") == 400
    update = fake.message(86, QUESTION)
    await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 10)
    assert fake.texts(86) == expected(served.running, QUESTION)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.getMessage() for r in refused] == ["webhook request refused with 400"] * 2
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_an_update_ptb_cannot_parse_gets_its_200_and_is_skipped_by_id(
    served: Served, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = fake.message(87, "my neighbour Zyzzyva follows me")
    bad["message"]["date"] = "yesterday"  # PTB's parser raises on it
    fake.message(88, EMERGENCY)
    await fake.wait_until(lambda: bool(fake.texts(88)) and fake.pending_updates() == 0, 10)
    assert fake.texts(88) == expected(served.running, EMERGENCY)
    assert fake.failed_deliveries == 0  # confirmed at once: Telegram does not send it again
    assert f"update {bad['update_id']} skipped: it could not be read (TypeError)" in caplog.messages
    assert not [m for m in caplog.messages if "Zyzzyva" in m or "yesterday" in m]


async def test_a_redelivered_update_is_not_answered_again(served: Served, fake: FakeTelegram) -> None:
    update = fake.message(81, EMERGENCY)
    await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 10)
    first = fake.texts(81)
    assert first == expected(served.running, EMERGENCY)
    # Telegram sends an update again when our 200 got lost on the way: same id, no second answer.
    assert await served.post(json.dumps(update)) == 200
    await asyncio.gather(*(served.post(json.dumps(update)) for _ in range(3)))
    await asyncio.sleep(0.3)
    assert fake.texts(81) == first


async def test_many_people_at_once_each_answered_once(served: Served, fake: FakeTelegram) -> None:
    load = Load(fake, {t: expected(served.running, t) for t in TEXTS})
    plan = plan_for(40, 3)
    for k in range(3):
        for chat, texts in plan.items():
            load.send(chat, texts[k])
    assert await load.settle(plan, 60)
    assert tally(fake, plan, load.want) == (0, 0)
    assert fake.pending_updates() == 0 and fake.failed_deliveries == 0


async def test_server_errors_on_sends_are_retried_before_the_200(served: Served, fake: FakeTelegram) -> None:
    fake.fail("sendMessage", Fault.server_error(), Fault.dropped())
    update = fake.message(82, QUESTION)
    await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 10)
    assert fake.texts(82) == expected(served.running, QUESTION)


async def test_a_chat_stuck_in_flood_wait_does_not_hold_telegrams_connection(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    running = Running(fake, make_config(fake, tmp_path, telegram=HOOK))
    await running.start(poll=False)
    receiver = Receiver(running.app.process_update, hold=0.3)
    server = WebhookServer(receiver, running.app.bot, path="/tg/hook", secret=SECRET, listen="127.0.0.1", port=0)
    server.start()
    await set_webhook(running.app.bot, running.config)
    fake.deliver_to(f"http://127.0.0.1:{server.port}/tg/hook")
    try:
        fake.fail("sendMessage", Fault.flood(2, chat_id=83))
        update = fake.message(83, QUESTION)
        await fake.wait_until(lambda: update["update_id"] in fake.delivered_at, 5)
        assert fake.texts(83) == []  # told Telegram "done" after the hold, still waiting out the 429
        await fake.wait_until(lambda: bool(fake.texts(83)), 10)
        assert fake.texts(83) == expected(running, QUESTION)
        assert fake.deliveries == 1
    finally:
        await server.stop()
        await running.stop()


class _Handled:
    """A stand-in for Application.process_update that counts and can be held back."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, update: Update) -> None:
        self.calls.append(update.update_id)
        await self.release.wait()
        if update.update_id == 13:
            raise RuntimeError("a bug in a handler")


def _update(uid: int) -> Update:
    return Update(uid)


async def test_receiver_waits_for_the_answer_and_handles_each_update_once() -> None:
    handled = _Handled()
    handled.release.clear()
    receiver = Receiver(handled, hold=5.0)
    first = asyncio.create_task(receiver.receive(_update(1)))
    again = asyncio.create_task(receiver.receive(_update(1)))  # Telegram retried meanwhile
    await asyncio.sleep(0.05)
    assert not first.done() and not again.done()
    handled.release.set()
    await asyncio.gather(first, again)
    await receiver.receive(_update(1))
    assert handled.calls == [1]


async def test_receiver_lets_go_after_hold_and_when_behind() -> None:
    handled = _Handled()
    handled.release.clear()
    behind = False
    receiver = Receiver(handled, hold=0.1, behind=lambda: behind)
    started = time.monotonic()
    await receiver.receive(_update(1))
    assert 0.09 <= time.monotonic() - started < 1.0
    behind = True
    started = time.monotonic()
    await receiver.receive(_update(2))
    assert time.monotonic() - started < 0.05
    handled.release.set()
    await receiver.drain(1.0)
    assert handled.calls == [1, 2]


async def test_receiver_survives_a_failing_handler_and_records_it(tmp_path: Path) -> None:
    handled = _Handled()
    log = AnsweredLog(tmp_path / "answered.log")
    receiver = Receiver(handled, answered=log)
    await receiver.receive(_update(13))
    await receiver.receive(_update(14))
    await receiver.drain(1.0)
    assert (tmp_path / "answered.log").read_text().split() == ["13", "14"]


async def test_updates_answered_before_a_restart_are_not_answered_again(tmp_path: Path) -> None:
    (tmp_path / "answered.log").write_text("5\n6\n")
    handled = _Handled()
    receiver = Receiver(handled, answered=AnsweredLog(tmp_path / "answered.log"))
    for uid in (5, 6, 7):
        await receiver.receive(_update(uid))
    await receiver.drain(1.0)
    assert handled.calls == [7]


async def test_a_delivery_let_go_then_cut_off_by_a_crash_is_asked_for_again(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = Bot(fake, tmp_path, webhook=True)
    fake.chat(77)
    # The last run gave Telegram its 200 for update 4 before answering it (a backlog), then died.
    (tmp_path / "answered-updates.log").write_text("r 4 77\n", encoding="ascii")
    await bot.start()
    try:
        await fake.wait_until(lambda: bool(fake.texts(77)), 30)
        (line,) = fake.texts(77)
        assert line.startswith("Sorry, please send your last message again") and "999" in line
        assert await bot.stop() == 0
        await bot.start()  # asked once, not again
        fake.message(78, QUESTION)
        await fake.wait_until(lambda: bool(fake.texts(78)), 30)
        assert len(fake.texts(77)) == 1
    finally:
        await bot.stop()
