"""`python -m bot run`: the token from the environment, polling and webhook modes, graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.channels.telegram.app import run
from bot.config import TOKEN_ENV, WEBHOOK_SECRET_ENV, load_config
from tests.support.chat import EMERGENCY
from tests.support.default import INTENTS, REPO
from tests.support.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow  # every test here starts the bot in a process or rebuilds the catalog

SECRET = "s3cret_Token-1"
WORDS = "my neighbour Zyzzyva Quillfeather keeps following me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, fake: FakeTelegram, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"telegram:\n  base_url: {fake.base_url}\n{extra}"
        f"intents_dir: {INTENTS}\nstorage:\n  path: {tmp_path / 'bot.sqlite3'}\nlog_level: DEBUG\n",
        encoding="utf-8",
    )
    return path


def test_a_missing_token_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert run(load_config(None)) == 2
    assert TOKEN_ENV in capsys.readouterr().err


def test_webhook_mode_without_a_secret_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "123:abc")
    monkeypatch.delenv(WEBHOOK_SECRET_ENV, raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("telegram:\n  mode: webhook\n  url: https://bot.example.org/hook\n", encoding="utf-8")
    assert run(load_config(path)) == 2
    assert "secret_token" in capsys.readouterr().err


async def post_update(port: int, path: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/{path}", data=json.dumps(update), headers=headers) as r,
    ):
        return r.status


@pytest.fixture
async def process_env(fake: FakeTelegram) -> AsyncIterator[dict[str, str]]:
    yield {**os.environ, TOKEN_ENV: fake.token, "PYTHONPATH": str(REPO), WEBHOOK_SECRET_ENV: ""}


async def stop(proc: asyncio.subprocess.Process, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    code = proc.returncode
    assert code is not None  # for the type checker: communicate() has waited for the exit
    return code, err.decode()


async def start_bot(config: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m bot run --config FILE` as its own process, as an operator starts it."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), env=env, cwd=str(REPO),
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_polling_process_answers_and_shuts_down_gracefully(
    fake: FakeTelegram, tmp_path: Path, process_env: dict[str, str], sig: int
) -> None:
    config = write_config(tmp_path, fake)
    fake.message(70, WORDS, age=30)  # written before the bot started: must not be dropped
    proc = await start_bot(config, process_env)
    try:
        await fake.wait_until(lambda: bool(fake.texts(70)), timeout=30)
        fake.message(70, "/help")
        await fake.wait_until(lambda: len(fake.texts(70)) >= 2, timeout=10)
    finally:
        code, err = await stop(proc, sig)
    assert code == 0, err
    assert fake.commands  # the command menu was published at start-up
    assert fake.token not in err and "Zyzzyva" not in err and "Quillfeather" not in err
    assert "Application started" in err  # logging was on, at DEBUG


async def test_an_update_ptb_cannot_parse_is_skipped_by_id_and_the_rest_of_its_batch_answered(
    fake: FakeTelegram, tmp_path: Path, process_env: dict[str, str]
) -> None:
    bad = fake.message(80, WORDS)
    bad["message"]["date"] = "yesterday"  # PTB's parser raises on it, failing the whole batch
    fake.message(81, EMERGENCY)  # same batch, another person
    proc = await start_bot(write_config(tmp_path, fake), process_env)
    try:
        await fake.wait_until(lambda: bool(fake.texts(81)) and fake.pending_updates() == 0, timeout=30)
        fake.message(80, "/help")  # and the bot goes on serving
        await fake.wait_until(lambda: bool(fake.texts(80)), timeout=10)
    finally:
        code, err = await stop(proc, signal.SIGTERM)
    assert code == 0, err
    assert "999" in fake.texts(81)[0]  # the escalation answer, first
    assert f"update {bad['update_id']} skipped" in err
    assert "Zyzzyva" not in err and "Quillfeather" not in err and "yesterday" not in err
    assert "Received data" not in err and "Traceback" not in err


class Stderr:
    """A running process's stderr, read line by line as it comes (so that a test can wait for a line)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        self.lines: list[str] = []
        self._reading = asyncio.create_task(self._read(proc.stderr))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode())

    async def wait_for(self, text: str, timeout: float = 30) -> None:
        """Wait until a line holding ``text`` has been written; fail after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(text in line for line in self.lines):
            assert not self._reading.done(), "the process ended first:\n" + "".join(self.lines)
            assert asyncio.get_running_loop().time() < deadline, f"no {text!r} line:\n" + "".join(self.lines)
            await asyncio.sleep(0.05)

    async def rest(self) -> str:
        """Everything written, once the process has closed its stderr."""
        await asyncio.wait_for(self._reading, 20)
        return "".join(self.lines)


async def test_started_while_telegram_cannot_be_reached_it_keeps_trying_then_serves(tmp_path: Path) -> None:
    fake = FakeTelegram()
    fake.port = free_port()  # where the fake will listen; nothing does yet
    fake.message(90, EMERGENCY)  # written while the bot could not reach Telegram
    env = {**os.environ, TOKEN_ENV: fake.token, "PYTHONPATH": str(REPO), WEBHOOK_SECRET_ENV: ""}
    proc = await start_bot(write_config(tmp_path, fake), env)
    stderr = Stderr(proc)
    try:
        await stderr.wait_for("start-up attempt 2:")
        await fake.start(fake.port)
        await fake.wait_until(lambda: bool(fake.texts(90)), timeout=30)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
        await fake.stop()
    err = await stderr.rest()
    assert proc.returncode == 0, err
    assert "999" in fake.texts(90)[0]  # the escalation answer, first
    attempts = [line for line in err.splitlines() if "start-up attempt" in line]
    assert len(attempts) >= 2 and all("cannot reach Telegram: httpx.ConnectError" in a for a in attempts)
    assert "could not start" not in err and fake.token not in err and fake.rejected == []


async def test_stopped_while_telegram_cannot_be_reached_it_exits_cleanly(tmp_path: Path) -> None:
    fake = FakeTelegram()
    fake.port = free_port()  # nothing listens there
    env = {**os.environ, TOKEN_ENV: fake.token, "PYTHONPATH": str(REPO), WEBHOOK_SECRET_ENV: ""}
    proc = await start_bot(write_config(tmp_path, fake), env)
    stderr = Stderr(proc)
    try:
        await stderr.wait_for("start-up attempt 1:")
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
    err = await stderr.rest()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "could not start" not in err


async def test_a_wrong_token_still_exits_with_its_clear_error(
    fake: FakeTelegram, tmp_path: Path, process_env: dict[str, str]
) -> None:
    proc = await start_bot(write_config(tmp_path, fake), {**process_env, TOKEN_ENV: "123456:WRONG-token"})
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert f"Telegram refused the token in {TOKEN_ENV}" in err.decode()
    assert "start-up attempt" not in err.decode() and "WRONG-token" not in err.decode()


async def test_webhook_process_rejects_requests_without_the_secret(
    fake: FakeTelegram, tmp_path: Path, process_env: dict[str, str]
) -> None:
    port = free_port()
    extra = (
        f"  mode: webhook\n  url: https://bot.example.org/hook\n  listen: 127.0.0.1\n  port: {port}\n"
        f"  secret_token: {SECRET}\n"
    )
    config = write_config(tmp_path, fake, extra)
    proc = await start_bot(config, process_env)
    try:
        await fake.wait_until(lambda: fake.webhook is not None, timeout=30)
        assert fake.webhook is not None and fake.webhook["secret_token"] == SECRET
        for _ in range(100):  # until the webhook server listens
            try:
                status = await post_update(port, "hook", fake.message(71, WORDS), None)
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        assert status == 403
        assert await post_update(port, "hook", fake.message(72, "hello"), SECRET) == 200
        await fake.wait_until(lambda: bool(fake.texts(72)), timeout=10)
        assert fake.texts(71) == []
    finally:
        code, err = await stop(proc, signal.SIGTERM)
    assert code == 0, err
    assert fake.token not in err and SECRET not in err and "Zyzzyva" not in err


async def test_a_webhook_telegram_refuses_is_a_clear_error_and_the_process_exits(
    lenient_fake: FakeTelegram, tmp_path: Path
) -> None:
    fake = lenient_fake  # Telegram refusing the URL is the point here
    extra = (
        f"  mode: webhook\n  url: https://bot.example.org:9999/hook\n  listen: 127.0.0.1\n  port: {free_port()}\n"
        f"  secret_token: {SECRET}\n"
    )
    env = {**os.environ, TOKEN_ENV: fake.token, "PYTHONPATH": str(REPO), WEBHOOK_SECRET_ENV: ""}
    proc = await start_bot(write_config(tmp_path, fake, extra), env)
    _, err = await asyncio.wait_for(proc.communicate(), 30)  # it used to hang on its store's thread
    assert proc.returncode == 1
    assert "Telegram refused the settings" in err.decode() and "ports 80, 88, 443 or 8443" in err.decode()
    assert fake.token not in err.decode() and SECRET not in err.decode()


async def test_a_webhook_port_already_taken_is_a_clear_error(
    fake: FakeTelegram, tmp_path: Path, process_env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        extra = (
            f"  mode: webhook\n  url: https://bot.example.org/hook\n  listen: 127.0.0.1\n  port: {port}\n"
            f"  secret_token: {SECRET}\n"
        )
        proc = await start_bot(write_config(tmp_path, fake, extra), process_env)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err.decode() and "Traceback" not in err.decode()
