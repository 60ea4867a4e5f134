"""Hostile intent files on the reload path: /reload and the file watcher refuse each with a clear error,
the bot keeps running and the catalog already loaded keeps serving.

The loader's own refusals (positions, messages, speed) are tested in test_yaml_hostile.py and timed in
benchmarks/check_speed.py; here the question is what a running bot does when an admin drops such a file
into its intents folder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.admin import ADMIN
from tests.support.chat import QUESTION, expected, say
from tests.support.fake_telegram import FakeTelegram
from tests.support.hostile import billion_laughs
from tests.support.running import Running, make_config


def write_bomb(path: Path) -> str:
    path.write_text(billion_laughs(), encoding="utf-8")
    return "aliases"


def write_huge(path: Path) -> str:
    with path.open("wb") as fh:  # 50 MiB, sparse on most file systems
        fh.truncate(50 * 1024 * 1024)
    return "bytes"


def write_deep(path: Path) -> str:
    path.write_text("intents: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    return "nest"


def write_bad_utf8(path: Path) -> str:
    path.write_bytes(b"intents:\n  - id: greeting2\n    examples: [caf\xe9 \xff]\n    answer: Hi\n")
    return "UTF-8"


HOSTILE: dict[str, Callable[[Path], str]] = {
    "billion-laughs": write_bomb,
    "huge": write_huge,
    "deep": write_deep,
    "invalid-utf8": write_bad_utf8,
}


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_reload_refuses_a_hostile_file_and_keeps_serving(
    admin_bot: Running,
    intents: Path,
    kind: str,
) -> None:
    old = admin_bot.engine.catalog
    path = intents / f"hostile-{kind}.yaml"
    words = HOSTILE[kind](path)
    [reply] = await say(admin_bot, ADMIN, "/reload", count=1)
    assert reply.startswith("Not reloaded")
    assert f"{path}:" in reply and words in reply  # which file, where, and why
    assert admin_bot.engine.catalog is old
    assert await say(admin_bot, 60, QUESTION) == expected(admin_bot, QUESTION)


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_the_watcher_refuses_a_hostile_file_and_keeps_serving(
    fake: FakeTelegram,
    tmp_path: Path,
    intents: Path,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.channels.telegram.admin")
    config = make_config(fake, tmp_path, intents_dir=intents, watch_intents=True)
    running = Running(fake, config, watch_seconds=0.1)
    await running.start()
    try:
        await asyncio.sleep(0.3)  # the watcher has taken its first look
        old = running.engine.catalog
        path = intents / f"hostile-{kind}.yaml"
        words = HOSTILE[kind](path)
        await fake.wait_until(lambda: "still serving the previous version" in caplog.text, timeout=10)
        assert any(str(path) in r.getMessage() and words in r.getMessage() for r in caplog.records)
        assert running.engine.catalog is old
        assert await say(running, 61, QUESTION) == expected(running, QUESTION)
    finally:
        await running.stop()
