"""Helpline opening hours -> "open now until 16:00" / "closed, opens tomorrow at 09:30".

Times are wall-clock times in the line's own time zone, so the text stays right across the clock
changes: every comparison happens in local time via zoneinfo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.catalog.schema import OpeningHours
from bot.templates import fill

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPAN = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")
_LOOKAHEAD_DAYS = 400  # long enough to step over any run of closed dates an admin might list


def parse_span(text: str) -> tuple[time, time]:
    """ "09:30-16:00" -> (09:30, 16:00); ValueError with an admin-readable reason otherwise."""
    m = _SPAN.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a time span like 09:30-16:00 (24-hour clock)")
    start = time(int(m.group(1)), int(m.group(2)))
    end = time(int(m.group(3)), int(m.group(4)))
    if end <= start:
        raise ValueError(f"{text!r} closes before it opens; spans cannot cross midnight")
    return start, end


def _aware(now: datetime) -> datetime:
    # A naive time is taken as UTC, never as the host's local zone.
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _local(hours: OpeningHours, now: datetime) -> datetime:
    return _aware(now).astimezone(ZoneInfo(hours.timezone))


def _spans(hours: OpeningHours, day: date) -> tuple[tuple[time, time], ...]:
    if day.isoformat() in hours.closed_dates:
        return ()
    return tuple(sorted(hours.weekly.get(day.weekday(), ())))


def closes_at(hours: OpeningHours, now: datetime) -> time | None:
    """The closing time of the span open at ``now`` (local), or None when closed."""
    local = _local(hours, now)
    t = local.time().replace(tzinfo=None)
    return next((end for start, end in _spans(hours, local.date()) if start <= t < end), None)


def next_opening(hours: OpeningHours, now: datetime) -> datetime | None:
    """When the line next opens after ``now``, as a local aware datetime, or None if never listed."""
    local = _local(hours, now)
    t = local.time().replace(tzinfo=None)
    for offset in range(_LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        for start, _ in _spans(hours, day):
            if offset or start > t:
                return datetime.combine(day, start, tzinfo=local.tzinfo)
    return None


def describe_opening(opening: datetime, now: datetime) -> str:
    """ "today at 13:00", "tomorrow at 09:30", "on Monday at 09:30" or "on Monday 4 January at 09:30"."""
    local_now = _aware(now).astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    at = opening.strftime("%H:%M")
    weekday = DAYS[opening.weekday()].capitalize()
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"tomorrow at {at}"
    if days < 7:
        return f"on {weekday} at {at}"
    return f"on {weekday} {opening.day} {opening.strftime('%B')} at {at}"


def status_text(hours: OpeningHours, now: datetime, values: Mapping[str, str] | None = None,
                nation: str | None = None) -> str:
    """The line's open_text or closed_text for ``now``: {closes} or {opens} filled in, and any of
    ``values`` (the service placeholders, e.g. {emergency_number}) the text uses; closed, the
    ``nation``'s own closed text (its 24/7 lines) when there is one."""
    closes = closes_at(hours, now)
    if closes is not None:
        return fill(hours.open_text, {**(values or {}), "closes": closes.strftime("%H:%M")})
    opening = next_opening(hours, now)
    opens = describe_opening(opening, now) if opening else "on a date not yet announced"
    closed = hours.closed_variants.get(nation, hours.closed_text) if nation else hours.closed_text
    return fill(closed, {**(values or {}), "opens": opens})


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _days(days: list[int]) -> str:
    """'Monday to Friday' for a run of three or more days, else 'Monday, Tuesday and Thursday'."""
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{_DAY_NAMES[days[0]]} to {_DAY_NAMES[days[-1]]}"
    names = [_DAY_NAMES[d] for d in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def hours_text(hours: OpeningHours) -> str:
    """The weekly hours in words, for the {<id>_hours} placeholder, written from the same data as the status."""
    groups: dict[tuple[tuple[time, time], ...], list[int]] = {}
    for day in range(7):
        spans = hours.weekly.get(day, ())
        if spans:
            groups.setdefault(tuple(sorted(spans)), []).append(day)
    parts = [
        _days(days) + " " + " and ".join(f"{a:%H:%M} to {b:%H:%M}" for a, b in spans)
        for spans, days in groups.items()
    ]
    text = "; ".join(parts) or "no regular hours"
    return text + ("; closed on bank holidays" if hours.closed_dates else "")
