"""Admin tools on Telegram: /stats, /reload with validation and rollback, and reloading on file change."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

import bot.stats
from bot.htmltext import to_plain
from tests.support.admin import ADMIN
from tests.support.chat import QUESTION, expected, say
from tests.support.default import INTENTS
from tests.support.fake_telegram import FakeTelegram
from tests.support.running import Running, make_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def break_a_file(intents: Path) -> Path:
    path = intents / "reporting.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "\n  - id: Not Valid\n    answer: 3\n", encoding="utf-8"
    )
    return path


async def test_stats_for_an_admin_with_a_chart(admin_bot: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = admin_bot.fake
    monkeypatch.setattr(bot.stats, "render_chart_png", lambda report: PNG)
    await say(admin_bot, 50, QUESTION)
    await asyncio.sleep(0.2)  # the count is written after the answer
    fake.message(ADMIN, "/stats")
    await fake.wait_until(lambda: bool(fake.photos))
    report = await admin_bot.channel.store.stats(datetime.now(timezone.utc).date())  # type: ignore[union-attr]
    assert fake.texts(ADMIN)[0] == to_plain(bot.stats.format_report_html(report), links=False).strip()
    assert fake.photos == [{"chat_id": ADMIN, "size": len(PNG)}]


async def test_admin_commands_from_anyone_else_get_the_normal_answer(admin_bot: Running) -> None:
    for command in ("/stats", "/reload"):
        replies = await say(admin_bot, 51, command)
        assert replies == expected(admin_bot, command)
        assert not any("reload" in r.lower() or "statistic" in r.lower() for r in replies)
    assert admin_bot.fake.photos == []


async def test_reload_keeps_serving_the_old_catalog_when_files_are_broken(
    admin_bot: Running, intents: Path
) -> None:
    old = admin_bot.engine.catalog
    broken = break_a_file(intents)
    [reply] = await say(admin_bot, ADMIN, "/reload", count=1)
    assert reply.startswith("Not reloaded")
    assert f"{broken}:" in reply  # every problem as file:line
    assert admin_bot.engine.catalog is old
    assert await say(admin_bot, 52, QUESTION) == expected(admin_bot, QUESTION)


async def test_reload_swaps_in_a_valid_catalog(admin_bot: Running, intents: Path) -> None:
    path = intents / "greeting.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Hello", "Hello again", 1), encoding="utf-8")
    [reply] = await say(admin_bot, ADMIN, "/reload", count=1)
    assert reply.startswith("Reloaded")
    assert (await say(admin_bot, 53, "/start"))[0].startswith("Hello again")


async def test_intent_files_reload_when_they_change_on_disk(
    fake: FakeTelegram, tmp_path: Path, intents: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.telegram.admin")
    config = make_config(fake, tmp_path, intents_dir=intents, watch_intents=True)
    running = Running(fake, config, watch_seconds=0.1)
    await running.start()
    try:
        await asyncio.sleep(0.3)  # the watcher has taken its first look
        old = running.engine.catalog
        break_a_file(intents)
        # each reload is a full check and build: seconds on a busy machine
        await fake.wait_until(lambda: "still serving the previous version" in caplog.text, timeout=30)
        assert running.engine.catalog is old
        shutil.copy(INTENTS / "reporting.yaml", intents / "reporting.yaml")
        path = intents / "greeting.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("Hello", "Hi there", 1), encoding="utf-8")
        await fake.wait_until(lambda: running.engine.catalog is not old, timeout=30)
        assert (await say(running, 54, "/start"))[0].startswith("Hi there")
        assert any(r.levelno == logging.INFO and "reloaded" in r.getMessage() for r in caplog.records)
    finally:
        await running.stop()


def test_the_watcher_sees_exactly_the_files_the_loader_reads(tmp_path: Path) -> None:
    from bot.catalog.files import catalog_files
    from bot.channels.telegram.admin import snapshot

    (tmp_path / "a.yaml").write_text("intents: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text("intents: []\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.yaml").write_text("x\n")  # a dot-folder: neither loaded nor watched
    (tmp_path / "notes.txt").write_text("x\n")
    assert sorted(snapshot(tmp_path)) == [str(p) for p in catalog_files(tmp_path)]
    assert [p.name for p in catalog_files(tmp_path)] == ["a.yaml", "b.yml"]
