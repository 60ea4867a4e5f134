"""Usage counts for admins: the report, its text/HTML/PNG forms, and the `stats`/`unmatched` commands."""

from __future__ import annotations

import asyncio
import html
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.config import Config

WINDOWS = (7, 30)  # days covered by the report, each ending today
HTML_TOP_INTENTS = 12  # keeps the Telegram answer well inside one 4096-character message


@dataclass(frozen=True)
class WindowStats:
    """Counts over the last ``days`` days (today included)."""

    days: int
    messages: int = 0  # typed messages (not buttons or commands)
    buttons: int = 0
    commands: int = 0
    fallbacks: int = 0
    choices: int = 0  # "Did you mean" offered
    erasures: int = 0
    active_users: int = 0  # people active each day, added up over the days (nobody is followed across days)
    intents: Mapping[str, int] = field(default_factory=dict)  # most asked first
    escalations: Mapping[str, int] = field(default_factory=dict)
    command_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def fallback_rate(self) -> float | None:
        """Share of typed messages that got the fallback, or None when there were none."""
        return self.fallbacks / self.messages if self.messages else None

    @property
    def escalation_total(self) -> int:
        """All escalation answers given."""
        return sum(self.escalations.values())


@dataclass(frozen=True)
class DayStats:
    """One day's headline counts, for the chart."""

    day: date
    messages: int = 0
    fallbacks: int = 0
    escalations: int = 0


@dataclass(frozen=True)
class StatsReport:
    """What `/stats` and `python -m bot stats` show: counts only, never what anyone wrote."""

    today: date
    windows: tuple[WindowStats, ...] = ()
    daily: tuple[DayStats, ...] = ()  # the longest window, oldest day first
    unmatched_kept: int = 0  # redacted unmatched messages currently kept (0 when the log is off)
    available: bool = True  # False when the database could not be read


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def _lines(report: StatsReport, *, markup: bool, top: int | None = None) -> list[str]:
    def bold(text: str) -> str:
        return f"<b>{html.escape(text)}</b>" if markup else text

    def esc(text: str) -> str:
        return html.escape(text) if markup else text

    if not report.available:
        return [bold("Usage statistics"), "The database could not be read, so there are no counts to show."]
    lines = [bold(f"Usage statistics to {report.today.isoformat()}")]
    for w in report.windows:
        lines += [
            "",
            bold(f"Last {w.days} days"),
            f"Messages: {w.messages}  (button presses: {w.buttons}, commands: {w.commands})",
            f"Fallback: {w.fallbacks} ({_percent(w.fallback_rate)} of messages)",
            f"'Did you mean' offered: {w.choices}",
            "Escalations: "
            + (", ".join(f"{esc(k)} {v}" for k, v in w.escalations.items()) if w.escalations else "none"),
            f"Chats erased: {w.erasures}",
            f"Active people, summed per day: {w.active_users}",
        ]
        if w.intents:
            ranked = list(w.intents.items())
            shown = ranked if top is None else ranked[:top]
            lines.append("Answers by topic:")
            lines += [f"  {v:>5}  {esc(k)}" for k, v in shown]
            if len(shown) < len(ranked):
                rest = sum(v for _, v in ranked[len(shown) :])
                lines.append(f"  {rest:>5}  ({len(ranked) - len(shown)} more topics)")
        else:
            lines.append("Answers by topic: none yet")
    if report.unmatched_kept:
        lines += ["", f"Redacted unmatched messages kept: {report.unmatched_kept}"]
    return lines


def format_report(report: StatsReport) -> str:
    """The report as plain text (command line)."""
    return "\n".join(_lines(report, markup=False))


def format_report_html(report: StatsReport) -> str:
    """The report as Telegram HTML (``<b>`` only; ids escaped; the top topics of each window)."""
    return "\n".join(_lines(report, markup=True, top=HTML_TOP_INTENTS))


def render_chart_png(report: StatsReport) -> bytes | None:
    """A small PNG of daily messages, fallbacks and escalations; None without the `charts` extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    if not report.available or not report.daily:
        return None
    days = [d.day for d in report.daily]
    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    ax.bar(days, [d.messages for d in report.daily], color="#8fb3d9", label="messages and button presses")
    ax.bar(days, [d.fallbacks for d in report.daily], color="#e0a040", label="fallback")
    ax.plot(days, [d.escalations for d in report.daily], color="#c03030", marker="o", ms=3, label="escalations")
    ax.set_title(f"Last {len(days)} days to {report.today.isoformat()}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.tick_params(labelsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


async def _report(config: Config) -> StatsReport | None:
    from bot.store import Store

    if not config.path(config.storage.path).exists():
        return None
    store = await Store.open(config)
    try:
        return await store.stats(datetime.now(config.tz).date())
    finally:
        await store.close()


def stats_command(config: Config, *, out: TextIO | None = None) -> int:
    """`python -m bot stats`: print the 7- and 30-day report; 1 when there is no readable database."""
    out = out or sys.stdout
    report = asyncio.run(_report(config))
    if report is None:
        print(f"No database at {config.path(config.storage.path)} yet: nothing has been counted.", file=out)
        return 1
    print(format_report(report), file=out)
    return 0 if report.available else 1


async def _unmatched(config: Config, limit: int) -> list[tuple[date, str]] | None:
    from bot.store import Store

    if not config.path(config.storage.path).exists():
        return None
    store = await Store.open(config)
    try:
        return await store.unmatched(limit)
    finally:
        await store.close()


def unmatched_command(config: Config, limit: int, *, out: TextIO | None = None) -> int:
    """`python -m bot unmatched`: list the newest redacted unmatched messages, one per line."""
    out = out or sys.stdout
    rows = asyncio.run(_unmatched(config, limit))
    if not config.privacy.log_unmatched:
        off = "The unmatched-message log is off (privacy.log_unmatched: false)"
        if rows:
            print(f"{off}, but these redacted messages are still kept from when it was on; the bot deletes "
                  "them at its next hourly clean-up:", file=out)
        else:
            print(f"{off}; nothing is kept.", file=out)
    if rows is None:
        print(f"No database at {config.path(config.storage.path)} yet.", file=out)
        return 1
    for day, text in rows:
        print(f"{day.isoformat()}  {text}", file=out)
    if not rows and config.privacy.log_unmatched:
        print("No unmatched messages kept.", file=out)
    return 0
