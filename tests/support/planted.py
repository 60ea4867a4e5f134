"""Catalogs with planted mistakes: write them, and check that every problem reported was planted."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from bot.catalog.problems import Problem

GOOD = {
    "main.yaml": """\
        intents:
          - id: greeting
            title: Hello
            examples: [hello, hi there, good morning, hey, hiya]
            answer: |
              <b>Hello</b>
              In an emergency call {emergency_number}. You can {report_online}.
            buttons:
              - how_to_report
              - {text: Evidence tips, intent: keep_evidence}
              - {text: Report online, url: "{report_url}"}
            tests: [hello]
          - id: how_to_report
            examples:
              - how do i report stalking
              - can i tell the police
              - report to police
              - where do i report it
              - reporting stalking
            negative_examples: [how do i report a pothole]
            keywords: [report, police]
            answer: Call {non_emergency_number}.
            buttons: [keep_evidence]
          - id: keep_evidence
            title: Evidence
            examples: [keep evidence, keep a diary, screenshots, save his messages, what evidence do i need]
            answer: Keep a diary.
        out_of_scope: [how do i report a lost dog]
        settings: {threshold: 60, margin: 5, suggest: 40, max_suggestions: 2, unknown_words: 1.5}
    """,
    "safety.yaml": """\
        escalations:
          - id: emergency
            phrases: [he is outside, help he is here]
            patterns: ['\\bat my door\\b']
            past_markers: [last year]
            answer: Call {emergency_number} now. From a mobile, if you can't speak, press 55.
            buttons: [how_to_report]
            tests: [he is outside]
            not_tests: [what is the weather]
          - id: crisis
            phrases: [end it all]
            answer: Call Samaritans on 116 123.
    """,
    "hours.yaml": """\
        opening_hours:
          - id: national_stalking_helpline
            name: National Stalking Helpline
            weekly: {monday: "09:30-16:00", wednesday: ["13:00-16:00", "09:30-11:00"]}
            closed_dates: [2026-12-25, "2026-12-28"]
            open_text: The helpline ({helpline_number}) is open now, until {closes}.
            closed_text: The helpline is closed. It opens {opens}.
    """,
    "responses.yaml": """\
        responses:
          fallback:
            answer: |
              Sorry, I did not understand. In an emergency call {emergency_number}.
              Helpline {helpline_number}. {national_stalking_helpline_status}
            buttons: [how_to_report]
          did_you_mean: {answer: "Did you mean: (emergency: {emergency_number}; helpline {helpline_number})"}
          none_of_these: {answer: "Call {emergency_number} in an emergency or {helpline_number}."}
          erased: Chat erased.
    """,
}

_MARK = re.compile(r"\s+#! (.*)$")  # a planted mistake: "#! <what check must say>" at the end of its line


def write(folder: Path, files: dict[str, str]) -> dict[str, list[tuple[int, str, str]]]:
    """Write the files; return the planted (line, severity, fragment) per file path."""
    planted: dict[str, list[tuple[int, str, str]]] = {}
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = textwrap.dedent(text)
        path.write_text(body)
        for number, line in enumerate(body.splitlines(), 1):
            m = _MARK.search(line)
            if m:
                for mark in m.group(1).split(" | "):
                    severity, fragment = mark.split(" ", 1)
                    planted.setdefault(str(path), []).append((number, severity, fragment))
    return planted


def unexplained(planted: dict[str, list[tuple[int, str, str]]], problems: list[Problem]) -> tuple[list, list]:
    """(planted problems not reported, reported problems not planted); folder-wide ones are left out."""
    missing = []
    remaining = [p for p in problems if p.source.line]
    for file, marks in planted.items():
        for line, severity, fragment in marks:
            want = "error" if severity == "E" else "warning"
            hit = next((p for p in remaining if p.source.file == file and p.source.line == line
                        and p.severity == want and fragment in p.message), None)
            if hit is None:
                missing.append(f"{file}:{line}: {want}: {fragment}")
            else:
                remaining.remove(hit)
    return missing, [str(p) for p in remaining]
