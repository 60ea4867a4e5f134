"""Catalog loading: a deliberately broken catalog reports every planted problem at its file and line.

Planted problems are marked in the YAML itself with a trailing comment ``#! E fragment`` (an error
whose message contains the fragment) or ``#! W fragment`` (a warning), several joined with `` | ``.
The test requires exactly the marked problems: each at its line, nothing extra.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog.load import load_catalog, require_catalog
from bot.catalog.problems import CatalogError
from bot.catalog.schema import Button, Source
from tests.support.planted import GOOD, unexplained, write

BROKEN = {
    "a.yaml": """\
        intents:
          - id: greeting
            examples: [hello, hi there, good morning, hey, hiya]
            answer: Hello!
            buttons:
              - reporting
              - evidnce  #! E unknown intent 'evidnce' (did you mean 'evidence'?)
              - {text: Website, url: "http://example.org"}  #! E must start with https://
              - {text: Nothing, url: "{report_url}"}
              - {text: Typo, url: "{report_ur}"}  #! E {report_ur} (did you mean 'report_url'?)
              - {text: Both, intent: evidence, url: "https://x.org"}  #! E either intent: or url:
              - {txt: Label, intent: evidence}  #! E key 'txt' in a button (did you mean 'text'?)
          - id: reporting
            exampels: [x]  #! E key 'exampels' in an intent (did you mean 'examples'?)
            examples:
              - how do i report stalking  #! E also an example of 'tracker' | W only 3 examples
              - report it to police
              - can i report online
              - yes  #! E 'yes' reads as true/false, not text: quote it
              - 101  #! E '101' reads as a number, not text: quote it
            answer: "Call {helpline_numbr}."  #! E {helpline_numbr} (did you mean 'helpline_number'?)
            answer: "Second answer"  #! E duplicate key 'answer' (first at line 21)
          - id: Evidence Stuff  #! E must be lower_snake_case | W no button leads to 'Evidence Stuff'
            examples: [keep a diary, screenshots, save messages, voicemail, cctv]
            answer: "Fish & chips"  #! E escape & as &amp;
          - id: evidence
            examples: [how do i keep evidence, what evidence, keep records, evidence, proof]
            answer: "<b>Evidence</b> <p>x</p>"  #! E does not accept <p> | E does not accept </p>
          - id: no_answer  #! E missing answer | W no button leads to 'no_answer'
            examples: [a b c, d e f, g h i, j k l, m n o]
          - id: few  #! W no button leads to 'few'
            title: yes  #! E title must be text, but 'yes' reads as true/false
            examples: [only one]  #! W only 1 examples
            answer: "{ organisation }"  #! E { organisation } is not a placeholder
          - examples: [no id here]  #! E missing intent id
            answer: x
          - just a string  #! E must be a mapping
    """,
    "b.yaml": """\
        intents:
          - id: reporting  #! E intent id 'reporting' is already used at
            examples: [one, two, three, four, five]
            answer: x
          - id: tracker  #! W no button leads to 'tracker'
            title: A very long title that certainly goes over forty characters  #! W buttons cut off titles
            examples:
              - How do I report STALKING?  #! E also an example of 'reporting'
              - airtag on my car
              - tracker on my car
              - hidden tracker
              - gps tracker  #! E is both an example and a negative example
              - Airtag on my car!  #! W normalises to the same text as 'airtag on my car'
            negative_examples: [gps tracker]
            answer: "<b>unclosed <i>x</i>"  #! E <b> is never closed
        intent:  #! E top of a file (did you mean 'intents'?)
          - id: x
    """,
    "c.yaml": """\
        intents:
          - id: broken
            examples: [a, b
            answer: x  #! E YAML syntax error
    """,
    "sub/d.yml": """\
        escalations:
          - id: emergency
            phrases: [he is outside]
            patterns: ['(unclosed', 'fine']  #! E invalid pattern for RE2
            answer: Call {emergency_number}.
          - id: emergency  #! E escalation id 'emergency' is already used at
            patterns: ['x']
            answer: y
          - id: crisis  #! E no phrases, threats, patterns or examples
            answer: Samaritans.
            reported_frames_learned: sometimes  #! E reported_frames_learned must be true or false
            learned_reads_whole: 2  #! E learned_reads_whole must be true or false
        opening_hours:
          - id: line
            timezone: Mars/Olympus  #! E unknown time zone 'Mars/Olympus'
            weekly: {monday: ["09:00-17:00"]}
            open_text: open
            closed_text: closed
          - id: other
            weekly:
              mondy: ["09:00-17:00"]  #! E (did you mean 'monday'?)
              tuesday: ["17:00-09:00"]  #! E closes before it opens
            closed_dates: [not a date]  #! E closed_dates: 'not a date' is not a date
            open_text: open, {helpline_numbr}  #! E open_text: unknown placeholder {helpline_numbr}
            closed_text: closed
        responses:
          fallbak: {answer: x}  #! E unknown response 'fallbak' (did you mean 'fallback'?)
          did_you_mean: {answer: "999 0808 802 0300", extra: 1}  #! E unknown key 'extra' in responses.did_you_mean
          none_of_these: "Call {emergency_number} or the helpline."  #! E must give {helpline_number}
        settings:
          threshold: high  #! E threshold must be a number from 0 to 100
          max_suggestions: 20  #! E max_suggestions must be a whole number from 1 to 8
          unknown_words: -1  #! E unknown_words must be a number from 0 (off) to 10
        out_of_scope: [fine, [nested]]  #! E out_of_scope: expected a phrase, found a list
    """,  # noqa: E501  (a planted problem and its expected message must share a line)
    ".hidden/ignored.yaml": "intents: [[[",
    "notes.txt": "not yaml at all: [",
}



def test_broken_catalog_reports_every_planted_problem_at_its_line(tmp_path: Path) -> None:
    planted = write(tmp_path, BROKEN)
    catalog, problems = load_catalog(tmp_path, for_serving=True)
    assert catalog is None
    missing, extra = unexplained(planted, problems)
    assert missing == [] and extra == []
    # the misspelt "fallbak" leaves the catalog without a fallback
    assert [str(p) for p in problems if not p.source.line] == [
        f"{tmp_path}: error: no responses.fallback: add it"]


def test_problem_text_is_file_line_col_severity_message(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": "intents:\n  - id: a\n    examples: [yes]\n    answer: b\n"})
    _, problems = load_catalog(tmp_path)
    error = next(p for p in problems if p.is_error)
    assert str(error).startswith(f"{tmp_path / 'x.yaml'}:3:16: error: examples: 'yes' reads as true/false")
    assert "quote it" in str(error)


def test_problems_inside_a_literal_block_point_at_their_own_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: [one, two, three, four, five]
            answer: |
              <b>Title</b>

              Fish & chips {nope}
    """})
    _, problems = load_catalog(tmp_path)
    found = sorted((p.source.line, p.source.col, p.message.split(":")[1].strip()[:11]) for p in problems
                   if p.is_error)
    assert found == [(7, 12, "escape & as"), (7, 20, "unknown pla")]


