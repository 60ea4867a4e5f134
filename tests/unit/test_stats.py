"""The admin report: building it from counts, its text and HTML forms, the chart, and the CLI commands."""

from __future__ import annotations

import asyncio
import io
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cli import stats_command, unmatched_command
from bot.config import HMAC_SECRET_ENV, Config, PrivacyConfig, StorageConfig
from bot.htmltext import TELEGRAM_LIMIT, text_length, validate
from bot.stats import (
    DayStats,
    StatsReport,
    build_report,
    format_report,
    format_report_html,
    render_chart_png,
)
from bot.store import Store
from bot.turns import Outcome

TODAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HMAC_SECRET_ENV, raising=False)


def rows_for(days_ago: int, *items: tuple[str, str, int]) -> list[tuple[date, str, str, int]]:
    return [(TODAY - timedelta(days=days_ago), kind, name, n) for kind, name, n in items]


SAMPLE = [
    *rows_for(0, ("messages", "text", 4), ("intent", "how_to_report", 2), ("fallback", "", 1)),
    *rows_for(0, ("escalation", "emergency", 1), ("messages", "button", 2), ("users", "", 3)),
    *rows_for(3, ("messages", "text", 2), ("intent", "keep_evidence", 2), ("command", "start", 1)),
    *rows_for(3, ("messages", "command", 1), ("erase", "", 1), ("choices", "", 1), ("users", "", 1)),
    *rows_for(20, ("messages", "text", 4), ("fallback", "", 3), ("intent", "keep_evidence", 1)),
    *rows_for(20, ("escalation", "crisis", 2), ("users", "", 2)),
    *rows_for(45, ("messages", "text", 100), ("intent", "too_old", 100)),
]


def test_build_report_sums_each_window() -> None:
    report = build_report(TODAY, SAMPLE, unmatched_kept=5)
    week, month = report.windows
    assert (week.messages, week.buttons, week.commands) == (6, 2, 1)
    assert (week.fallbacks, week.choices, week.erasures, week.active_users) == (1, 1, 1, 4)
    assert list(week.intents.items()) == [("how_to_report", 2), ("keep_evidence", 2)]
    assert dict(week.escalations) == {"emergency": 1}
    assert week.fallback_rate == pytest.approx(1 / 6)
    assert (month.messages, month.fallbacks, month.active_users) == (10, 4, 6)
    assert list(month.intents.items()) == [("keep_evidence", 3), ("how_to_report", 2)]
    assert dict(month.escalations) == {"crisis": 2, "emergency": 1}
    assert month.escalation_total == 3
    assert "too_old" not in month.intents
    assert report.unmatched_kept == 5
    assert [d.day for d in report.daily] == [TODAY - timedelta(days=n) for n in range(29, -1, -1)]
    assert report.daily[-1] == DayStats(TODAY, messages=6, fallbacks=1, escalations=1)
    assert report.daily[-21] == DayStats(TODAY - timedelta(days=20), messages=4, fallbacks=3, escalations=2)


def test_fallback_rate_is_not_invented_without_messages() -> None:
    week = build_report(TODAY, []).windows[0]
    assert week.fallback_rate is None
    assert "Fallback: 0 (n/a of messages)" in format_report(build_report(TODAY, []))


def test_plain_report() -> None:
    text = format_report(build_report(TODAY, SAMPLE, unmatched_kept=5))
    assert text.startswith("Usage statistics to 2026-06-15\n")
    week, month = text.split("Last 30 days")
    assert "Last 7 days" in week
    assert "Messages: 6  (button presses: 2, commands: 1)" in week
    assert "Fallback: 1 (16.7% of messages)" in week
    assert "Escalations: emergency 1" in week
    assert "Escalations: crisis 2, emergency 1" in month
    assert "Fallback: 4 (40.0% of messages)" in month
    assert "      3  keep_evidence" in month
    assert "Redacted unmatched messages kept: 5" in month
    assert "<" not in text


def test_unavailable_report_says_so() -> None:
    report = StatsReport(today=TODAY, available=False)
    assert "could not be read" in format_report(report)
    assert "could not be read" in format_report_html(report)
    assert render_chart_png(report) is None


