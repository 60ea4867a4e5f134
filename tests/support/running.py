"""The real PTB Application serving the fake Bot API, started and stopped like `python -m bot run` does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.channels.telegram.app import build_application, make_poller, make_webhook, set_webhook, start, stop
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.send import SendPolicy
from bot.config import Config, PrivacyConfig, StorageConfig, TelegramConfig
from bot.engine import Engine
from tests.support.default import INTENTS, default_engine
from tests.support.fake_telegram import FakeTelegram

FAST = SendPolicy(flood_retries=5, max_flood_wait=10.0, network_retries=4, backoff=0.05)
SECRET = "hook-Secret_1"
HOOK: dict[str, Any] = {
    "mode": "webhook", "url": "https://bot.example.org/tg/hook", "secret_token": SECRET, "listen": "127.0.0.1",
}
MODES = ("polling", "webhook")  # the two ways Telegram hands the bot its updates


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
        self.fake = fake
        self.config = config
        erase = config.privacy.erase_button
        self.engine = (Engine(catalog, config.answer_values(), erase_button=erase) if catalog is not None
                       else default_engine(config.answer_values(), erase_button=erase))
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


@asynccontextmanager
async def serving(fake: FakeTelegram, config: Config, mode: str, per_second: float = 0.0) -> AsyncIterator[Running]:
    """The real Application on the fake by long polling, or behind our webhook server (``mode``)."""
    if mode == "webhook":
        config = replace(config, telegram=replace(config.telegram, **HOOK))
    running = Running(fake, config, per_second=per_second)
    await running.start(poll=mode == "polling")
    server = None
    if mode == "webhook":
        server = make_webhook(running.app, running.config, port=0)
        server.start()
        await set_webhook(running.app.bot, running.config)
        fake.deliver_to(f"http://127.0.0.1:{server.port}/tg/hook")
    try:
        yield running
    finally:
        if server is not None:
            await server.stop()
        await running.stop()
