"""Faults, flood limits and kill -9, small enough for CI: every message answered, and exactly once where
a Bot API client can know. A test that takes ``mode`` runs by long polling and by webhook (a message a
crash cut off: in-process here for polling, as a process in test_webhook.py for webhook). The full-size
runs with figures are in benchmarks/load.py.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.channels.telegram.app import make_poller
from bot.channels.telegram.delivery_log import AnsweredLog
from tests.support.admin import ADMIN
from tests.support.chat import EMERGENCY, QUESTION, expected, plain
from tests.support.default import INTENTS, default_engine
from tests.support.fake_telegram import FakeTelegram, Fault
from tests.support.load import (
    TEXTS,
    Bot,
    Load,
    add_generated,
    answers,
    engine_for,
    plan_for,
    replays,
    tally,
    tally_after_restart,
)
from tests.support.load import (
    missed_line as missed_text,
)
from tests.support.running import Running, make_config, serving


def want_for(running: Running) -> dict[str, list[str]]:
    return {t: expected(running, t) for t in (*TEXTS, QUESTION)}


async def burst(load: Load, plan: dict[int, list[str]]) -> None:
    for k in range(max(map(len, plan.values()))):
        for chat, texts in plan.items():
            if k < len(texts):
                load.send(chat, texts[k])


async def test_every_nth_call_failing_loses_and_duplicates_nothing(fake: FakeTelegram, tmp_path: Path) -> None:
    running = Running(fake, make_config(fake, tmp_path))
    await running.start()
    try:
        # 500s, 429s with retry_after and connections dropped before the server acted, on sends and
        # on long polls alike: all safe to retry.
        fake.fail_every(5, ("500", "429", "drop"), ("sendMessage", "getUpdates"))
        load = Load(fake, want_for(running))
        plan = plan_for(30, 3)
        await burst(load, plan)
        assert await load.settle(plan, 30)
        assert sum(c.status != 200 for c in fake.calls) >= 10  # the faults did happen
        assert tally(fake, plan, load.want) == (0, 0)
        assert running.poller is not None and not running._polling.done()  # still polling
        fake.fail_every(10**9, ("500",))
        load.send(999, QUESTION)  # and still answering
        assert await load.settle({999: [QUESTION]}, 5)
    finally:
        await running.stop()


async def test_a_send_whose_answer_was_lost_is_sent_again_and_counted(fake: FakeTelegram, tmp_path: Path) -> None:
    running = Running(fake, make_config(fake, tmp_path))
    await running.start()
    try:
        # The server sends the message, then the connection drops or the answer comes after the client's
        # timeout: the bot cannot tell this from a failure before sending, and retries, because a
        # duplicate safety answer is better than a lost one.
        fake.fail_every(4, ("lost", "timeout"), ("sendMessage",))
        load = Load(fake, want_for(running))
        plan = plan_for(20, 2)
        await burst(load, plan)
        assert await load.settle(plan, 30)
        await fake.wait_until(lambda: not fake.faults_in_progress, 10)
        lost_answers = sum(1 for c in fake.calls if c.method == "sendMessage" and c.status == 0)
        assert lost_answers >= 8
        assert tally(fake, plan, load.want) == (0, lost_answers)
    finally:
        await running.stop()


async def test_the_fake_enforces_flood_limits_with_retry_after(fake: FakeTelegram, tmp_path: Path) -> None:
    from telegram.error import RetryAfter

    fake.enforce_limits()
    running = Running(fake, make_config(fake, tmp_path), per_second=0.0)
    await running.start(poll=False)
    try:
        fake.chat(1)
        for _ in range(3):  # a short burst in one chat is let through
            await running.app.bot.send_message(1, "a")
        try:
            await running.app.bot.send_message(1, "a")
            raise AssertionError("the fourth message within a second went through")
        except RetryAfter as exc:
            assert exc.retry_after.total_seconds() >= 1  # type: ignore[union-attr]
        chats = range(2, 80)  # 30 a second across chats
        for chat in chats:
            fake.chat(chat)
        started = time.monotonic()
        results = await asyncio.gather(
            *(running.app.bot.send_message(c, "b") for c in chats), return_exceptions=True
        )
        elapsed = time.monotonic() - started
        # At most a full bucket (30) plus what it refilled while the sends were in flight: on a slow machine
        # that is more than 30, yet well short of all 78 unless the sends took over 1.6 s.
        assert 25 <= sum(not isinstance(r, Exception) for r in results) <= 30 + 30 * elapsed
        assert all(isinstance(r, RetryAfter) for r in results if isinstance(r, Exception))
        assert fake.floods == 1 + sum(isinstance(r, Exception) for r in results)
    finally:
        await running.stop()


async def test_an_emergency_overtakes_a_flood_limited_backlog(fake: FakeTelegram, tmp_path: Path, mode: str) -> None:
    fake.enforce_limits()  # ~30 sends a second overall, ~1 a second per chat, 429 beyond
    async with serving(fake, make_config(fake, tmp_path), mode, per_second=30.0) as running:
        load = Load(fake, want_for(running))
        backlog = {chat: [QUESTION] for chat in range(1, 151)}  # about 5 s of sends at 30 a second
        await burst(load, backlog)
        urgent = 500
        load.send(urgent, EMERGENCY)  # last in Telegram's queue, behind 150 updates
        await fake.wait_until(lambda: bool(load.sends.get(urgent)), 10)
        waiting = sum(len(load.want[QUESTION]) - len(load.sends.get(c, ())) for c in backlog)
        assert waiting >= 75  # answered while at least half the backlog was still queued
        assert fake.texts(urgent)[0] == load.want[EMERGENCY][0]  # the escalation first in its chat
        plan = {**backlog, urgent: [EMERGENCY]}
        assert await load.settle(plan, 30)
        assert tally(fake, plan, load.want) == (0, 0)


async def test_an_emergency_is_answered_while_a_big_catalog_reloads(fake: FakeTelegram, tmp_path: Path) -> None:
    folder = tmp_path / "intents"
    shutil.copytree(INTENTS, folder)
    running = Running(fake, make_config(fake, tmp_path, telegram={"admins": (ADMIN,)}, intents_dir=folder))
    await running.start()
    try:
        want = expected(running, EMERGENCY)
        add_generated(folder, 50, 100)  # 5,000 examples more: a reload of several seconds
        reloading = running.channel.admin._reloading
        fake.message(ADMIN, "/reload")
        await fake.wait_until(reloading.locked, 10)
        urgent = ADMIN + 1
        fake.message(urgent, EMERGENCY)
        await fake.wait_until(lambda: bool(fake.texts(urgent)) or bool(fake.texts(ADMIN)), 60)
        assert fake.texts(urgent)[:1] == want[:1] and "999" in want[0]
        assert reloading.locked() and fake.texts(ADMIN) == []  # the reload was still running
        await fake.wait_until(lambda: bool(fake.texts(ADMIN)), 60)
        assert fake.texts(ADMIN)[0].startswith("Reloaded")
        assert fake.texts(urgent) == want
    finally:
        await running.stop()


async def test_updates_answered_before_a_crash_are_not_answered_again(
    fake: FakeTelegram, tmp_path: Path, mode: str
) -> None:
    config = make_config(fake, tmp_path)
    first = fake.message(1, QUESTION)
    second = fake.message(2, QUESTION)
    # As if the bot had answered the first update, then died before confirming it to Telegram.
    log = config.path(config.storage.path).with_name("answered-updates.log")
    log.write_text(f"{first['update_id']}\n", encoding="ascii")
    async with serving(fake, config, mode) as running:
        await fake.wait_until(lambda: bool(fake.texts(2)))
        await fake.wait_until(lambda: fake.pending_updates() == 0)  # both confirmed now
        assert fake.texts(1) == [] and fake.texts(2) == expected(running, QUESTION)
        assert second["update_id"] > first["update_id"]


def missed_line(running: Running) -> list[str]:
    return [plain(running.engine.system_reply("missed_message").html)]


async def test_a_message_confirmed_but_cut_off_by_a_crash_is_asked_for_again(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = make_config(fake, tmp_path)
    fake.chat(77)  # wrote to the bot before the crash
    first = fake.message(78, QUESTION)
    # The last run told Telegram update 0 was done (a flood backlog), then died before answering it;
    # the next update is still with Telegram, so it was not confirmed: answered now, not asked for again.
    log = config.path(config.storage.path).with_name("answered-updates.log")
    log.write_text(f"r 0 77\nr {first['update_id']} 78\n", encoding="ascii")
    running = Running(fake, config)
    await running.start()
    try:
        await fake.wait_until(lambda: bool(fake.texts(77)) and bool(fake.texts(78)))
        assert fake.texts(77) == missed_line(running)
        assert fake.texts(78) == expected(running, QUESTION)
        assert "999" in fake.texts(77)[0] and "0808 802 0300" in fake.texts(77)[0]
    finally:
        await running.stop()
    again = Running(fake, config)  # asked once: not again after another restart
    await again.start()
    try:
        fake.message(79, QUESTION)
        await fake.wait_until(lambda: bool(fake.texts(79)))
        assert fake.texts(77) == missed_line(running)
        assert "77" not in log.read_text(encoding="ascii").split()  # tidied: that chat id is gone
    finally:
        await again.stop()


async def test_a_stop_that_cuts_off_a_stuck_update_asks_for_it_after_the_restart(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = make_config(fake, tmp_path)
    running = Running(fake, config)
    await running.start(poll=False)
    # An update held longer than `hold` no longer holds the confirmation back (one stuck chat must not
    # stall everyone): a stop then confirms it although its answer is still waiting.
    poller = make_poller(running.app, config, running.channel, timeout=1, hold=0.3)
    polling = asyncio.create_task(poller.run())
    fake.fail("sendMessage", Fault.flood(5, chat_id=90))  # this chat's answer waits 5 s
    update = fake.message(90, QUESTION)
    await fake.wait_until(lambda: any(c.method == "sendMessage" and c.status == 429 for c in fake.calls), 10)
    await asyncio.sleep(0.5)
    await poller.stop(polling, grace=0.2)
    await running.stop()
    log = config.path(config.storage.path).with_name("answered-updates.log")
    assert f"r {update['update_id']} 90" in log.read_text(encoding="ascii").splitlines()
    assert fake.pending_updates() == 0  # confirmed to Telegram: it will never come again
    again = Running(fake, config)
    await again.start()
    try:
        await fake.wait_until(lambda: bool(fake.texts(90)), 10)
        assert fake.texts(90) == missed_line(again)
    finally:
        await again.stop()


def test_the_answered_log_keeps_ids_only_and_tidies_itself(tmp_path: Path) -> None:
    path = tmp_path / "answered.log"
    log = AnsweredLog(path)
    log.risk(10, 500, lambda: 0)
    log.risk(10, 500, lambda: 0)  # once is enough
    log.risk(11, None, lambda: 0)  # no chat: nobody to ask
    log.add(9, lambda: 0)
    log.risk(12, 501, lambda: 0)
    log.add(12, lambda: 0)
    log.close(rewrite=False)
    path.write_text(path.read_text() + "garbage\nr x 1\n")
    reopened = AnsweredLog(path)
    assert reopened.previous == {9, 12}
    assert reopened.missed() == {10: 500}
    reopened.close(keep_from=10)
    assert path.read_text() == "12\nr 10 500\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


class Sent:
    """Stands in for the fake Bot API's record of what each chat was sent."""

    def __init__(self, texts: dict[int, list[str]]) -> None:
        self._texts = texts

    def texts(self, chat: int) -> list[str]:
        return self._texts.get(chat, [])


