"""{placeholders}: strict parsing and filling, derived values, escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from bot.catalog.schema import OpeningHours
from bot.hours import parse_span
from bot.placeholders import REPORT_ONLINE_FALLBACK, values
from bot.templates import PlaceholderError, fill, names, scan

SERVICE = {"emergency_number": "999", "organisation": "Smith & Jones <Police>", "report_url": ""}


def test_names_and_literal_braces() -> None:
    assert names("Call {emergency_number} or {helpline_number}; {{not_one}}") == {"emergency_number",
                                                                                     "helpline_number"}
    assert fill("{{x}} {a}", {"a": "1"}) == "{x} 1"


@pytest.mark.parametrize(
    ("template", "offset", "fragment"),
    [("a { b } c", 2, "{ b } is not a placeholder"), ("{a.b}", 0, "is not a placeholder"),
     ("{0}", 0, "is not a placeholder"), ("x } y", 2, "a lone }"), ("x { y", 2, "a lone {")],
)
def test_malformed_templates_are_reported(template: str, offset: int, fragment: str) -> None:
    found, problems = scan(template)
    assert found == [] and len(problems) == 1
    assert problems[0][0] == offset and fragment in problems[0][1]


def test_fill_is_strict() -> None:
    with pytest.raises(PlaceholderError, match="unknown placeholder {nope}"):
        fill("{nope}", {})
    with pytest.raises(PlaceholderError):
        fill("{a.__class__}", {"a": "x"})


def test_values_escape_service_text_but_not_the_derived_link() -> None:
    v = values({**SERVICE, "report_url": "https://police.example/report?a=1&b=2"}, (), datetime.now(UTC))
    assert v["organisation"] == "Smith &amp; Jones &lt;Police&gt;"
    assert v["report_online"] == '<a href="https://police.example/report?a=1&amp;b=2">report online</a>'
    raw = values({**SERVICE, "report_url": "https://police.example/report?a=1&b=2"}, (), datetime.now(UTC),
                 as_html=False)
    assert raw["report_url"] == "https://police.example/report?a=1&b=2"


def test_report_online_without_a_url_points_to_the_force_website() -> None:
    assert values(SERVICE, (), datetime.now(UTC))["report_online"] == REPORT_ONLINE_FALLBACK


def test_values_include_each_line_status_with_service_placeholders() -> None:
    hours = OpeningHours("nsh", "NSH", "Europe/London", MappingProxyType({0: (parse_span("09:30-16:00"),)}),
                         frozenset(), "<b>Open</b> until {closes}, {organisation}.", "Closed; opens {opens}.")
    monday_ten = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert values(SERVICE, [hours], monday_ten)["nsh_status"] == (
        "<b>Open</b> until 16:00, Smith &amp; Jones &lt;Police&gt;.")
    assert values(SERVICE, [hours], monday_ten, as_html=False)["nsh_status"] == (
        "Open until 16:00, Smith & Jones <Police>.")
