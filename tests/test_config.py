"""config.yaml -> Config: values the bot cannot use are one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def write(tmp_path: Path, telegram: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"telegram:\n{telegram}", encoding="utf-8")
    return path


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_a_webhook_port_outside_1_to_65535_is_refused(tmp_path: Path, port: int) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, f"  port: {port}\n"))
    assert str(refused.value) == f"telegram.port: expected a port number from 1 to 65535, got {port}"


@pytest.mark.parametrize("port", [1, 8443, 65535])
def test_a_webhook_port_from_1_to_65535_is_kept(tmp_path: Path, port: int) -> None:
    assert load_config(write(tmp_path, f"  port: {port}\n")).telegram.port == port