def test_the_restart_tally_accepts_what_a_restart_may_change_but_counts_every_loss() -> None:
    engine = default_engine()
    texts = ["how do i report stalking to the police", "is it free"]  # a follow-up: its answer needs the topic
    missed = missed_text(engine)
    paths = list(replays(engine, texts, missed))
    remembered, forgotten = paths[0], paths[3]  # in order; in order with the chat forgotten in between
    assert remembered != forgotten and missed not in remembered  # else this test proves nothing
    plan = {1: texts}

    def sent(messages: list[str]) -> tuple[int, int]:
        return tally_after_restart(Sent({1: messages}), plan, engine)  # type: ignore[arg-type]

    one = list(remembered.elements())
    assert sent(one) == sent(list(forgotten.elements())) == sent(one[::-1]) == (0, 0)
    assert sent([missed, *list(forgotten.elements())[1:]]) == (0, 0)  # the first cut off: "send it again"
    assert sent(one[1:]) == (1, 0)
    assert sent(one + one[:1]) == (0, 1)
    assert sent(one + [missed]) == (0, 1)  # the "send it again" line beside an answer is one too many
    assert sent(one[:1] + ["something never said"])[0] >= 1


async def test_kill_9_mid_burst_then_restart_loses_nothing(fake: FakeTelegram, tmp_path: Path, mode: str) -> None:
    bot = Bot(fake, tmp_path, webhook=mode == "webhook")
    engine = engine_for(bot.config)
    load = Load(fake, answers(engine, TEXTS), engine)
    await bot.start()
    try:
        plan = plan_for(50, 3)
        total = sum(load.expected(plan).values())
        await burst(load, plan)
        await fake.wait_until(lambda: sum(map(len, load.sends.values())) >= total // 3, 30)
        bot.kill9()
        sent_before = sum(map(len, load.sends.values()))
        assert sent_before < total and fake.pending_updates() > 0  # killed in the middle: Telegram holds updates
        started = time.monotonic()
        await bot.start()
        assert await load.settle(plan, 60), f"not all answered {time.monotonic() - started:.1f}s after restart"
        lost, dup = tally_after_restart(fake, plan, engine)
        assert lost == 0
        # A duplicate needs the kill to land between a send and the record of its update: at most the
        # sends in flight at that moment.
        assert dup <= 64
        await fake.wait_until(lambda: fake.pending_updates() == 0, 10)  # every update confirmed (by webhook: a 200)
        assert await bot.stop() == 0
    finally:
        await bot.stop()
        await asyncio.sleep(0)


async def test_memory_per_person_is_bounded(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.telegram import chats

    monkeypatch.setattr(chats, "CHATS_IN_MEMORY", 50)
    memory = running.channel.chats
    now = datetime.now(timezone.utc)
    for chat in range(1, 201):
        memory.note(chat, [1, 2], now)
    memory.note(150, [3], now)  # active again: kept as the most recent
    assert len(memory.recent) == 50 and len(memory.last_seen) == 50
    assert list(memory.recent)[-1] == 150 and 200 in memory.recent and 100 not in memory.recent
