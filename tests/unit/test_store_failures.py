"""Storage failure never costs a reply: locked, read-only, deleted, full, corrupt or hung databases."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import bot.store
from bot.config import HMAC_SECRET_ENV, Config, PrivacyConfig, StorageConfig
from bot.engine import Engine
from bot.store import CALL_SECONDS, Store
from bot.turns import Incoming, Outcome, Reply
from tests.support.default import default_engine
from tests.support.hostile import disk_full

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
CHAT = 31337421  # also the Telegram user id; must never reach the logs
SECRET_WORDS = ("Zorblaxian", "Quimbleworth")
SLACK = 0.4  # scheduling margin on a busy 2-core machine

# What each log line from the store may look like: an operation name and an exception type, nothing else.
ALLOWED_LOG = re.compile(
    r"storage: (?:[a-z_]+ failed(?: again)? \(\w+\); carrying on without it|[a-z_]+ failed again \(\w+\)"
    r"|[a-z_]+ works again|cannot open the database \(\w+\); answering without it"
    r"|the database file is gone; starting a new one"
    r"|key file unavailable \(\w+\); using a key for this run only|rollback failed \(\w+\)|close failed \(\w+\))"
)


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HMAC_SECRET_ENV, raising=False)


def make_config(tmp_path: Path) -> Config:
    return Config(
        storage=StorageConfig(path=str(tmp_path / "data" / "bot.sqlite3")),
        privacy=PrivacyConfig(log_unmatched=True),
    )


async def _healthy(cfg: Config) -> None:
    store = await Store.open(cfg)
    await store.close()


async def locked(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)
    other = sqlite3.connect(cfg.path(cfg.storage.path), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO daily_counts (day, kind, name, count) VALUES ('2000-01-01', 'x', '', 1)")

    def undo() -> None:
        other.execute("ROLLBACK")
        other.close()

    return store, undo


async def read_only_file(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    await _healthy(cfg)
    real = aiosqlite.connect

    def connect_read_only(path: Any, **kw: Any) -> aiosqlite.Connection:
        return real(f"file:{path}?mode=ro", uri=True, **kw)

    mp.setattr(bot.store.aiosqlite, "connect", connect_read_only)
    return await Store.open(cfg), lambda: None


async def read_only_mid_run(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)
    assert store._db is not None
    await store._db.execute("PRAGMA query_only = ON")
    return store, lambda: None


async def unopenable(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    folder = cfg.path(cfg.storage.path).parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the data folder should be")
    return await Store.open(cfg), lambda: None


async def corrupt(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    path = cfg.path(cfg.storage.path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database " * 100)
    return await Store.open(cfg), lambda: None


async def deleted_mid_run(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)
    await store.record(_outcome(), user_key="k", when=NOW)
    shutil.rmtree(cfg.path(cfg.storage.path).parent)
    return store, lambda: None


async def disk_full_raising(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)

    async def full(*args: Any, **kw: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    for name in ("execute", "executemany", "execute_fetchall", "rollback"):
        mp.setattr(aiosqlite.Connection, name, full)
    return store, lambda: None


async def hung(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)
    mp.setattr(bot.store, "MAINTENANCE_SECONDS", CALL_SECONDS)

    async def never(*args: Any, **kw: Any) -> Any:
        await asyncio.sleep(3600)

    for name in ("execute", "executemany", "execute_fetchall"):
        mp.setattr(aiosqlite.Connection, name, never)
    return store, lambda: None


BREAKERS = [
    locked,
    read_only_file,
    read_only_mid_run,
    unopenable,
    corrupt,
    deleted_mid_run,
    disk_full,
    disk_full_raising,
    hung,
]


@pytest.fixture(params=BREAKERS, ids=lambda b: b.__name__)
async def broken(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Store, Config]]:
    cfg = make_config(tmp_path)
    store, undo = await request.param(cfg, monkeypatch)
    try:
        yield store, cfg
    finally:
        monkeypatch.undo()
        await store.close()
        undo()


def _outcome(**kw: Any) -> Outcome:
    return Outcome(replies=(Reply(html="an answer"),), **kw)


def _assert_clean_logs(caplog: pytest.LogCaptureFixture, store: Store) -> None:
    for record in caplog.records:
        if record.name.startswith("bot.store"):
            assert ALLOWED_LOG.fullmatch(record.getMessage()), record.getMessage()
            assert record.exc_info is None
    for secret in (*SECRET_WORDS, str(CHAT), store.user_key(CHAT)):
        assert secret not in caplog.text


@pytest.mark.slow
async def test_every_method_returns_quickly_without_raising(
    broken: tuple[Store, Config], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = broken
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(bot.store, "FORGET_SECONDS", 1.0)  # an erase retries: bounded, but not by CALL_SECONDS
    key = store.user_key(CHAT)
    calls: list[tuple[str, Any]] = [
        ("record", store.record(_outcome(intent="how_to_report"), user_key=key, when=NOW)),
        ("record", store.record(_outcome(escalations=("emergency",)), user_key=key, when=NOW)),
        ("remember_messages", store.remember_messages(CHAT, [1, 2, 3], NOW)),
        ("messages_for", store.messages_for(CHAT)),
        ("log_unmatched", store.log_unmatched(f"my name is {SECRET_WORDS[0]} {SECRET_WORDS[1]}", NOW)),
        ("forget_chat", store.forget_chat(CHAT, key)),
        ("quiet_chats", store.quiet_chats(NOW)),
        ("purge", store.purge(NOW)),
        ("unmatched", store.unmatched(10)),
        ("stats", store.stats(date(2026, 6, 15))),
    ]
    for name, call in calls:
        started = time.monotonic()
        result = await call
        elapsed = time.monotonic() - started
        limit = CALL_SECONDS + (bot.store.FORGET_SECONDS if name == "forget_chat" else 0.0)
        assert elapsed < limit + SLACK, f"{name} took {elapsed:.2f}s"
        # Whatever failed, an answer is either the truth or the "could not tell" value, never half of one.
        if name == "quiet_chats":
            assert set(result) <= {CHAT, 1}  # the chats the bot knew (1: the disk_full filler rows)
        if name == "unmatched":
            assert all(SECRET_WORDS[0] not in text and SECRET_WORDS[1] not in text for _, text in result)
        if name == "messages_for":
            assert result in (None, [], [1, 2, 3])  # None: the list could not be read
        if name == "forget_chat":
            assert result in (True, False)
        if name == "stats":
            assert result.today == date(2026, 6, 15)
    _assert_clean_logs(caplog, store)


EMERGENCY = "he is outside my door right now with a knife"
MESSAGES = [EMERGENCY, "how do i report stalking", f"my name is {SECRET_WORDS[0]} help", "/start"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine(Config().answer_values())


async def handle(engine: Engine, store: Store, text: str, message_id: int) -> Outcome:
    """A channel at its most careless: it waits for every store call before it replies."""
    outcome = engine.respond(Incoming(text=text, now=NOW))
    key = store.user_key(CHAT)
    await store.remember_messages(CHAT, [message_id], NOW)
    await store.record(outcome, user_key=key, when=NOW)
    if outcome.fallback:
        await store.log_unmatched(text, NOW)
    await store.messages_for(CHAT)
    return outcome


@pytest.mark.slow
async def test_every_message_still_gets_its_answer(
    broken: tuple[Store, Config], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = broken
    caplog.set_level(logging.DEBUG)
    healthy = [engine.respond(Incoming(text=t, now=NOW)) for t in MESSAGES]
    started = time.monotonic()
    answered = [await handle(engine, store, text, i) for i, text in enumerate(MESSAGES)]
    assert answered == healthy
    assert all(o.replies for o in answered)
    assert answered[0].escalations == ("emergency",)
    assert answered[0].replies[0].kind == "escalation"
    # Each message waits at most for its four store calls, each cut off at CALL_SECONDS.
    assert time.monotonic() - started < len(MESSAGES) * (4 * CALL_SECONDS + SLACK)
    _assert_clean_logs(caplog, store)


async def test_a_store_that_recovers_is_used_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config(tmp_path)
    store = await Store.open(cfg)
    try:
        other = sqlite3.connect(cfg.path(cfg.storage.path), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        other.execute("INSERT INTO daily_counts (day, kind, name, count) VALUES ('2000-01-01', 'x', '', 1)")
        caplog.set_level(logging.INFO)
        await store.remember_messages(CHAT, [1], NOW)
        await store.remember_messages(CHAT, [2], NOW)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
            "storage: remember_messages failed (OperationalError); carrying on without it"
        ]
        other.execute("ROLLBACK")
        other.close()
        await store.remember_messages(CHAT, [3], NOW)
        assert "storage: remember_messages works again" in caplog.text
        store._clock = lambda: NOW
        assert await store.messages_for(CHAT) == [3]
    finally:
        await store.close()


async def test_a_call_cut_short_leaves_no_transaction_behind(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    store = await Store.open(cfg, clock=lambda: NOW)
    try:
        assert store._db is not None
        await store._db.execute("BEGIN IMMEDIATE")  # as if a purge had been cut off half-way
        await store.remember_messages(CHAT, [1], NOW)
        assert not store._db.in_transaction
        with sqlite3.connect(cfg.path(cfg.storage.path)) as raw:
            assert raw.execute("SELECT message_id FROM recent_messages").fetchall() == [(1,)]
    finally:
        await store.close()


async def test_a_deleted_database_is_started_afresh_at_the_next_purge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(tmp_path)
    store = await Store.open(cfg)
    try:
        await store.record(_outcome(intent="before"), user_key="k", when=NOW)
        shutil.rmtree(cfg.path(cfg.storage.path).parent)
        await store.record(_outcome(intent="lost"), user_key="k", when=NOW)  # goes to the unlinked file
        await store.purge(NOW)
        assert "storage: the database file is gone; starting a new one" in caplog.text
        assert cfg.path(cfg.storage.path).exists()
        await store.record(_outcome(intent="after"), user_key="k", when=NOW)
        assert dict((await store.stats(NOW.date())).windows[0].intents) == {"after": 1}
    finally:
        await store.close()


async def test_a_database_that_could_not_open_is_tried_again_at_the_next_purge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cfg = make_config(tmp_path)
    store = await Store.open(cfg)
    try:
        folder = cfg.path(cfg.storage.path).parent
        await store.close()
        shutil.rmtree(folder)
        folder.write_text("in the way")
        store = await Store.open(cfg)
        assert not store.available
        await store.purge(NOW)
        assert not store.available
        folder.unlink()
        await store.purge(NOW)
        assert store.available
        assert "storage: open works again" in caplog.text
        await store.record(_outcome(intent="counted"), user_key="k", when=NOW)
        assert dict((await store.stats(NOW.date())).windows[0].intents) == {"counted": 1}
    finally:
        await store.close()
