"""Usage counts for admins: what one outcome adds to the counts, the report built from them, and its
text, HTML and PNG forms."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.turns import Outcome

WINDOWS = (7, 30)  # days covered by the report, each ending today
HTML_TOP_INTENTS = 12  # keeps the Telegram answer well inside one 4096-character message
_LABEL = re.compile(r"[a-z0-9_:.\-]{1,64}")


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


def _label(value: str) -> str:
    """An id safe to count under: our own ids pass; anything else (forged button data...) is 'other'."""
    value = value.strip().lower()
    return value if _LABEL.fullmatch(value) else "other"


def outcome_counts(outcome: Outcome) -> Counter[tuple[str, str]]:
    """The (kind, name) counters one outcome adds to; names are ids, never anything the person wrote."""
    counts: Counter[tuple[str, str]] = Counter()
    kind = "button" if outcome.button else "command" if outcome.command else "text"
    counts["messages", kind] += 1
    for escalation in outcome.escalations:
        counts["escalation", _label(escalation)] += 1
    if outcome.intent:
        counts["intent", _label(outcome.intent)] += 1
    if outcome.fallback:
        counts["fallback", ""] += 1
    if outcome.choices:
        counts["choices", ""] += 1
    if outcome.button:
        counts["button", _label(outcome.button)] += 1
    if outcome.command:
        counts["command", _command_label(outcome.command)] += 1
    if outcome.erase:
        counts["erase", ""] += 1
    return counts


def _command_label(command: str) -> str:
    name = command.strip().lower().removeprefix("/").split("@", 1)[0]
    return name if re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name) else "other"


def build_report(today: date, rows: Sequence[tuple[date, str, str, int]], unmatched_kept: int = 0) -> StatsReport:
    """Turn (day, kind, name, count) rows into the 7- and 30-day report."""
    windows = []
    for days in WINDOWS:
        start = today - timedelta(days=days - 1)
        sums: dict[str, Counter[str]] = {}
        for day, kind, name, count in rows:
            if start <= day <= today:
                sums.setdefault(kind, Counter())[name] += count
        messages = sums.get("messages", Counter())

        def total(kind: str, sums: dict[str, Counter[str]] = sums) -> int:
            return sum(sums.get(kind, Counter()).values())

        windows.append(
            WindowStats(
                days=days,
                messages=messages["text"],
                buttons=messages["button"],
                commands=messages["command"],
                fallbacks=total("fallback"),
                choices=total("choices"),
                erasures=total("erase"),
                active_users=total("users"),
                intents=dict(_ranked(sums.get("intent"))),
                escalations=dict(_ranked(sums.get("escalation"))),
                command_counts=dict(_ranked(sums.get("command"))),
            )
        )
    longest = max(WINDOWS)
    daily = []
    for offset in range(longest - 1, -1, -1):
        day = today - timedelta(days=offset)
        here = [(k, c) for d, k, _, c in rows if d == day]
        daily.append(
            DayStats(
                day=day,
                messages=sum(c for k, c in here if k == "messages"),
                fallbacks=sum(c for k, c in here if k == "fallback"),
                escalations=sum(c for k, c in here if k == "escalation"),
            )
        )
    return StatsReport(today=today, windows=tuple(windows), daily=tuple(daily), unmatched_kept=unmatched_kept)


def _ranked(counter: Counter[str] | None) -> list[tuple[str, int]]:
    if not counter:
        return []
    return sorted(((k, v) for k, v in counter.items() if v), key=lambda kv: (-kv[1], kv[0]))