def test_html_report_is_valid_telegram_html_and_fits_one_message() -> None:
    many = [*SAMPLE, *((TODAY, "intent", f"intent_{i:03d}_<&>", 1) for i in range(300))]
    html = format_report_html(build_report(TODAY, many))
    assert validate(html) == []
    assert text_length(html) < TELEGRAM_LIMIT
    assert "<b>Last 7 days</b>" in html
    assert "&lt;&amp;&gt;" in html and "_<&>" not in html
    assert "(290 more topics)" in html


def test_chart_is_none_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert render_chart_png(build_report(TODAY, SAMPLE)) is None


def test_chart_is_a_png_with_matplotlib() -> None:
    pytest.importorskip("matplotlib")
    png = render_chart_png(build_report(TODAY, SAMPLE))
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 1_000 < len(png) < 200_000


# --- the command-line entry points -----------------------------------------------------------------------


def make_config(tmp_path: Path, log_unmatched: bool = False) -> Config:
    return Config(
        storage=StorageConfig(path=str(tmp_path / "data" / "bot.sqlite3")),
        privacy=PrivacyConfig(log_unmatched=log_unmatched),
    )


async def _fill(cfg: Config) -> None:
    store = await Store.open(cfg)
    now = datetime.now(timezone.utc)
    await store.record(Outcome(replies=(), intent="how_to_report"), user_key=store.user_key(1), when=now)
    await store.record(Outcome(replies=(), fallback=True), user_key=store.user_key(2), when=now)
    await store.log_unmatched("where can i park, my name is Zed", now - timedelta(days=1))
    await store.log_unmatched("what about my cat", now)
    await store.close()


def test_stats_command_without_a_database(tmp_path: Path) -> None:
    buf = io.StringIO()
    assert stats_command(make_config(tmp_path), out=buf) == 1
    assert "No database" in buf.getvalue()
    assert not (tmp_path / "data").exists()


def test_stats_command_prints_the_report(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    asyncio.run(_fill(cfg))
    buf = io.StringIO()
    assert stats_command(cfg, out=buf) == 0
    printed = buf.getvalue()
    assert "Last 7 days" in printed and "Last 30 days" in printed
    assert "Messages: 2" in printed and "Fallback: 1 (50.0% of messages)" in printed
    assert "      1  how_to_report" in printed


def test_stats_command_on_an_unreadable_database(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    path = cfg.path(cfg.storage.path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database at all" * 50)
    buf = io.StringIO()
    assert stats_command(cfg, out=buf) == 1
    assert "could not be read" in buf.getvalue()


def test_unmatched_command_lists_redacted_messages_newest_first(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, log_unmatched=True)
    asyncio.run(_fill(cfg))
    buf = io.StringIO()
    assert unmatched_command(cfg, 10, out=buf) == 0
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("  what about my cat")
    assert lines[1].endswith("  where can i park, my name is [name]")
    assert date.fromisoformat(lines[1][:10]) == date.fromisoformat(lines[0][:10]) - timedelta(days=1)
    buf = io.StringIO()
    assert unmatched_command(cfg, 1, out=buf) == 0
    assert len(buf.getvalue().splitlines()) == 1


def test_unmatched_command_when_the_log_is_off(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    asyncio.run(_fill(cfg))
    buf = io.StringIO()
    assert unmatched_command(cfg, 10, out=buf) == 0
    assert buf.getvalue().splitlines() == [
        "The unmatched-message log is off (privacy.log_unmatched: false); nothing is kept."
    ]


def test_unmatched_command_when_the_log_was_turned_off_says_what_is_still_kept(tmp_path: Path) -> None:
    asyncio.run(_fill(make_config(tmp_path, log_unmatched=True)))
    buf = io.StringIO()
    assert unmatched_command(make_config(tmp_path), 10, out=buf) == 0
    first, *rows = buf.getvalue().splitlines()
    assert "nothing is kept" not in first
    assert first.startswith("The unmatched-message log is off (privacy.log_unmatched: false), but these")
    assert "still kept from when it was on" in first
    assert [r[12:] for r in rows] == ["what about my cat", "where can i park, my name is [name]"]
