"""Fixtures: the strict fake Bot API and the real PTB Application running against it."""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.channels.telegram.app import build_application, make_poller, start, stop
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.send import SendPolicy
from bot.config import Config, PrivacyConfig, StorageConfig, TelegramConfig
from bot.model_cache import ENV
from tests.fake_telegram import FakeTelegram

# Trained models are kept for this session only (bot/model_cache.py): a run never writes to the user's
# cache or reads a model another checkout trained, and it starts cold, as CI does.
_MODEL_CACHE = tempfile.TemporaryDirectory(prefix="bot-model-cache-")
os.environ[ENV] = _MODEL_CACHE.name
# Opt in to PTB 22's timedelta durations, as run() does, so RetryAfter carries no deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "true")
REPO = Path(__file__).resolve().parent.parent
INTENTS = REPO / "intents"
FAST = SendPolicy(flood_retries=5, max_flood_wait=10.0, network_retries=4, backoff=0.05)


@functools.cache
def default_catalog() -> Any:
    """The shipped catalog, loaded once (it is immutable)."""
    from bot.catalog.load import load_catalog

    catalog, problems = load_catalog(INTENTS, for_serving=True)
    if catalog is None:
        pytest.fail("the default catalog is not fit to serve:\n" + "\n".join(map(str, problems)))
    return catalog


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


def make_config(fake: FakeTelegram, tmp_path: Path, **changes: Any) -> Config:
    """A config pointing at the fake, with a database in tmp_path and no background file watching."""
    telegram = replace(TelegramConfig(), base_url=fake.base_url, **changes.pop("telegram", {}))
    privacy = replace(PrivacyConfig(), **changes.pop("privacy", {}))
    storage = replace(StorageConfig(), path=str(tmp_path / "bot.sqlite3"), **changes.pop("storage", {}))
    return replace(
        Config(),
        telegram=telegram,
        privacy=privacy,
        storage=storage,
        intents_dir=str(changes.pop("intents_dir", INTENTS)),
        watch_intents=changes.pop("watch_intents", False),
        base_dir=str(tmp_path),
        **changes,
    )


class Running:
    """One Application serving the fake by long polling, started and stopped like run_polling does."""

    def __init__(
        self,
        fake: FakeTelegram,
        config: Config,
        *,
        store: Any = None,
        open_store: bool = False,
        catalog: Any = None,
        sweep_seconds: float = 3600.0,
        watch_seconds: float = 2.0,
        per_second: float = 0.0,
    ) -> None:
        from bot.engine import Engine

        self.fake = fake
        self.config = config
        self.engine = Engine(
            catalog or default_catalog(), config.placeholders(), erase_button=config.privacy.erase_button
        )
        self.channel = TelegramChannel(
            self.engine,
            config,
            store,
            open_store=open_store,
            policy=FAST,
            sweep_seconds=sweep_seconds,
            watch_seconds=watch_seconds,
        )
        self.app = build_application(config, fake.token, self.channel, per_second)
        self.poller: Any = None
        self._polling: Any = None

    async def start(self, *, poll: bool = True) -> None:
        """initialize, the one start path `run` takes, and our poller (unless ``poll`` is False)."""
        await self.app.initialize()
        await start(self.app, self.channel)
        if poll:
            self.poller = make_poller(self.app, self.config, self.channel, timeout=2)
            self._polling = asyncio.create_task(self.poller.run())

    async def stop(self) -> None:
        """The shutdown `run` does on SIGINT/SIGTERM: our poller, then the one stop path."""
        if self.poller is not None:
            await self.poller.stop(self._polling)
            self.poller = None
        await stop(self.app, self.channel)


@pytest.fixture
async def running(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Running]:
    """The real Application with the default catalog and a real store, polling the fake."""
    served = Running(fake, make_config(fake, tmp_path), open_store=True)
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


# Shared fixtures that live in tests/support (imported here, pytest offers them to every test module).
from tests.support.admin import admin_bot, intents  # noqa: E402, F401
