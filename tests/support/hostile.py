"""Hostile conditions shared by several test modules: a full disk, a YAML bomb."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from bot.config import Config
from bot.store import Store


async def disk_full(cfg: Config, mp: pytest.MonkeyPatch) -> tuple[Store, Callable[[], None]]:
    store = await Store.open(cfg)
    db = store._db
    assert db is not None
    pages = list(await db.execute_fetchall("PRAGMA page_count"))[0][0]
    await db.execute(f"PRAGMA max_page_count = {int(pages) + 8}")
    fillers = {
        "daily_counts": "INSERT INTO daily_counts (day, kind, name, count) VALUES ('2000-01-01', 'f', ?, 1)",
        "recent_messages": "INSERT INTO recent_messages (chat_id, message_id, at) VALUES (1, ?, 0)",
        "daily_active": "INSERT INTO daily_active (day, token) VALUES ('2000-01-01', ?)",
        "unmatched": "INSERT INTO unmatched (day, text) VALUES ('2000-01-01', ? || '" + "f" * 300 + "')",
    }
    for sql in fillers.values():  # every table's pages full, and no free page left
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for i in range(100_000):
                await db.execute(sql, (i,))
    return store, lambda: None


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"
