"""Helpline opening hours: open until, next opening, closed dates and clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from bot.catalog.schema import OpeningHours
from bot.hours import closes_at, describe_opening, hours_text, next_opening, parse_span, status_text


def helpline(closed: frozenset[str] = frozenset(), tz: str = "Europe/London") -> OpeningHours:
    weekly = {
        0: (parse_span("09:30-16:00"),),  # Monday
        2: (parse_span("13:00-16:00"), parse_span("09:30-11:00")),  # Wednesday, listed out of order
        4: (parse_span("09:30-16:00"),),  # Friday
    }
    return OpeningHours(
        "nsh", "National Stalking Helpline", tz, MappingProxyType(weekly), closed,
        "Open now, until {closes}.", "Closed right now. It opens {opens}.",
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-07 10:00", "Open now, until 16:00."),  # Monday, GMT
        ("2026-12-07 09:29", "Closed right now. It opens today at 09:30."),
        ("2026-12-07 16:00", "Closed right now. It opens on Wednesday at 09:30."),  # closing minute is closed
        ("2026-12-09 11:30", "Closed right now. It opens today at 13:00."),  # between two spans
        ("2026-12-09 13:00", "Open now, until 16:00."),
        ("2026-12-10 08:00", "Closed right now. It opens tomorrow at 09:30."),  # Thursday -> Friday
        ("2026-12-11 17:00", "Closed right now. It opens on Monday at 09:30."),  # Friday evening
    ],
)
def test_status_text(now: str, expected: str) -> None:
    assert status_text(helpline(), utc(now)) == expected


def test_closed_dates_are_skipped() -> None:
    hours = helpline(frozenset({"2026-12-25", "2026-12-28"}))  # Christmas Friday, bank holiday Monday
    assert status_text(hours, utc("2026-12-25 10:00")) == "Closed right now. It opens on Wednesday at 09:30."
    assert closes_at(hours, utc("2026-12-28 10:00")) is None


def test_far_openings_name_the_date() -> None:
    closed = frozenset(f"2027-01-{d:02d}" for d in range(1, 15))
    opening = next_opening(helpline(closed), utc("2026-12-31 17:00"))
    assert opening is not None
    assert describe_opening(opening, utc("2026-12-31 17:00")) == "on Friday 15 January at 09:30"


def test_summer_time_uses_local_wall_clock() -> None:
    # 29 March 2026: clocks go forward. Monday 30 March 08:45 UTC is 09:45 BST: open.
    assert status_text(helpline(), utc("2026-03-30 08:45")) == "Open now, until 16:00."
    # 08:15 UTC is 09:15 BST: not yet open, even though 08:15 in GMT terms would be too
    assert status_text(helpline(), utc("2026-03-30 08:15")) == "Closed right now. It opens today at 09:30."
    # In winter the same UTC time 09:45 is 09:45 GMT: open
    assert status_text(helpline(), utc("2026-11-30 09:45")) == "Open now, until 16:00."


def test_next_opening_across_the_clock_change_is_an_aware_local_time() -> None:
    opening = next_opening(helpline(), utc("2026-03-27 17:00"))  # Friday before the change
    assert opening is not None and opening.isoformat() == "2026-03-30T09:30:00+01:00"


def test_a_line_in_another_time_zone() -> None:
    hours = helpline(tz="America/New_York")
    assert status_text(hours, utc("2026-12-07 15:00")) == "Open now, until 16:00."  # 10:00 in New York
    other = datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=1)))  # 06:00 in New York
    assert status_text(hours, other) == "Closed right now. It opens today at 09:30."


def test_naive_times_are_taken_as_utc() -> None:
    assert status_text(helpline(), datetime(2026, 12, 7, 10, 0)) == "Open now, until 16:00."


def test_a_line_that_never_opens_says_so() -> None:
    every_day = frozenset((datetime(2026, 12, 1) + timedelta(days=n)).date().isoformat() for n in range(500))
    assert status_text(helpline(every_day), utc("2026-12-07 10:00")).endswith("on a date not yet announced.")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("9:30-16:00", "not a time span"), ("16:00-09:30", "closes before it opens"),
     ("09:30", "not a time span"), ("24:00-25:00", "not a time span"),
     ("10:00-10:00", "closes before it opens")],
)
def test_parse_span_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_span(text)


def test_hours_text_is_written_from_the_data() -> None:
    assert hours_text(helpline()) == "Monday and Friday 09:30 to 16:00; Wednesday 09:30 to 11:00 and 13:00 to 16:00"
    weekdays = MappingProxyType({d: (parse_span("09:30-16:00"),) for d in (0, 1, 3, 4)} |
                                {2: (parse_span("13:00-16:00"),)})
    nsh = OpeningHours("nsh", "NSH", "Europe/London", weekdays, frozenset({"2026-12-25"}), "", "")
    assert hours_text(nsh) == ("Monday, Tuesday, Thursday and Friday 09:30 to 16:00; Wednesday 13:00 to 16:00; "
                               "closed on bank holidays")
    every_day = MappingProxyType({d: (parse_span("00:00-23:59"),) for d in range(7)})
    assert hours_text(OpeningHours("x", "X", "UTC", every_day, frozenset(), "", "")).startswith("Monday to Sunday")
