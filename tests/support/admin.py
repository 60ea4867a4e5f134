"""An editable copy of the default intents, and the bot running with an admin who may /reload it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.default import INTENTS
from tests.support.fake_telegram import FakeTelegram
from tests.support.running import Running, make_config

ADMIN = 4242


@pytest.fixture
def intents(tmp_path: Path) -> Path:
    """A copy of the default intents that a test may edit."""
    folder = tmp_path / "intents"
    shutil.copytree(INTENTS, folder)
    return folder


@pytest.fixture
async def admin_bot(fake: FakeTelegram, tmp_path: Path, intents: Path) -> AsyncIterator[Running]:
    config = make_config(fake, tmp_path, telegram={"admins": (ADMIN,)}, intents_dir=intents)
    running = Running(fake, config, open_store=True)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
