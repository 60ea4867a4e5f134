"""Fixtures: the strict fake Bot API and the real PTB Application running against it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.model_cache import ENV

# The admin fixtures live in tests/support; imported here, pytest offers them to every test module.
from tests.support.admin import admin_bot, intents  # noqa: F401
from tests.support.fake_telegram import FakeTelegram
from tests.support.running import Running, make_config

# Trained models are kept in the checkout's own .model-cache/ (bot/model_cache.py), as mypy keeps
# .mypy_cache: never in the user's cache, and safe to reuse since every entry is keyed by what trained it.
# A fresh clone (CI) starts cold; a second `pytest -m "not slow"` skips the seconds of training. Set
# STALKING_BOT_CACHE to use another folder.
if not os.environ.get(ENV) or os.environ[ENV].strip().lower() == "off":
    os.environ[ENV] = str(Path(__file__).resolve().parent.parent / ".model-cache")
# Opt in to PTB 22's timedelta durations, as run() does, so RetryAfter carries no deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "true")


FAKE_TALLY = {"requests": 0, "rejected": 0}


@pytest.fixture
async def fake(lenient_fake: FakeTelegram) -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API; at the end, the bot must not have sent it anything Telegram rejects."""
    server = lenient_fake
    yield server
    FAKE_TALLY["requests"] += len(server.calls)
    FAKE_TALLY["rejected"] += len(server.rejected)
    assert server.rejected == [], f"the fake Bot API rejected requests: {server.rejected}"


# A test is slow when it starts the bot against the fake Bot API or in a process: seconds each, where
# the rest take milliseconds. `pytest -m "not slow"` runs the others, for a quick loop while editing.
# Marked by hand too: a process, a rebuild of the default catalog, a hung database, a second of CPU.
SLOW_FIXTURES = frozenset({"fake", "lenient_fake", "running", "served", "admin_bot", "process_env"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as slow every test that uses a fixture that starts the fake Bot API or the bot."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The zero-rejection evidence, in every run's summary."""
    if FAKE_TALLY["requests"]:
        terminalreporter.write_line(
            f"fake Bot API: {FAKE_TALLY['requests']} requests from the bot, {FAKE_TALLY['rejected']} rejected"
        )


@pytest.fixture
async def lenient_fake() -> AsyncIterator[FakeTelegram]:
    """A fake Bot API for tests that provoke rejections on purpose (the fake's own tests)."""
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def running(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Running]:
    """The real Application with the default catalog and a real store, polling the fake."""
    served = Running(fake, make_config(fake, tmp_path), open_store=True)
    await served.start()
    try:
        yield served
    finally:
        await served.stop()
