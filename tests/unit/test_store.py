"""The store: schema migrations, pseudonymous keys, counts, message ids for quick exit, retention, privacy."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.config import HMAC_SECRET_ENV, Config, PrivacyConfig, StorageConfig
from bot.store import LATEST, MIGRATIONS, SchemaTooNew, Store, migrate, schema_version
from bot.turns import Outcome, Reply

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
TODAY = date(2026, 6, 15)


def make_config(tmp_path: Path, **privacy: object) -> Config:
    return Config(
        storage=StorageConfig(path=str(tmp_path / "data" / "bot.sqlite3")),
        privacy=PrivacyConfig(**privacy),  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HMAC_SECRET_ENV, raising=False)


@pytest.fixture
async def open_store() -> AsyncIterator[Callable[..., Awaitable[Store]]]:
    """Opens stores and closes them even when a test fails (an open aiosqlite thread blocks exit)."""
    opened: list[Store] = []

    async def factory(cfg: Config, **kw: Any) -> Store:
        store = await Store.open(cfg, **kw)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


OpenStore = Callable[..., Awaitable[Store]]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def out(**kw: object) -> Outcome:
    return Outcome(replies=(Reply(html="an answer"),), **kw)  # type: ignore[arg-type]


# --- opening, files and keys ---------------------------------------------------------------------------


async def test_open_creates_private_files_wal_and_latest_schema(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg)
    assert store.available
    await store.close()
    db_path = tmp_path / "data" / "bot.sqlite3"
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    key_path = cfg.hmac_secret_path
    assert key_path != db_path and key_path.exists()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]


async def test_secret_is_stable_across_runs_and_never_in_the_database(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    first = await open_store(cfg)
    key_a = first.user_key(424242)
    await first.record(out(intent="how_to_report"), user_key=key_a, when=NOW)
    await first.close()
    second = await open_store(cfg)
    assert second.user_key(424242) == key_a
    await second.close()
    secret = cfg.hmac_secret_path.read_bytes().strip()
    for f in (tmp_path / "data").iterdir():
        if f != cfg.hmac_secret_path:
            assert secret not in f.read_bytes()


async def test_secret_from_environment_writes_no_key_file(
    open_store: OpenStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config(tmp_path)
    monkeypatch.setenv(HMAC_SECRET_ENV, "an environment secret of some length")
    store = await open_store(cfg)
    env_key = store.user_key(1)
    await store.close()
    assert not cfg.hmac_secret_path.exists()
    monkeypatch.setenv(HMAC_SECRET_ENV, "a different secret entirely")
    other = await open_store(cfg)
    assert other.user_key(1) != env_key
    await other.close()


async def test_an_unusable_key_file_costs_only_key_continuity(
    open_store: OpenStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(tmp_path)
    cfg.hmac_secret_path.parent.mkdir(parents=True)
    cfg.hmac_secret_path.write_text("short")
    store = await open_store(cfg)
    assert store.available and len(store.user_key(1)) == 32
    assert "key file unavailable (OSError)" in caplog.text
    assert cfg.hmac_secret_path.read_text() == "short"


async def test_user_key_is_a_keyed_pseudonym(open_store: OpenStore, tmp_path: Path) -> None:
    store = await open_store(make_config(tmp_path))
    key = store.user_key(987654321)
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert key == store.user_key(987654321)
    assert key != store.user_key(987654322)
    assert "987654321" not in key
    await store.close()


async def test_secret_path_equal_to_database_path_is_not_used(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, storage=replace(cfg.storage, secret_path=cfg.storage.path))
    store = await open_store(cfg)
    assert store.available
    await store.close()
    with sqlite3.connect(cfg.path(cfg.storage.path)) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (LATEST,)


async def test_empty_storage_path_turns_storage_off(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = replace(make_config(tmp_path), storage=StorageConfig(path="", secret_path=str(tmp_path / "k")))
    store = await open_store(cfg)
    assert not store.available
    await store.record(out(intent="x"), user_key="k", when=NOW)
    assert await store.messages_for(1) == []
    assert not (await store.stats(TODAY)).available
    await store.close()


# --- migrations ----------------------------------------------------------------------------------------

# Rows that are valid at each version, to show that migrating keeps data.
SEED = {
    1: [
        "INSERT INTO daily_counts (day, kind, name, count) VALUES ('2026-06-15', 'intent', 'how_to_report', 3)",
        "INSERT INTO recent_messages (chat_id, message_id, at) VALUES (7, 70, 1781524800)",
    ],
    2: ["INSERT INTO daily_active (day, token) VALUES ('2026-06-15', 'abc')"],
    3: ["INSERT INTO unmatched (day, text) VALUES ('2026-06-15', 'redacted words')"],
}


async def _schema(path: Path) -> list[tuple[str, str]]:
    async with aiosqlite.connect(path) as db:
        rows = await db.execute_fetchall(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [(str(n), " ".join(str(s).split())) for n, s in rows]


@pytest.mark.parametrize("start", range(LATEST))
async def test_every_past_version_migrates_to_the_latest(open_store: OpenStore, tmp_path: Path, start: int) -> None:
    fresh_cfg = make_config(tmp_path / "fresh")
    fresh = await open_store(fresh_cfg)
    await fresh.close()

    cfg = make_config(tmp_path / "old")
    path = cfg.path(cfg.storage.path)
    path.parent.mkdir(parents=True)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        assert await migrate(db, start) == start
        assert await schema_version(db) == start
        for version in range(1, start + 1):
            for sql in SEED[version]:
                await db.execute(sql)

    store = await open_store(cfg)
    assert store.available
    await store.close()
    async with aiosqlite.connect(path) as db:
        assert await schema_version(db) == LATEST
        if start >= 1:
            assert list(await db.execute_fetchall("SELECT count FROM daily_counts")) == [(3,)]
            assert list(await db.execute_fetchall("SELECT message_id FROM recent_messages")) == [(70,)]
        if start >= 2:
            assert list(await db.execute_fetchall("SELECT token FROM daily_active")) == [("abc",)]
    assert await _schema(path) == await _schema(fresh_cfg.path(fresh_cfg.storage.path))


def test_every_migration_step_is_listed_once() -> None:
    assert LATEST == len(MIGRATIONS) == len(set(MIGRATIONS)) == max(SEED)


async def test_a_failed_step_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await migrate(db, 1)
        broken = (*MIGRATIONS[:1], MIGRATIONS[1] + "\nTHIS IS NOT SQL;", *MIGRATIONS[2:])
        monkeypatch.setattr("bot.store.MIGRATIONS", broken)
        with pytest.raises(sqlite3.OperationalError):
            await migrate(db, LATEST)
        assert not db.in_transaction
        assert await schema_version(db) == 1
        tables = {r[0] for r in await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "daily_active" not in tables


async def test_newer_schema_is_left_alone_and_the_store_degrades(
    open_store: OpenStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg)
    await store.close()
    path = cfg.path(cfg.storage.path)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
    async with aiosqlite.connect(path) as db:
        with pytest.raises(SchemaTooNew):
            await migrate(db)
    caplog.set_level(logging.WARNING)
    store = await open_store(cfg)
    assert not store.available
    assert "SchemaTooNew" in caplog.text
    await store.record(out(intent="x"), user_key="k", when=NOW)
    await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchone() == (LATEST + 1,)


# --- counts and the report ------------------------------------------------------------------------------


async def test_counts_by_intent_escalation_fallback_button_and_command(open_store: OpenStore, tmp_path: Path) -> None:
    store = await open_store(make_config(tmp_path))
    a, b = store.user_key(1), store.user_key(2)
    await store.record(out(intent="how_to_report"), user_key=a, when=NOW)
    await store.record(out(intent="how_to_report"), user_key=b, when=NOW)
    await store.record(out(intent="keep_evidence", button="i:keep_evidence"), user_key=a, when=NOW)
    await store.record(out(fallback=True), user_key=a, when=NOW)
    await store.record(out(choices=("a", "b")), user_key=a, when=NOW)
    await store.record(out(escalations=("emergency",), intent="how_to_report"), user_key=b, when=NOW)
    await store.record(out(escalations=("crisis",), fallback=True), user_key=b, when=NOW)
    await store.record(out(command="/start@SomeBot"), user_key=a, when=NOW)
    await store.record(out(erase=True, button="erase"), user_key=a, when=NOW)
    await store.record(out(fallback=True), user_key=a, when=NOW - timedelta(days=10))

    report = await store.stats(TODAY)
    week, month = report.windows
    assert (week.days, month.days) == (7, 30)
    assert week.messages == 6 and month.messages == 7
    assert week.buttons == 2 and week.commands == 1
    assert week.fallbacks == 2 and month.fallbacks == 3
    assert week.fallback_rate == pytest.approx(2 / 6)
    assert week.choices == 1 and week.erasures == 1
    assert dict(week.intents) == {"how_to_report": 3, "keep_evidence": 1}
    assert list(week.intents) == ["how_to_report", "keep_evidence"]
    assert dict(week.escalations) == {"crisis": 1, "emergency": 1}
    assert week.escalation_total == 2
    assert dict(week.command_counts) == {"start": 1}
    assert week.active_users == 2 and month.active_users == 3
    assert len(report.daily) == 30 and report.daily[-1].day == TODAY
    assert report.daily[-1].messages == 9 and report.daily[-1].escalations == 2
    await store.close()


async def test_counts_never_take_free_text_from_commands_or_forged_buttons(
    open_store: OpenStore, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg)
    await store.record(out(command="/Glorbington Wuzzle lives here"), user_key="k", when=NOW)
    await store.record(out(button="i:Glorbington Wuzzle"), user_key="k", when=NOW)
    await store.record(out(intent="Frumious Bandersnatch at 4 Elm Road"), user_key="k", when=NOW)
    report = await store.stats(TODAY)
    assert dict(report.windows[0].command_counts) == {"other": 1}
    assert dict(report.windows[0].intents) == {"other": 1}
    await store.close()
    blob = b"".join(f.read_bytes() for f in (tmp_path / "data").iterdir()).lower()
    for word in (b"glorbington", b"wuzzle", b"frumious", b"bandersnatch"):
        assert word not in blob


async def test_days_follow_the_service_time_zone(open_store: OpenStore, tmp_path: Path) -> None:
    store = await open_store(make_config(tmp_path))  # Europe/London: BST in June
    await store.record(out(intent="x"), user_key="k", when=datetime(2026, 6, 15, 23, 30, tzinfo=timezone.utc))
    report = await store.stats(date(2026, 6, 16))
    assert report.daily[-1].day == date(2026, 6, 16) and report.daily[-1].messages == 1
    await store.close()


async def test_active_users_become_a_plain_count_when_the_day_is_over(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg)
    keys = [store.user_key(i) for i in range(3)]
    for key in keys + keys[:1]:
        await store.record(out(intent="x"), user_key=key, when=NOW)
    assert (await store.stats(TODAY)).windows[0].active_users == 3
    with sqlite3.connect(cfg.path(cfg.storage.path)) as raw:
        tokens = [r[0] for r in raw.execute("SELECT token FROM daily_active")]
    assert len(tokens) == 3 and not set(tokens) & set(keys)

    await store.purge(NOW + timedelta(days=1))
    await store.purge(NOW + timedelta(days=1))  # a second purge must not count anyone twice
    assert (await store.stats(TODAY)).windows[0].active_users == 3
    with sqlite3.connect(cfg.path(cfg.storage.path)) as raw:
        assert raw.execute("SELECT count(*) FROM daily_active").fetchone() == (0,)
    await store.close()


async def test_count_retention_is_configurable(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, storage=replace(cfg.storage, retention_days=20))
    store = await open_store(cfg)
    await store.record(out(intent="old"), user_key="k", when=NOW - timedelta(days=25))
    await store.record(out(intent="recent"), user_key="k", when=NOW - timedelta(days=5))
    await store.purge(NOW)
    assert dict((await store.stats(TODAY)).windows[1].intents) == {"recent": 1}
    await store.close()


# --- message ids for quick exit ---------------------------------------------------------------------------


async def test_message_ids_are_kept_for_48_hours_only(open_store: OpenStore, tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = await open_store(make_config(tmp_path), clock=clock)
    await store.remember_messages(100, [1, 2], NOW - timedelta(hours=47))
    await store.remember_messages(100, [3], NOW - timedelta(hours=49))
    await store.remember_messages(200, [9], NOW)
    await store.remember_messages(200, [], NOW)
    assert await store.messages_for(100) == [1, 2]
    assert await store.messages_for(200) == [9]
    assert await store.messages_for(300) == []
    clock.now = NOW + timedelta(hours=2)
    assert await store.messages_for(100) == []
    await store.purge(NOW)
    clock.now = NOW - timedelta(hours=60)  # purged rows are gone even where the clock would show them
    assert await store.messages_for(100) == [1, 2]
    await store.close()


async def test_quiet_chats_and_forget_chat(open_store: OpenStore, tmp_path: Path) -> None:
    store = await open_store(make_config(tmp_path), clock=Clock(NOW))
    await store.remember_messages(100, [1], NOW - timedelta(hours=13))
    await store.remember_messages(100, [2], NOW - timedelta(hours=3))
    await store.remember_messages(200, [5], NOW - timedelta(hours=13))
    assert await store.quiet_chats(NOW - timedelta(hours=12)) == [200]
    assert await store.quiet_chats(NOW - timedelta(hours=1)) == [100, 200]

    key = store.user_key(100)
    await store.record(out(intent="x"), user_key=key, when=NOW)
    await store.forget_chat(100, key)
    assert await store.messages_for(100) == []
    assert await store.messages_for(200) == [5]
    # Still counted as active today, but no longer as a token that could be tied to them.
    assert (await store.stats(TODAY)).windows[0].active_users == 1
    await store.record(out(intent="x"), user_key=store.user_key(200), when=NOW)
    assert (await store.stats(TODAY)).windows[0].active_users == 2
    await store.close()


@pytest.mark.parametrize("others", [0, 3000], ids=["alone", "many-pages"])
async def test_after_forget_chat_no_copy_is_left_in_the_database_files(
    open_store: OpenStore, tmp_path: Path, others: int
) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg, clock=Clock(NOW))
    person = 7_123_456_789  # a Telegram id past 2**32: SQLite stores it as 6 big-endian bytes
    mark, token = person.to_bytes(6, "big"), store._day_token(TODAY.isoformat(), store.user_key(person))
    for other in range(others):  # other people's rows, so the tables and the index span many pages
        await store.remember_messages(5_000_000_000 + other, [other], NOW)
    await store.remember_messages(person, list(range(1, 600)), NOW)  # over several leaf pages too
    await store.record(out(intent="x"), user_key=store.user_key(person), when=NOW)
    db, wal = cfg.path(cfg.storage.path), cfg.path(cfg.storage.path + "-wal")

    def on_disk() -> bytes:
        return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert mark in on_disk() and token.encode() in on_disk()
    assert await store.forget_chat(person, store.user_key(person))
    assert mark not in on_disk()  # read while the store is still open: closing would checkpoint anyway
    assert token.encode() not in on_disk()
    assert len(await store.quiet_chats(NOW + timedelta(hours=1))) == others


async def test_forget_chat_waits_for_a_reader_that_holds_the_wal(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    store = await open_store(cfg, clock=Clock(NOW))
    person = 7_123_456_789
    await store.remember_messages(person, [1, 2, 3], NOW)
    reader = sqlite3.connect(cfg.path(cfg.storage.path), isolation_level=None)  # e.g. `python -m bot stats`
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM recent_messages").fetchall()
    asyncio.get_running_loop().call_later(1.0, reader.commit)
    try:
        assert await store.forget_chat(person, store.user_key(person))
    finally:
        reader.close()
    wal = cfg.path(cfg.storage.path + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


# --- the unmatched log -------------------------------------------------------------------------------------


async def test_unmatched_log_is_off_by_default(open_store: OpenStore, tmp_path: Path) -> None:
    store = await open_store(make_config(tmp_path))
    await store.log_unmatched("where do i find the thing", NOW)
    assert await store.unmatched(10) == []
    assert (await store.stats(TODAY)).unmatched_kept == 0
    await store.close()


async def test_unmatched_log_keeps_only_redacted_text_with_its_own_retention(
    open_store: OpenStore, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path, log_unmatched=True)
    cfg = replace(cfg, storage=replace(cfg.storage, unmatched_retention_days=10))
    store = await open_store(cfg)
    await store.log_unmatched("old question", NOW - timedelta(days=11))
    await store.log_unmatched("my name is Jane,\n ring   07700 900123", NOW)
    await store.log_unmatched("x" * 10_000, NOW)
    await store.log_unmatched("   ", NOW)
    rows = await store.unmatched(10)
    assert rows[1] == (TODAY, "my name is [name], ring [phone]")
    assert len(rows[0][1]) == 500
    assert len(rows) == 3
    await store.purge(NOW)
    assert [t for _, t in await store.unmatched(10)] == [rows[0][1], rows[1][1]]
    assert await store.unmatched(1) == rows[:1]
    assert (await store.stats(TODAY)).unmatched_kept == 2
    await store.close()


async def test_turning_the_unmatched_log_off_deletes_what_was_kept(open_store: OpenStore, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, log_unmatched=True)
    store = await open_store(cfg)
    await store.log_unmatched("a question nobody planned for", NOW)
    await store.close()
    store = await open_store(replace(cfg, privacy=PrivacyConfig(log_unmatched=False)))
    await store.purge(NOW)
    assert await store.unmatched(10) == []
    await store.close()


# --- no message text at rest or in the logs ---------------------------------------------------------------

PLANTED = ["Zorblaxian", "Quimbleworth", "Vexillographa", "snorkelwump", "Ptarmigander"]
MESSAGES = [
    f"my name is {PLANTED[0]} and he keeps following me",
    f"he waits outside 14 {PLANTED[1]} Road every night",
    f"his email is {PLANTED[2].lower()}@example.com",
    f"he is called {PLANTED[3]}",
    f"call me {PLANTED[4]} please, I am scared",
]
UNREDACTED_MARKER = "following"  # an ordinary word that the log may keep when it is on


@pytest.mark.parametrize("log_unmatched", [False, True])
async def test_no_message_text_at_rest_or_in_logs(
    open_store: OpenStore, tmp_path: Path, caplog: pytest.LogCaptureFixture, log_unmatched: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = make_config(tmp_path, log_unmatched=log_unmatched)
    store = await open_store(cfg, clock=Clock(NOW))
    for i, text in enumerate(MESSAGES):
        key = store.user_key(5000 + i)
        # What a channel does with a message: count the outcome, keep the ids, log it if nothing matched.
        await store.record(out(fallback=True), user_key=key, when=NOW)
        await store.record(out(escalations=("crisis",), intent="how_to_report"), user_key=key, when=NOW)
        await store.remember_messages(5000 + i, [i * 2, i * 2 + 1], NOW)
        await store.log_unmatched(text, NOW)
    await store.stats(TODAY)
    await store.unmatched(50)
    await store.purge(NOW)
    await store.close()

    files = [p for p in (tmp_path / "data").iterdir() if p.is_file()]
    assert any(p.name.endswith(".key") for p in files)
    blob = b"".join(p.read_bytes() for p in files).lower()
    for word in PLANTED:
        assert word.lower().encode() not in blob, word
        assert word.lower() not in caplog.text.lower(), word
    secret = cfg.hmac_secret_path.read_text().strip()
    assert secret not in caplog.text
    # The grep can see text: with the log on, the ordinary words around the redactions are kept.
    assert (UNREDACTED_MARKER.encode() in blob) == log_unmatched
    assert UNREDACTED_MARKER not in caplog.text
