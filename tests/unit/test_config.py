"""config.yaml mistakes an admin makes: each is one line naming the file (and place), exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def run_with_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "classify", "--config", str(config)], input="",
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    ("content", "where", "says"),
    [
        (b"telegram:\n\tmode: polling\n", ":2:1: ", "a tab; indent with spaces"),
        (b"service:\n  organisation: Caf\xe9 Trust\n", ":2:20: ", "not valid UTF-8"),
    ],
    ids=["tab", "latin-1"],
)
def test_a_broken_config_file_is_one_positioned_line(tmp_path: Path, content: bytes, where: str, says: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(content)
    result = run_with_config(config)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {config}{where}"), result.stderr
    assert says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_folder_given_as_the_config_is_one_line(tmp_path: Path) -> None:
    result = run_with_config(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path}: is a folder"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_empty_storage_path_is_refused(tmp_path: Path) -> None:
    # It would resolve to the config folder, and put the key file and the update log in its parent.
    config = tmp_path / "conf" / "config.yaml"
    config.parent.mkdir()
    config.write_text('storage: {path: ""}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="storage.path: must name the database file"):
        load_config(config)
    config.write_text("storage: {path: '  '}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="storage.path"):
        load_config(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]


def write_telegram(tmp_path: Path, telegram: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"telegram:\n{telegram}", encoding="utf-8")
    return path


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_a_webhook_port_outside_1_to_65535_is_refused(tmp_path: Path, port: int) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_telegram(tmp_path, f"  port: {port}\n"))
    assert str(refused.value) == f"telegram.port: expected a port number from 1 to 65535, got {port}"


@pytest.mark.parametrize("port", [1, 8443, 65535])
def test_a_webhook_port_from_1_to_65535_is_kept(tmp_path: Path, port: int) -> None:
    assert load_config(write_telegram(tmp_path, f"  port: {port}\n")).telegram.port == port