def test_clean_catalog_builds_frozen_objects_with_sources(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    catalog, problems = load_catalog(tmp_path, for_serving=True)
    assert [str(p) for p in problems] == []
    assert catalog is not None
    greeting = catalog.by_id["greeting"]
    assert greeting.source == Source(str(tmp_path / "main.yaml"), 2, 5)
    assert greeting.buttons == (
        Button("How to report", intent="how_to_report"),  # a bare id takes the target's (derived) title
        Button("Evidence tips", intent="keep_evidence"),
        Button("Report online", url="{report_url}"),
    )
    assert greeting.tests == ("hello",)
    report = catalog.by_id["how_to_report"]
    assert report.title == "How to report" and report.keywords == ("report", "police")
    assert report.negative_examples == ("how do i report a pothole",)
    assert [e.id for e in catalog.escalations] == ["emergency", "crisis"]
    emergency = catalog.escalation("emergency")
    assert emergency is not None and emergency.patterns == ("\\bat my door\\b",)
    assert emergency.not_tests == ("what is the weather",) and emergency.past_markers == ("last year",)
    (hours,) = catalog.hours
    assert hours.timezone == "Europe/London" and hours.closed_dates == {"2026-12-25", "2026-12-28"}
    spans = {day: [(t.isoformat(timespec="minutes"), u.isoformat(timespec="minutes")) for t, u in times]
             for day, times in hours.weekly.items()}
    assert spans == {0: [("09:30", "16:00")], 2: [("09:30", "11:00"), ("13:00", "16:00")]}
    assert set(catalog.responses) == {"fallback", "did_you_mean", "none_of_these", "erased"}
    assert catalog.responses["erased"].answer == "Chat erased."
    assert catalog.out_of_scope == ("how do i report a lost dog",)
    assert (catalog.settings.threshold, catalog.settings.max_suggestions) == (60, 2)
    assert catalog.settings.unknown_words == 1.5


def test_serving_needs_escalations_and_responses(tmp_path: Path) -> None:
    write(tmp_path, {"main.yaml": GOOD["main.yaml"]})
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None  # fine for check and classify ...
    assert {p.severity for p in problems} == {"warning"}
    assert sum("refuse to serve" in p.message for p in problems) == 5
    catalog, problems = load_catalog(tmp_path, for_serving=True)  # ... but not to serve
    assert catalog is None
    messages = [p.message for p in problems if p.is_error]
    assert any("no 'emergency' escalation" in m for m in messages)
    assert any("no 'crisis' escalation" in m for m in messages)
    assert any("no responses.fallback" in m for m in messages)
    assert all(p.source.file == str(tmp_path) and str(p).startswith(f"{tmp_path}: error:")
               for p in problems if p.is_error)


def test_fallback_must_carry_999_and_the_helpline_to_serve(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["responses.yaml"] = """\
        responses:
          fallback: {answer: "Sorry, I did not understand."}
          did_you_mean: {answer: "Did you mean: (emergency: {emergency_number}; helpline {helpline_number})"}
          none_of_these: {answer: "Try the helpline on 0808 802 0300 or call 999."}
    """
    write(tmp_path, files)
    catalog, problems = load_catalog(tmp_path, for_serving=True)
    assert catalog is None
    errors = [(p.source.line, p.message) for p in problems if p.is_error]
    assert errors == [(2, "responses.fallback must give {emergency_number} (999)"),
                      (2, "responses.fallback must give {helpline_number} (helpline)")]


def test_rendered_length_counts_filled_placeholders(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: [one, two, three, four, five]
            answer: "<b>About</b> {organisation}"
    """})
    catalog, problems = load_catalog(tmp_path, service={"organisation": "x" * 4095})
    assert catalog is None
    errors = [p for p in problems if p.is_error]
    assert [(p.source.line, "4101 characters once placeholders are filled" in p.message) for p in errors] == [
        (4, True)]
    catalog, problems = load_catalog(tmp_path, service={"organisation": "Police"})
    assert catalog is not None


def test_admin_service_keys_become_placeholders(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: [one, two, three, four, five]
            answer: "Call the ISVA on {isva_number}."
    """})
    assert load_catalog(tmp_path)[0] is None
    catalog, problems = load_catalog(tmp_path, service={"isva_number": "01234 567890"})
    assert catalog is not None and not any(p.is_error for p in problems)


def test_placeholder_link_is_checked_once_filled(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: [one, two, three, four, five]
            answer: '<a href="{report_url}">report</a>'
    """})
    catalog, problems = load_catalog(tmp_path, service={"report_url": "http://insecure.example"})
    assert catalog is None
    errors = [p for p in problems if p.is_error]
    assert [p.source.line for p in errors] == [4] and "must start with https://" in errors[0].message
    assert load_catalog(tmp_path, service={"report_url": "https://police.example"})[0] is not None


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    catalog, problems = load_catalog(tmp_path / "nope", for_serving=True)
    assert catalog is None and [p.message for p in problems] == ["no such folder of intent files"]
    catalog, problems = load_catalog(tmp_path, for_serving=True)
    assert catalog is None and [p.message for p in problems] == ["no intent files (*.yaml) in this folder"]


def test_empty_file_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {**GOOD, "empty.yaml": "# nothing yet\n", "empty2.yaml": "---\n"})
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None
    empty = [str(p.source) for p in problems if p.message == "empty file"]
    assert empty == [f"{tmp_path / 'empty.yaml'}:1:1", f"{tmp_path / 'empty2.yaml'}:1:1"]


def test_each_bad_example_is_reported_once(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: hello
            answer: x
          - id: b
            examples:
              -
              - no
            answer: x
          - id: c
            examples: []
            answer: x
    """})
    _, problems = load_catalog(tmp_path)
    found = [(p.source.line, p.severity, p.message.split(":")[0]) for p in problems if p.source.line]
    assert found == [(3, "error", "examples"), (7, "error", "examples"), (8, "error", "examples"),
                     (11, "error", "examples is empty")]


def test_a_key_indented_too_little_is_explained(tmp_path: Path) -> None:
    write(tmp_path, {"x.yaml": """\
        intents:
          - id: a
            examples: [one, two, three, four, five]
        answer: x
    """})
    _, problems = load_catalog(tmp_path)
    errors = [(p.source.line, p.message) for p in problems if p.is_error]
    assert errors == [
        (2, "missing answer: add a line 'answer: ...'"),
        (4, "'answer' is at the top of the file, but it belongs to an intent or escalation: "
            "indent it to line up with the 'id:' above"),
    ]


def test_settings_in_two_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {**GOOD, "z.yaml": "settings: {threshold: 50}\n"})
    catalog, problems = load_catalog(tmp_path)
    assert catalog is None
    assert [(p.source.file, p.source.line) for p in problems if p.is_error] == [(str(tmp_path / "z.yaml"), 1)]


def test_require_catalog_raises_with_every_problem(tmp_path: Path) -> None:
    write(tmp_path, BROKEN)
    with pytest.raises(CatalogError) as info:
        require_catalog(tmp_path)
    assert len([p for p in info.value.problems if p.is_error]) > 20
