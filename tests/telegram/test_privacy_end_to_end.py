"""After a real conversation over the Bot API, nothing people wrote is at rest or in the logs.

Unusual words are planted in every kind of message (typed questions, an emergency, a non-match, a
command payload), then every byte the bot wrote to disk (database, WAL, key file) and every log line
is searched for them. With the opt-in unmatched log on, only the unmatched message may be kept, and
/privacy must say so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.channels.telegram.logs import configure_logging
from tests.support.fake_telegram import FakeTelegram
from tests.support.running import Running, make_config

PLANTED = ["Quizzleborp", "Flambastic", "Xyloquent", "Snorkelwick", "Vantablorg"]
MESSAGES = [
    f"how do i report stalking, his name is {PLANTED[0]}",
    f"{PLANTED[1]} is outside my house right now",
    f"tell me about {PLANTED[2]} carburettors",  # nothing matches: the only candidate for the unmatched log
    f"/start {PLANTED[3]}",
    f"is this chat private {PLANTED[4]}",
]


def _bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()).lower()


@pytest.mark.parametrize("log_unmatched", [False, True])
async def test_no_message_text_at_rest_or_in_logs(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, log_unmatched: bool
) -> None:
    config = make_config(fake, tmp_path, privacy={"log_unmatched": log_unmatched})
    configure_logging("DEBUG", fake.token)
    caplog.set_level(logging.DEBUG)
    served = Running(fake, config, open_store=True)
    await served.start()
    try:
        for chat, text in enumerate(MESSAGES, start=500):
            fake.message(chat, text)
            await fake.wait_until(lambda: len(fake.texts(chat)) >= 1)  # noqa: B023 (awaited within the loop turn)
    finally:
        await served.stop()

    # What /privacy told chat 504 must be true of what this run kept.
    [privacy] = [t for t in fake.texts(504) if t.startswith("About this chat")]
    if log_unmatched:
        assert "the text is not stored, except messages the bot could not answer" in privacy
        assert f"for up to {config.storage.unmatched_retention_days} days" in privacy
    else:
        assert "the text is not stored. Daily counts" in privacy
        assert "could not answer" not in privacy
    assert "this chat's id, which is your Telegram user id" in privacy

    assert (tmp_path / "bot.sqlite3").exists(), "counts were stored, so the search means something"
    at_rest = _bytes_under(tmp_path)
    # Only the opt-in unmatched log may keep words, and only of the message nothing matched (redacted)
    kept = {PLANTED[2]} if log_unmatched else set()
    for word in PLANTED:
        assert (word.lower().encode() in at_rest) == (word in kept), word
        assert word.lower() not in caplog.text.lower(), word
