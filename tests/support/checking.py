"""A clean catalog to plant mistakes in, and `check` run on a folder."""

from __future__ import annotations

import io
import textwrap
from datetime import date
from pathlib import Path

from bot.check import run_check

# Intent tests here repeat examples word for word, so they classify through the matcher's exact
# layer and these tests do not depend on how the fuzzy layer is tuned.
CLEAN = {
    "main.yaml": """\
        intents:
          - id: greeting
            examples: [hello, hi there, good morning, hey, hiya]
            answer: Hello. In an emergency call {emergency_number}.
            buttons: [how_to_report, keep_evidence]
            tests: [hello, good morning]
          - id: how_to_report
            examples:
              - how do i report stalking
              - can i tell the police about him
              - where do i report it
              - reporting stalking to the police
              - report him to the police
            answer: Call {non_emergency_number}.
            tests: [where do i report it]
          - id: keep_evidence
            examples: [keep a diary, what evidence do i need, save his messages, screenshots, voicemails]
            answer: Keep a diary.
            tests: [keep a diary]
    """,
    "safety.yaml": """\
        escalations:
          - id: emergency
            phrases: [he is outside, help he is here]
            answer: Call {emergency_number} now. From a mobile, if you can't speak, press 55.
            tests: [he is outside]
            not_tests: [the weather is nice]
          - id: crisis
            phrases: [end it all]
            answer: Call Samaritans on 116 123, free, any time.
            tests: [i want to end it all]
            not_tests: [i want to end the call]
    """,
    "responses.yaml": """\
        responses:
          fallback: {answer: "Sorry. Emergency: {emergency_number}. Helpline: {helpline_number}."}
          did_you_mean: {answer: "Did you mean: (emergency: {emergency_number}; helpline {helpline_number})"}
          none_of_these: {answer: "Emergency: {emergency_number}. Helpline: {helpline_number}."}
    """,
    "hours.yaml": """\
        opening_hours:
          - id: helpline
            weekly: {monday: ["09:30-16:00"]}
            closed_dates: ["2026-12-25", "2027-08-30"]
            open_text: Open until {closes}.
            closed_text: Opens {opens}.
    """,
}

TODAY = date(2026, 11, 28)  # a fixed day, so dated checks (hours, holidays) read the same


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))


def run(folder: Path, *, strict: bool = False, serving: bool = False) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_check(str(folder), out=out, today=TODAY, strict=strict, serving=serving)
    # the note on the matcher's settings is tested in test_calibration.py
    return code, [ln for ln in out.getvalue().splitlines() if not ln.startswith("matcher settings")]
