"""Conversations with the real Application, the default catalog and a real store, over HTTP to the fake.

What the bot says is the engine's business; these tests check that the channel delivers exactly the
engine's replies, in order, escalations first, to the right chat, in a form Telegram accepts (the `fake`
fixture fails any test in which the fake Bot API rejected a request).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.catalog.schema import MatcherSettings
from bot.channels.telegram.logs import configure_logging
from bot.htmltext import split_html
from bot.turns import ERASE, NONE_OF_THESE, Incoming
from tests.support.chat import EMERGENCY, QUESTION, expected, plain, say
from tests.support.default import default_catalog
from tests.support.fake_telegram import FakeTelegram, Fault
from tests.support.running import Running, make_config


async def test_start_publishes_commands_and_answers_with_html_and_buttons(running: Running) -> None:
    fake = running.fake
    names = [c["command"] for c in fake.commands]
    assert names == ["start", "help", "helpline", "report", "emergency", "privacy", "erase", "cymraeg", "english"]
    assert await say(running, 1, "/start") == expected(running, "/start")
    [call] = fake.calls_of("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert call.params["protect_content"] is True
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[-1] == {"text": "Erase chat", "callback_data": ERASE}
    assert all(1 <= len(b["callback_data"].encode()) <= 64 for b in buttons if "callback_data" in b)
    # never drop what people wrote while the bot was down
    assert all(not c.params.get("drop_pending_updates") for c in fake.calls_of("deleteWebhook"))


async def test_start_with_a_payload_gets_the_welcome(running: Running) -> None:
    assert await say(running, 2, "/start campaign_poster_7") == expected(running, "/start")


async def test_a_question_then_a_button_press(running: Running) -> None:
    fake = running.fake
    assert await say(running, 3, QUESTION) == expected(running, QUESTION)
    answer = fake.bot_messages(3)[-1]
    data = answer.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    before = len(fake.texts(3))
    qid = fake.press(3, answer.message_id, data)
    want = expected(running, button=data)
    await fake.wait_until(lambda: len(fake.texts(3)) == before + len(want) and fake.queries[qid]["answered"])
    assert fake.texts(3)[before:] == want


async def test_an_emergency_in_the_middle_of_a_flow_is_answered_first(running: Running) -> None:
    fake = running.fake
    await say(running, 4, QUESTION)
    answer = fake.bot_messages(4)[-1]
    data = answer.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    before = len(fake.texts(4))
    # A press, the emergency and another question arrive together: each is answered in turn, in order.
    fake.press(4, answer.message_id, data)
    fake.message(4, EMERGENCY)
    fake.message(4, QUESTION)
    want = expected(running, button=data) + expected(running, EMERGENCY) + expected(running, QUESTION)
    await fake.wait_until(lambda: len(fake.texts(4)) >= before + len(want))
    assert fake.texts(4)[before:] == want
    outcome = running.engine.respond(Incoming(text=EMERGENCY))
    assert outcome.escalations == ("emergency",) and outcome.replies[0].kind == "escalation"
    emergency_first = fake.texts(4)[before + len(expected(running, button=data))]
    assert "999" in emergency_first and "55" in emergency_first


async def test_the_fallback_carries_999_and_the_helpline(running: Running) -> None:
    candidates = ["qwpo zxcv mnbv", "xxxx yyyy zzzz", "zzzzzzzz"]
    text = next(t for t in candidates if running.engine.respond(Incoming(text=t)).fallback)
    [reply] = await say(running, 5, text)
    assert reply == expected(running, text)[0]
    assert "999" in reply and "0808 802 0300" in reply


async def test_did_you_mean_choices_and_none_of_these(fake: FakeTelegram, tmp_path: Path) -> None:
    # A catalog that never accepts outright, so any near match is offered as a choice.
    catalog = replace(default_catalog(), settings=MatcherSettings(threshold=101, margin=0, suggest=1))
    running = Running(fake, make_config(fake, tmp_path), catalog=catalog)
    await running.start()
    try:
        await say(running, 6, QUESTION)
        choices = fake.bot_messages(6)[-1]
        datas = [row[0]["callback_data"] for row in choices.reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert datas[0].startswith("i:") and NONE_OF_THESE in datas
        before = len(fake.texts(6))
        fake.press(6, choices.message_id, NONE_OF_THESE)
        await fake.wait_until(lambda: len(fake.texts(6)) > before)
        none = fake.texts(6)[-1]
        assert none == expected(running, button=NONE_OF_THESE)[0]
        assert "999" in none
    finally:
        await running.stop()


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "location", "contact", "document"])
async def test_anything_but_text_gets_the_text_only_line(running: Running, kind: str) -> None:
    [reply] = await say(running, 7, None, count=1, kind=kind)
    assert reply == plain(running.engine.system_reply("non_text").html)
    assert not running.fake.calls_of("getFile")  # content is never fetched, so never stored


async def test_a_caption_is_read_like_a_message(running: Running) -> None:
    replies = await say(
        running,
        8,
        None,
        count=len(expected(running, EMERGENCY)),
        kind="photo",
        caption=EMERGENCY,
    )
    assert replies == expected(running, EMERGENCY)


async def test_an_edited_message_is_answered_as_written_now(running: Running) -> None:
    fake = running.fake
    sent = await say(running, 9, "hello")
    mid = max(m for m in fake.chats[9].messages if not fake.chats[9].messages[m].from_bot)
    before = len(fake.texts(9))
    fake.edit(9, mid, EMERGENCY)
    want = expected(running, EMERGENCY)
    await fake.wait_until(lambda: len(fake.texts(9)) >= before + len(want))
    assert sent and fake.texts(9)[before:] == want


async def test_added_to_a_group_it_explains_and_leaves(running: Running) -> None:
    fake = running.fake
    fake.add_to_group(-1001)
    await fake.wait_until(lambda: -1001 in fake.left_chats)
    assert fake.texts(-1001) == [plain(running.engine.system_reply("group_chat").html)]
    fake.message(-1002, "/help", chat_type="group", user_id=77)
    await fake.wait_until(lambda: -1002 in fake.left_chats)
    assert len(fake.texts(-1002)) == 1


async def test_very_long_and_near_empty_messages(running: Running) -> None:
    long_text = "please help me " * 273  # 4095 characters, Telegram's maximum is 4096
    assert await say(running, 10, long_text) == expected(running, long_text)
    # another chat: in chat 10 the cry for help above makes "." a follow-up to the danger
    assert await say(running, 11, ".") == expected(running, ".")


async def test_a_long_answer_is_split_at_paragraphs(fake: FakeTelegram, tmp_path: Path) -> None:
    base = default_catalog()
    long_answer = "\n\n".join(f"<b>Step {i}</b>: " + "keep a note of what happened. " * 20 for i in range(20))
    intents = tuple(replace(i, answer=long_answer) if i.id == "how_to_report" else i for i in base.intents)
    running = Running(fake, make_config(fake, tmp_path), catalog=replace(base, intents=intents))
    await running.start()
    try:
        count = len(split_html(long_answer))
        assert count >= 3
        parts = await say(running, 11, "/report", count=count)
        assert parts[0].startswith("Step 0:")
        assert all(p.startswith("Step") for p in parts)  # every cut is at a paragraph
        assert "".join(parts).count("Step") == 20
        msgs = fake.bot_messages(11)
        assert [m.reply_markup is not None for m in msgs] == [False] * (count - 1) + [True]
    finally:
        await running.stop()


async def test_updates_sent_while_down_are_all_answered_with_an_apology_when_old(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = make_config(fake, tmp_path)
    first = Running(fake, config)
    await first.start()
    await say(first, 12, "hello")
    await first.stop()
    # Written while the bot was down, ten minutes ago.
    fake.message(12, QUESTION, age=600)
    fake.message(13, EMERGENCY, age=600)
    fake.message(14, "hello", age=5)
    second = Running(fake, config)
    await second.start()
    try:
        slow = plain(second.engine.system_reply("slow_reply").html)
        await fake.wait_until(lambda: len(fake.texts(12)) >= 2 and len(fake.texts(13)) >= 2 and bool(fake.texts(14)))
        q = fake.texts(12)[-1]
        assert q.startswith(slow) and q.endswith(expected(second, QUESTION)[0])
        esc, after = fake.texts(13)[:2]
        assert esc == expected(second, EMERGENCY)[0]  # the escalation still comes first
        assert after.startswith(slow)
        assert not fake.texts(14)[0].startswith(slow)
        await fake.wait_until(lambda: fake.pending_updates() == 0)  # confirmed once answered
    finally:
        await second.stop()


async def test_flood_control_in_one_chat_does_not_hold_up_others(running: Running) -> None:
    fake = running.fake
    fake.fail("sendMessage", Fault.flood(2, chat_id=15))
    started = time.monotonic()
    fake.message(15, "hello")
    fake.message(16, "hello")
    await fake.wait_until(lambda: bool(fake.texts(16)))
    assert time.monotonic() - started < 1.5 and not fake.texts(15)
    await fake.wait_until(lambda: bool(fake.texts(15)))
    assert time.monotonic() - started >= 2.0
    assert fake.texts(15) == expected(running, "hello")


async def test_server_errors_are_retried_and_the_answer_arrives_once(running: Running) -> None:
    fake = running.fake
    fake.fail("sendMessage", Fault.server_error(500), Fault.server_error(502), Fault.dropped())
    assert await say(running, 17, QUESTION) == expected(running, QUESTION)


async def test_a_person_who_blocked_the_bot_is_skipped_quietly(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    fake = running.fake
    secret = "my name is Alice Example and he follows me"
    fake.fail("sendMessage", Fault.blocked(chat_id=18))
    fake.message(18, secret)
    await fake.wait_until(lambda: any(c.status == 403 for c in fake.calls))
    assert await say(running, 19, "hello") == expected(running, "hello")
    assert fake.texts(18) == []
    assert "Alice" not in caplog.text and "follows" not in caplog.text


async def test_logs_never_carry_what_people_wrote(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG", running.fake.token)  # what run() does, at the chattiest level
    caplog.set_level(logging.DEBUG)
    words = "my address is 12 Secretwood Lane"
    await say(running, 20, words)
    running.fake.fail("sendMessage", Fault.bad_request("can't parse entities: test"))
    await say(running, 20, words)
    assert "Secretwood" not in caplog.text
    assert running.fake.token not in caplog.text


async def test_an_engine_failure_still_gives_999_and_logs_only_the_type(
    running: Running, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(incoming: Incoming, checked: object = None) -> None:
        raise ValueError(f"could not handle {incoming.text}")

    monkeypatch.setattr(running.engine, "respond", broken)
    [reply] = await say(running, 21, "Secretwood Lane again", count=1)
    assert "999" in reply and "0808 802 0300" in reply
    assert "ValueError" in caplog.text and "Secretwood" not in caplog.text


async def test_a_failing_escalation_check_is_tried_again_with_the_whole_message(
    running: Running, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> None:
        raise ValueError(f"could not check {text}")

    monkeypatch.setattr(running.engine, "check", broken)
    replies = await say(running, 23, "Secretwood Lane, he is outside my house right now")
    assert replies == expected(running, "Secretwood Lane, he is outside my house right now")
    assert "999" in replies[0]
    assert "ValueError" in caplog.text and "Secretwood" not in caplog.text


async def test_an_emergency_in_a_batch_of_questions_is_answered_before_them(running: Running) -> None:
    fake = running.fake
    # queued together, so one getUpdates hands the bot all of them, the emergency last
    for chat in range(300, 360):
        fake.message(chat, QUESTION)
    fake.message(400, EMERGENCY)
    await fake.wait_until(lambda: all(fake.texts(c) for c in (400, *range(300, 360))), 30)
    first = fake.calls_of("sendMessage")[0]
    assert first.params["chat_id"] == 400 and "999" in first.params["text"]


async def test_the_error_handler_logs_type_and_update_id_only(
    running: Running, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise KeyError("Secretwood Lane")

    monkeypatch.setattr(running.channel, "_deliver", broken)
    update = running.fake.message(22, "Secretwood Lane")
    await running.fake.wait_until(lambda: "KeyError" in caplog.text)
    assert f"update {update['update_id']}: KeyError" in caplog.text
    assert "Secretwood" not in caplog.text
