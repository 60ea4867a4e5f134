"""The sending layer against the fake Bot API: splitting, keyboards, retries, fallbacks, deleting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import NetworkError
from telegram.ext import Defaults

from bot.channels.telegram.send import ChatGone, SendPolicy, delete_all, keyboard, send_reply
from bot.htmltext import text_length
from bot.turns import Reply, ReplyButton
from tests.support.fake_telegram import FakeTelegram, Fault

FAST = SendPolicy(backoff=0.01)


@pytest.fixture
async def tg(fake: FakeTelegram) -> AsyncIterator[Bot]:
    from telegram.ext import ExtBot

    bot = ExtBot(fake.token, base_url=fake.base_url, defaults=Defaults(parse_mode=ParseMode.HTML))
    await bot.initialize()
    yield bot
    await bot.shutdown()


def paragraphs(n: int, size: int = 500) -> str:
    return "\n\n".join(f"<b>Part {i}</b> " + "word " * (size // 5) for i in range(n))


async def test_a_long_answer_is_split_at_paragraphs_with_buttons_under_the_last_part(
    fake: FakeTelegram, tg: Bot
) -> None:
    fake.message(1, "hi")
    html = paragraphs(20)
    assert text_length(html) > 4096 * 2
    reply = Reply(html, (ReplyButton("More", data="i:more"), ReplyButton("Erase chat", data="erase")))
    sent = await send_reply(tg, 1, reply, FAST)
    assert len(sent) == 3
    msgs = fake.bot_messages(1)
    assert all((m.html or "").startswith("<b>Part") for m in msgs)  # each part starts at a paragraph
    assert [m.reply_markup is not None for m in msgs] == [False, False, True]
    assert "".join(m.text or "" for m in msgs).count("Part") == 20


async def test_buttons_telegram_would_refuse_are_left_out() -> None:
    markup = keyboard(
        (
            ReplyButton("ok", data="i:x"),
            ReplyButton("long", data="x" * 65),
            ReplyButton(" ", data="y"),
            ReplyButton("site", url="https://example.org"),
        )
    )
    assert markup is not None
    assert [row[0].text for row in markup.inline_keyboard] == ["ok", "site"]
    assert keyboard(()) is None


async def test_flood_control_waits_retry_after_then_sends(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(2, "hi")
    fake.fail("sendMessage", Fault.flood(1))
    started = time.monotonic()
    await send_reply(tg, 2, Reply("answer"), FAST)
    assert time.monotonic() - started >= 1.0
    assert fake.texts(2) == ["answer"]


async def test_server_errors_and_dropped_connections_are_retried_with_backoff(
    fake: FakeTelegram, tg: Bot
) -> None:
    fake.message(3, "hi")
    fake.fail("sendMessage", Fault.server_error(500), Fault.server_error(502), Fault.dropped())
    await send_reply(tg, 3, Reply("answer"), FAST)
    assert fake.texts(3) == ["answer"]


async def test_retries_are_bounded(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(4, "hi")
    fake.fail("sendMessage", *[Fault.server_error() for _ in range(FAST.network_retries + 1)])
    with pytest.raises(NetworkError):
        await send_reply(tg, 4, Reply("answer"), FAST)
    assert fake.texts(4) == []


async def test_a_parse_error_falls_back_to_plain_text(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(5, "hi")
    fake.fail(
        "sendMessage", Fault.bad_request('can\'t parse entities: Unsupported start tag "x" at byte offset 0')
    )
    reply = Reply(
        '<b>Call 999</b> or <a href="https://example.org/r">report online</a> &amp; more',
        (ReplyButton("Erase chat", data="erase"),),
    )
    await send_reply(tg, 5, reply, FAST)
    [msg] = fake.bot_messages(5)
    assert msg.text == "Call 999 or report online (https://example.org/r) & more"
    assert msg.reply_markup is not None


async def test_refused_buttons_do_not_cost_the_answer(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(6, "hi")
    fake.fail("sendMessage", Fault.bad_request("BUTTON_URL_INVALID"))
    await send_reply(tg, 6, Reply("answer", (ReplyButton("site", url="https://example.org"),)), FAST)
    [msg] = fake.bot_messages(6)
    assert msg.text == "answer" and msg.reply_markup is None


async def test_a_blocked_chat_is_reported_as_gone(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(7, "hi")
    fake.fail("sendMessage", Fault.blocked(chat_id=7))
    with pytest.raises(ChatGone):
        await send_reply(tg, 7, Reply("answer"), FAST)
    assert fake.texts(7) == []


async def test_delete_all_uses_batches_of_100_and_tolerates_gone_messages(
    fake: FakeTelegram, tg: Bot
) -> None:
    for i in range(150):
        fake.message(8, f"m{i}")
    fake.fail("deleteMessages", Fault.flood(1))
    ids = list(range(1, 151)) + [999]
    assert await delete_all(tg, 8, ids, FAST) == 151
    assert all(m.deleted for m in fake.chats[8].messages.values())
    sizes = [len(c.params["message_ids"]) for c in fake.calls_of("deleteMessages")]
    assert sizes == [100, 51]


async def test_one_chats_flood_wait_does_not_hold_other_chats(fake: FakeTelegram, tg: Bot) -> None:
    fake.message(10, "hi")
    fake.message(11, "hi")
    fake.fail("sendMessage", Fault.flood(2, chat_id=10))
    slow = asyncio.create_task(send_reply(tg, 10, Reply("slow"), FAST))
    started = time.monotonic()
    await send_reply(tg, 11, Reply("fast"), FAST)
    assert time.monotonic() - started < 1.0
    await slow
    assert fake.texts(10) == ["slow"]


async def test_the_inflight_limit_caps_concurrent_requests_without_pausing() -> None:
    from bot.channels.telegram.send import SendGate

    limit = SendGate(3)
    await limit.initialize()
    running = peak = 0

    async def call(i: int) -> dict[str, object]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return {"i": i}

    started = time.monotonic()
    results = await asyncio.gather(
        *(limit.process_request(call, (i,), {}, "sendMessage", {}, None) for i in range(12))
    )
    assert [r["i"] for r in results] == list(range(12))  # type: ignore[index,call-overload]
    assert peak == 3
    assert time.monotonic() - started < 0.5  # four rounds of 20 ms, no clock-based throttling
