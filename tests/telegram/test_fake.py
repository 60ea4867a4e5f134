"""The fake Bot API must be as strict as Telegram, or the zero-rejection checks prove nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter

from tests.support.fake_telegram import FakeTelegram, Fault, HtmlError, parse_html


@pytest.mark.parametrize(
    "html, plain",
    [
        ("<b>Bold</b> &amp; <i>it</i>", "Bold & it"),
        ('<a href="https://example.org/?a=1&amp;b=2">link</a>', "link"),
        ("<blockquote expandable>quote</blockquote>", "quote"),
        ('<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>', "s t"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("&#128512; &#x1F600; &lt;3 &quot;q&quot;", '\U0001f600 \U0001f600 <3 "q"'),
        ("<B>upper case tags</B>", "upper case tags"),
    ],
)
def test_valid_html_parses_to_what_a_reader_sees(html: str, plain: str) -> None:
    assert parse_html(html) == plain


@pytest.mark.parametrize(
    "html",
    [
        "line<br>break",
        "<p>paragraph</p>",
        "<b>unclosed",
        "<b><i>crossed</b></i>",
        "a < b",
        "fish & chips",
        "&nbsp;",
        "<a>no href</a>",
        '<a href="javascript:alert(1)">x</a>',
        "<span>no class</span>",
        "<blockquote><blockquote>nested</blockquote></blockquote>",
        "<code><b>inside code</b></code>",
        "</b>",
        "<b/>",
    ],
)
def test_html_telegram_refuses_is_refused(html: str) -> None:
    with pytest.raises(HtmlError):
        parse_html(html)


@pytest.fixture
async def tg(lenient_fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(lenient_fake.token, base_url=lenient_fake.base_url)
    await bot.initialize()
    yield bot
    await bot.shutdown()


async def test_send_message_checks_chat_text_and_buttons(lenient_fake: FakeTelegram, tg: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)[Cc]hat not found"):
        await tg.send_message(5, "hello")
    lenient_fake.message(5, "hi")
    msg = await tg.send_message(5, "<b>hello</b>", parse_mode="HTML")
    assert msg.text == "hello" and msg.message_id == 2
    with pytest.raises(BadRequest, match="(?i)parse entities"):
        await tg.send_message(5, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)text is empty"):
        await tg.send_message(5, "  <b> </b> ", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)too long"):
        await tg.send_message(5, "x" * 4097)
    assert (await tg.send_message(5, "x" * 4096 + "<b></b>", parse_mode="HTML")).text == "x" * 4096
    with pytest.raises(BadRequest, match="(?i)too long"):
        await tg.send_message(5, "\U0001f600" * 2049)  # Telegram counts UTF-16 code units
    too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await tg.send_message(5, "hi", reply_markup=too_long_data)
    bad_url = InlineKeyboardMarkup([[InlineKeyboardButton("x", url="tel:999")]])
    with pytest.raises(BadRequest, match="(?i)button_url_invalid"):
        await tg.send_message(5, "hi", reply_markup=bad_url)
    assert [r[0] for r in lenient_fake.rejected] == ["sendMessage"] * 7


async def test_deletes_answers_and_edits_follow_telegram_rules(lenient_fake: FakeTelegram, tg: Bot) -> None:
    lenient_fake.message(7, "hi")
    old = lenient_fake.message(7, "two days ago", age=49 * 3600)["message"]["message_id"]
    sent = await tg.send_message(
        7,
        "answer",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="i:more")]]),
    )
    with pytest.raises(BadRequest, match="(?i)can't be deleted"):
        await tg.delete_message(7, old)
    with pytest.raises(BadRequest, match="(?i)can't be deleted"):
        await tg.delete_messages(7, [1, old])
    assert await tg.delete_messages(7, [1, sent.message_id, 999])  # missing ids are skipped
    with pytest.raises(BadRequest, match="(?i)not found"):
        await tg.delete_message(7, sent.message_id)
    with pytest.raises(BadRequest):
        await tg.delete_messages(7, list(range(1, 102)))
    qid = lenient_fake.press(7, sent.message_id, "i:more")
    assert await tg.answer_callback_query(qid)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await tg.answer_callback_query(qid)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await tg.answer_callback_query("12345")
    kept = await tg.send_message(7, "same")
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await tg.edit_message_text("same", 7, kept.message_id)
    edited = await tg.edit_message_text("changed", 7, kept.message_id)
    assert isinstance(edited, Message) and edited.text == "changed"


async def test_scripted_faults_reach_ptb_as_telegram_errors(lenient_fake: FakeTelegram, tg: Bot) -> None:
    lenient_fake.message(9, "hi")
    lenient_fake.fail("sendMessage", Fault.flood(3), Fault.server_error(502), Fault.blocked(), Fault.dropped())
    with pytest.raises(RetryAfter):
        await tg.send_message(9, "a")
    with pytest.raises(NetworkError):
        await tg.send_message(9, "b")
    with pytest.raises(Forbidden):
        await tg.send_message(9, "c")
    with pytest.raises(NetworkError):
        await tg.send_message(9, "d")
    assert (await tg.send_message(9, "e")).text == "e"
    assert lenient_fake.rejected == []  # scripted faults are not rejections
    lenient_fake.block(9)
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await tg.send_message(9, "f")


async def test_get_updates_long_polls_and_refuses_while_a_webhook_is_set(lenient_fake: FakeTelegram, tg: Bot) -> None:
    lenient_fake.message(3, "/start")
    updates = await tg.get_updates(timeout=1)
    messages = [u.message for u in updates if u.message is not None]
    assert [m.text for m in messages] == ["/start"] and len(messages) == len(updates)
    assert messages[0].entities[0].type == "bot_command"
    assert await tg.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert await tg.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
    with pytest.raises(Conflict):
        await tg.get_updates(timeout=0)
    with pytest.raises(BadRequest, match="(?i)HTTPS"):
        await tg.set_webhook("http://bot.example.org/hook")
    assert await tg.delete_webhook()


async def test_a_slow_answer_is_a_client_timeout(lenient_fake: FakeTelegram) -> None:
    from telegram.error import TimedOut
    from telegram.request import HTTPXRequest

    bot = Bot(lenient_fake.token, base_url=lenient_fake.base_url, request=HTTPXRequest(read_timeout=0.2))
    await bot.initialize()
    try:
        lenient_fake.message(11, "hi")
        lenient_fake.fail("sendMessage", Fault(delay=0.5))
        with pytest.raises(TimedOut):
            await bot.send_message(11, "a")
        assert lenient_fake.texts(11) == []  # a timeout here means the message was not delivered
    finally:
        await bot.shutdown()
