"""Talking to the running bot through the fake Bot API: what the engine answers, and saying something."""

from __future__ import annotations

import asyncio

from bot.htmltext import to_plain
from bot.turns import Incoming
from tests.support.running import Running

EMERGENCY = "he is outside my house right now"


QUESTION = "how do I report stalking"


def plain(html: str) -> str:
    return to_plain(html, links=False).strip()


def expected(running: Running, text: str | None = None, button: str | None = None) -> list[str]:
    """What the engine answers, as the plain text Telegram would show for each message."""
    outcome = running.engine.respond(Incoming(text=text, button=button))
    return [plain(r.html) for r in outcome.replies]


async def say(running: Running, chat: int, text: str | None, count: int | None = None, **kw: object) -> list[str]:
    """Send a message and wait for the bot's answer; returns the texts of the new messages."""
    fake = running.fake
    before = len(fake.texts(chat))
    want = count if count is not None else len(expected(running, text))
    fake.message(chat, text, **kw)  # type: ignore[arg-type]
    # generous: it returns as soon as the answer is in, and a /reload answers after a full check and build
    await fake.wait_until(lambda: len(fake.texts(chat)) >= before + want, timeout=60)
    await asyncio.sleep(0.05)  # nothing more should follow
    return fake.texts(chat)[before:]
