"""Counts, short-lived message ids and the optional redacted unmatched log, in SQLite (aiosqlite).

Privacy: no message text is ever written here (only the redacted unmatched log, which is off by default).
Daily activity is kept as day-salted tokens of a keyed HMAC of the Telegram id, folded into a plain count
once the day is over. Message ids are kept with their chat id, which in a private chat is the person's
Telegram user id in plain: deleting a message needs both. They are kept only for quick exit and only for 48
hours, Telegram's limit for deleting messages; forgetting a chat also clears the WAL and the freed pages, so
no copy of its rows is left in the database files.

Reliability: storage is a side effect. Every public method catches its own errors, logs only the exception
type, returns a harmless default, and gives up after a fraction of a second (an erase's forget_chat retries
a busy database for a few seconds), so a locked, read-only, deleted
or full database never holds up or costs a reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import aiosqlite

from bot.config import HMAC_SECRET_ENV, Config
from bot.redact import redact
from bot.stats import WINDOWS, StatsReport, build_report, outcome_counts
from bot.turns import Outcome

log = logging.getLogger(__name__)

T = TypeVar("T")

MESSAGE_ID_HOURS = 48  # Telegram lets a bot delete messages only within 48 hours
BUSY_SECONDS = 0.2  # SQLite waits this long for a lock before giving up
CALL_SECONDS = 0.5  # hard cap on any store call on the reply path
MAINTENANCE_SECONDS = 5.0  # purge and stats: not on the reply path
FORGET_SECONDS = 5.0  # how long an erase keeps retrying a busy database before saying what is left
FORGET_PAUSE = 0.25  # first pause between those retries; doubled each time, up to a second
OPEN_SECONDS = 5.0
UNMATCHED_SCAN_CHARS = 4096  # Telegram's own message limit: bounds the redaction work
UNMATCHED_MAX_CHARS = 500

# Ordered schema steps: step N (1-based) takes a database from version N-1 to N. Never edit a released
# step; add a new one. tests/unit/test_store.py builds a database at every past version and migrates it.
MIGRATIONS: tuple[str, ...] = (
    # 1: per-day counts, and message ids for quick exit
    """
    CREATE TABLE daily_counts (
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, kind, name)
    ) WITHOUT ROWID;
    CREATE TABLE recent_messages (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX recent_messages_at ON recent_messages (at);
    """,
    # 2: people active today, as day-salted tokens; folded into daily_counts when the day is over
    """
    CREATE TABLE daily_active (
        day TEXT NOT NULL,
        token TEXT NOT NULL,
        PRIMARY KEY (day, token)
    ) WITHOUT ROWID;
    """,
    # 3: the optional unmatched-message log, redacted before it is written
    """
    CREATE TABLE unmatched (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX unmatched_day ON unmatched (day);
    """,
)
LATEST = len(MIGRATIONS)



class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the bot; it is left untouched."""


async def schema_version(db: aiosqlite.Connection) -> int:
    """The version a database is at; 0 for an empty one."""
    rows = list(
        await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'")
    )
    if not rows:
        return 0
    rows = list(await db.execute_fetchall("SELECT max(version) FROM schema_version"))
    return int(rows[0][0] or 0)


async def migrate(db: aiosqlite.Connection, target: int = LATEST) -> int:
    """Apply the missing steps up to ``target``, each in its own transaction; returns the new version."""
    current = await schema_version(db)
    if current > LATEST:
        raise SchemaTooNew(f"database schema {current} is newer than this bot's {LATEST}")
    for version in range(current + 1, target + 1):
        script = (
            "BEGIN IMMEDIATE;\n"
            + MIGRATIONS[version - 1]
            + "\nCREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
            + "\nDELETE FROM schema_version;"
            + f"\nINSERT INTO schema_version (version) VALUES ({version:d});"
            + "\nCOMMIT;"
        )
        try:
            await db.executescript(script)
        except BaseException:
            if db.in_transaction:
                await db.rollback()
            raise
    return max(current, target)


def load_secret(config: Config) -> bytes:
    """The HMAC key: from the environment, else the key file (created 0600 on first run), never the db."""
    from_env = os.environ.get(HMAC_SECRET_ENV, "")
    if from_env:
        if len(from_env) < 16:
            log.warning("storage: %s is shorter than 16 characters; a longer secret is safer", HMAC_SECRET_ENV)
        return from_env.encode("utf-8", "surrogateescape")
    path = config.hmac_secret_path
    if path.resolve() == config.path(config.storage.path).resolve():
        path = path.with_name(path.name + ".key")
    try:
        return _read_or_create_secret(path)
    except OSError as exc:
        # Keys are then stable only for this run: counts still work, nothing is lost but continuity.
        log.warning("storage: key file unavailable (%s); using a key for this run only", type(exc).__name__)
        return secrets.token_bytes(32)


def _read_or_create_secret(path: Path) -> bytes:
    try:
        data = path.read_bytes().strip()
        if len(data) >= 16:
            return data
        raise OSError("key file too short")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (the bot, or `python -m bot stats`) made it just now
        return _read_or_create_secret(path)
    try:
        os.write(fd, key + b"\n")
    finally:
        os.close(fd)
    return key


class Store:
    """The bot's only database connection (one writer); see the module docstring for the guarantees."""

    def __init__(
        self,
        config: Config,
        db: aiosqlite.Connection | None,
        secret: bytes,
        clock: Callable[[], datetime] | None = None,
        path: Path | None = None,
    ) -> None:
        self._config = config
        self._db = db
        self._path = path  # None: storage is off
        self._secret = secret
        self._tz = ZoneInfo(config.service["timezone"])
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._failing: set[str] = set()

    @classmethod
    async def open(cls, config: Config, *, clock: Callable[[], datetime] | None = None) -> Store:
        """Create the folder, apply migrations, switch on WAL; never raises (degraded Store on failure)."""
        # aiosqlite logs every call with its parameters at DEBUG: keep those out of the logs.
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))
        secret = load_secret(config)
        if not config.storage.path:
            return cls(config, None, secret, clock)
        store = cls(config, None, secret, clock, config.path(config.storage.path))
        await store._reopen()
        return store

    async def _reopen(self) -> None:
        """Open the database if it is not open, or open a new one if its file was deleted."""
        path = self._path
        if path is None or (self._db is not None and path.exists()):
            return
        if self._db is not None:
            old, self._db = self._db, None
            await _close_quietly(old)
            log.warning("storage: the database file is gone; starting a new one")
        holder: list[aiosqlite.Connection] = []
        try:
            self._db = await asyncio.wait_for(_connect(path, holder), OPEN_SECONDS)
        except Exception as exc:
            for leftover in holder:
                await _close_quietly(leftover)
            self._failed("open", exc, "cannot open the database (%s); answering without it")
            return
        self._recovered("open")

    @property
    def available(self) -> bool:
        """Whether a database is open (False: counts are not kept, replies are unaffected)."""
        return self._db is not None

    def user_key(self, telegram_user_id: int) -> str:
        """The pseudonymous key for a Telegram user: keyed HMAC-SHA256, hex, 32 characters."""
        return hmac.new(self._secret, str(telegram_user_id).encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def _day_token(self, day: str, user_key: str) -> str:
        return hmac.new(self._secret, f"{day}|{user_key}".encode(), hashlib.sha256).hexdigest()[:32]

    def _day(self, when: datetime) -> str:
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(self._tz).date().isoformat()

    async def _guard(
        self, op: str, work: Callable[[aiosqlite.Connection], Awaitable[T]], default: T, limit: float
    ) -> T:
        db = self._db
        if db is None:
            return default
        try:
            result = await asyncio.wait_for(_fresh(db, work), limit)
        except Exception as exc:
            self._failed(op, exc, f"{op} failed (%s); carrying on without it")
            return default
        self._recovered(op)
        return result

    def _failed(self, op: str, exc: Exception, message: str) -> None:
        # Only the exception type is logged: messages can quote paths and values. A failure that repeats
        # is logged once at WARNING, then at DEBUG until the operation works again.
        if op not in self._failing:
            self._failing.add(op)
            log.warning("storage: " + message, type(exc).__name__)
        else:
            log.debug("storage: %s failed again (%s)", op, type(exc).__name__)

    def _recovered(self, op: str) -> None:
        if op in self._failing:
            self._failing.discard(op)
            log.info("storage: %s works again", op)

    async def record(self, outcome: Outcome, *, user_key: str, when: datetime) -> None:
        """Count one interaction for the day: its kind, intent, escalations, fallback, button, command."""

        async def work(db: aiosqlite.Connection) -> None:
            day = self._day(when)
            rows = [(day, kind, name, n) for (kind, name), n in outcome_counts(outcome).items()]
            await db.execute(
                "INSERT INTO daily_counts (day, kind, name, count) VALUES "
                + ", ".join("(?, ?, ?, ?)" for _ in rows)
                + " ON CONFLICT (day, kind, name) DO UPDATE SET count = count + excluded.count",
                [v for row in rows for v in row],
            )
            if user_key:
                await db.execute(
                    "INSERT OR IGNORE INTO daily_active (day, token) VALUES (?, ?)",
                    (day, self._day_token(day, user_key)),
                )

        await self._guard("record", work, None, CALL_SECONDS)

    async def remember_messages(self, chat_id: int, message_ids: Sequence[int], when: datetime) -> None:
        """Keep message ids (never text) so quick exit can delete them; they go after 48 hours."""
        if not message_ids:
            return

        async def work(db: aiosqlite.Connection) -> None:
            at = int(_aware(when).timestamp())
            rows = [(int(chat_id), int(m), at) for m in message_ids]
            await db.executemany(
                "INSERT INTO recent_messages (chat_id, message_id, at) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, message_id) DO UPDATE SET at = excluded.at",
                rows,
            )

        await self._guard("remember_messages", work, None, CALL_SECONDS)

    async def messages_for(self, chat_id: int) -> list[int] | None:
        """Ids of the chat's messages that are still young enough to delete, oldest first; None if unreadable."""
        if self._path is None:
            return []  # storage is off: nothing was kept, so nothing is missing

        async def work(db: aiosqlite.Connection) -> list[int]:
            since = int(self._clock().timestamp()) - MESSAGE_ID_HOURS * 3600
            rows = await db.execute_fetchall(
                "SELECT message_id FROM recent_messages WHERE chat_id = ? AND at > ? ORDER BY message_id",
                (int(chat_id), since),
            )
            return [int(r[0]) for r in rows]

        return await self._guard("messages_for", work, None, CALL_SECONDS)

    async def forget_chat(self, chat_id: int, user_key: str) -> bool:
        """After quick exit: delete the chat's message ids and the person's day tokens; True once done.

        A busy database is retried for up to FORGET_SECONDS (the caller is the erasing chat's own turn, so
        no other chat waits), and done means no copy is left in the database or its WAL.
        """
        if self._path is None:
            return True

        async def work(db: aiosqlite.Connection) -> bool:
            await db.execute("DELETE FROM recent_messages WHERE chat_id = ?", (int(chat_id),))
            days: list[str] = []
            if user_key:
                days = [str(r[0]) for r in await db.execute_fetchall("SELECT DISTINCT day FROM daily_active")]
            for day in days:
                cur = await db.execute(
                    "DELETE FROM daily_active WHERE day = ? AND token = ?",
                    (day, self._day_token(day, user_key)),
                )
                if cur.rowcount:
                    # The person still counts as active that day, just no longer as someone identifiable.
                    await db.execute(
                        "INSERT INTO daily_counts (day, kind, name, count) VALUES (?, 'users', '', 1)"
                        " ON CONFLICT (day, kind, name) DO UPDATE SET count = count + 1",
                        (day,),
                    )
            # The WAL still holds the rows as they were written: copy the pages (zeroed by secure_delete)
            # back into the main file and empty the WAL. A reader elsewhere can block that; try again.
            busy = list(await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))
            if busy and busy[0][0]:
                raise sqlite3.OperationalError("checkpoint blocked")
            return True

        deadline = time.monotonic() + FORGET_SECONDS
        pause = FORGET_PAUSE
        while not await self._guard("forget_chat", work, False, CALL_SECONDS):
            if self._db is None or time.monotonic() + pause > deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        return True

    async def quiet_chats(self, idle_since: datetime) -> list[int]:
        """Chats with message ids kept whose newest message is older than ``idle_since``."""

        async def work(db: aiosqlite.Connection) -> list[int]:
            cutoff = int(_aware(idle_since).timestamp())
            rows = await db.execute_fetchall(
                "SELECT chat_id FROM recent_messages GROUP BY chat_id HAVING max(at) < ? ORDER BY chat_id",
                (cutoff,),
            )
            return [int(r[0]) for r in rows]

        return await self._guard("quiet_chats", work, [], MAINTENANCE_SECONDS)

    async def purge(self, now: datetime) -> None:
        """Apply every retention rule: 48 h message ids, day tokens, count and unmatched retention.

        Runs periodically, so it is also where a database that failed to open, or whose file was
        deleted, is opened again.
        """
        await self._reopen()
        storage, keep_unmatched = self._config.storage, self._config.privacy.log_unmatched

        async def work(db: aiosqlite.Connection) -> None:
            today = self._day(now)
            ids_before = int(_aware(now).timestamp()) - MESSAGE_ID_HOURS * 3600
            today_date = date.fromisoformat(today)
            counts_before = (today_date - timedelta(days=storage.retention_days)).isoformat()
            unmatched_before = (today_date - timedelta(days=storage.unmatched_retention_days)).isoformat()
            await db.execute("DELETE FROM recent_messages WHERE at <= ?", (ids_before,))
            # Fold finished days' tokens into a count and drop them, in one transaction so nobody is
            # counted twice.
            await db.execute("BEGIN IMMEDIATE")
            await db.execute(
                "INSERT INTO daily_counts (day, kind, name, count)"
                " SELECT day, 'users', '', count(*) FROM daily_active WHERE day < ? GROUP BY day"
                " ON CONFLICT (day, kind, name) DO UPDATE SET count = count + excluded.count",
                (today,),
            )
            await db.execute("DELETE FROM daily_active WHERE day < ?", (today,))
            await db.execute("COMMIT")
            await db.execute("DELETE FROM daily_counts WHERE day < ?", (counts_before,))
            if keep_unmatched:
                await db.execute("DELETE FROM unmatched WHERE day < ?", (unmatched_before,))
            else:
                await db.execute("DELETE FROM unmatched")
            await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await self._guard("purge", work, None, MAINTENANCE_SECONDS)

    async def log_unmatched(self, text: str, when: datetime) -> None:
        """Keep a redacted copy of a message nothing matched, only when privacy.log_unmatched is on."""
        if not self._config.privacy.log_unmatched:
            return

        async def work(db: aiosqlite.Connection) -> None:
            cleaned = " ".join(redact(text[:UNMATCHED_SCAN_CHARS]).split())[:UNMATCHED_MAX_CHARS]
            if cleaned:
                await db.execute("INSERT INTO unmatched (day, text) VALUES (?, ?)", (self._day(when), cleaned))

        await self._guard("log_unmatched", work, None, CALL_SECONDS)

    async def unmatched(self, limit: int) -> list[tuple[date, str]]:
        """The newest redacted unmatched messages (day, text), newest first."""

        async def work(db: aiosqlite.Connection) -> list[tuple[date, str]]:
            rows = await db.execute_fetchall(
                "SELECT day, text FROM unmatched ORDER BY id DESC LIMIT ?", (max(0, int(limit)),)
            )
            return [(date.fromisoformat(str(r[0])), str(r[1])) for r in rows]

        return await self._guard("unmatched", work, [], MAINTENANCE_SECONDS)

    async def stats(self, today: date) -> StatsReport:
        """Counts for the last 7 and 30 days (today included); an 'unavailable' report on failure."""
        longest = max(WINDOWS)
        first = (today - timedelta(days=longest - 1)).isoformat()
        last = today.isoformat()

        async def work(db: aiosqlite.Connection) -> StatsReport:
            counts = await db.execute_fetchall(
                "SELECT day, kind, name, count FROM daily_counts WHERE day BETWEEN ? AND ?", (first, last)
            )
            active = await db.execute_fetchall(
                "SELECT day, 'users', '', count(*) FROM daily_active WHERE day BETWEEN ? AND ? GROUP BY day",
                (first, last),
            )
            kept = await db.execute_fetchall("SELECT count(*) FROM unmatched")
            rows = [(date.fromisoformat(str(d)), str(k), str(n), int(c)) for d, k, n, c in [*counts, *active]]
            return build_report(today, rows, unmatched_kept=int(list(kept)[0][0]))

        return await self._guard("stats", work, StatsReport(today=today, available=False), MAINTENANCE_SECONDS)

    async def close(self) -> None:
        """Close the connection; safe to call twice and when the database is gone."""
        db, self._db = self._db, None
        if db is not None:
            await _close_quietly(db)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


async def _fresh(db: aiosqlite.Connection, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
    # A call cut short by its time limit can leave a transaction open on the shared connection; never
    # let the next call's writes ride on it.
    if db.in_transaction:
        await db.rollback()
    try:
        return await work(db)
    except BaseException:
        if db.in_transaction:
            try:
                await db.rollback()
            except Exception as exc:
                log.debug("storage: rollback failed (%s)", type(exc).__name__)
        raise


async def _connect(path: Path, holder: list[aiosqlite.Connection]) -> aiosqlite.Connection:
    """Open (creating the folder, 0700, and file, 0600), switch on WAL, and migrate to the latest schema."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # Created here so it is private from the first byte; SQLite gives -wal and -shm the same mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    db = await aiosqlite.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    holder.append(db)
    await db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    await migrate(db)
    return db


async def _close_quietly(db: aiosqlite.Connection) -> None:
    try:
        await asyncio.wait_for(db.close(), OPEN_SECONDS)
    except Exception as exc:
        log.debug("storage: close failed (%s)", type(exc).__name__)
