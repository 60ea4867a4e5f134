"""The scenarios that hold however Telegram hands the bot its updates run once per mode."""

from __future__ import annotations

import pytest

from tests.support.running import MODES


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """polling or webhook: a test that takes it runs once in each."""
    return str(request.param)
