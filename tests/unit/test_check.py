"""`check`: matcher-based checks on top of loading, the report format and the exit code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.catalog.load import check, load_catalog
from bot.catalog.problems import MAX_PROBLEMS_PER_FILE
from tests.support.checking import CLEAN, TODAY, run, write

ROOT = Path(__file__).resolve().parents[2]


SUMMARY = re.compile(
    r"^(\d+) errors?, (\d+) warnings? in (\d+) files? \((\d+) intents, (\d+) examples\) in \d+ ms"
)


def test_clean_catalog_passes_with_exit_0(tmp_path: Path) -> None:
    write(tmp_path, CLEAN)
    code, lines = run(tmp_path, serving=True, strict=True)
    assert lines[:-1] == [] and code == 0
    m = SUMMARY.match(lines[-1])
    assert m and m.groups() == ("0", "0", "4", "3", "15")


def test_broken_catalog_reports_matcher_safety_confusable_and_hours_problems(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["main.yaml"] = CLEAN["main.yaml"].replace(
        "tests: [where do i report it]", "tests: [where do i report it, keep a diary]"  # evidence's example
    ).replace(
        "screenshots, voicemails]", "screenshots, reporting stalking to the police now]"  # confusable
    )
    files["safety.yaml"] = CLEAN["safety.yaml"].replace(
        "tests: [he is outside]", "tests: [he is outside, the sky is blue]"  # never fires
    ).replace(
        "not_tests: [i want to end the call]", "not_tests: [i want to end the call, i will end it all]"
    )
    files["hours.yaml"] = CLEAN["hours.yaml"].replace(', "2027-08-30"', "")  # runs out on 25 December
    write(tmp_path, files)
    code, lines = run(tmp_path)
    assert code == 1
    main, safety, hours = (str(tmp_path / n) for n in ("main.yaml", "safety.yaml", "hours.yaml"))
    problems = [line for line in lines[:-1] if not line.startswith(" ")]
    assert problems == [
        f"{hours}:4:5: warning: helpline: closed_dates run out on 2026-12-25: add next year's bank holidays",
        f"{main}:12:9: warning: confusable: 'reporting stalking to the police' is 94% like "
        f"'reporting stalking to the police now' of 'keep_evidence' ({main}:17:87): reword one or keep one",
        f"{main}:15:35: error: test 'keep a diary' gets 'keep_evidence', not 'how_to_report': "
        "add examples like it",
        f"{main}:17:87: warning: confusable: 'reporting stalking to the police now' is 94% like "
        f"'reporting stalking to the police' of 'how_to_report' ({main}:12:9): reword one or keep one",
        f"{safety}:5:28: error: test 'the sky is blue' does not fire 'emergency': add a phrase or pattern "
        "that covers it",
        f"{safety}:11:41: error: not_test 'i will end it all' fires 'crisis' (rule 'end it all'): "
        "narrow that rule",
    ]
    explanation = lines[lines.index(problems[2]) + 1:lines.index(problems[3])]
    assert explanation and all(line.startswith("      ") for line in explanation)
    assert any("layer: exact" in line for line in explanation)
    summary = SUMMARY.match(lines[-1])
    assert summary and summary.groups()[:2] == ("3", "3")


def test_a_phrase_listed_twice_in_one_escalation_list_is_a_warning(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["safety.yaml"] = CLEAN["safety.yaml"].replace("phrases: [end it all]", "phrases: [end it all, End it all!]")
    write(tmp_path, files)
    code, lines = run(tmp_path)
    assert code == 0
    assert any("warning: phrases: 'End it all!' is listed twice (also at line" in line for line in lines)


def test_confusable_is_only_across_intents(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["main.yaml"] = CLEAN["main.yaml"].replace(
        "- report him to the police", "- reporting stalking to the police now"
    )
    write(tmp_path, files)
    _, problems = check(str(tmp_path), today=TODAY)
    assert [p for p in problems if "confusable" in p.message] == []  # both lines are how_to_report's


def test_strict_fails_on_warnings_and_prints_them(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["hours.yaml"] = CLEAN["hours.yaml"].replace('["2026-12-25", "2027-08-30"]', "[]")
    write(tmp_path, files)
    assert run(tmp_path)[0] == 0
    code, lines = run(tmp_path, strict=True)
    assert code == 1
    assert "warning: helpline: no closed_dates" in lines[0]
    assert lines[-1].endswith("(--strict: warnings count as errors)")


def test_serving_requires_the_escalations(tmp_path: Path) -> None:
    write(tmp_path, {k: v for k, v in CLEAN.items() if k != "safety.yaml"})
    assert run(tmp_path)[0] == 0
    code, lines = run(tmp_path, serving=True)
    assert code == 1
    assert f"{tmp_path}: error: no 'emergency' escalation: add it (usually in safety.yaml)" in lines


def test_a_catalog_with_load_errors_still_gets_the_matcher_checks(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["main.yaml"] = CLEAN["main.yaml"].replace(
        "tests: [keep a diary]", "tests: [keep a diary, hello]"
    ).replace("answer: Keep a diary.", "answer: Keep a diary & notes.")
    write(tmp_path, files)
    code, lines = run(tmp_path)
    assert code == 1
    text = "\n".join(lines)
    assert "escape & as &amp;" in text  # loading error ...
    assert "test 'hello' gets 'greeting', not 'keep_evidence'" not in text  # keep_evidence was not built
    files["main.yaml"] = files["main.yaml"].replace("Keep a diary & notes.", "Keep a diary.").replace(
        "answer: Call {non_emergency_number}.", "answer: Call {non_emergncy_number}."
    )
    write(tmp_path, files)
    text = "\n".join(run(tmp_path)[1])
    assert "did you mean 'non_emergency_number'" in text and "test 'hello' gets 'greeting'" in text


def test_python_m_bot_check_reports_planted_errors_with_file_and_line(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["main.yaml"] = CLEAN["main.yaml"].replace("good morning, hey, hiya]", "good morning, hey, yes]")
    files["safety.yaml"] = CLEAN["safety.yaml"].replace("answer: Call Samaritans", "anwser: Call Samaritans")
    write(tmp_path, files)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--intents", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stderr
    main, safety = tmp_path / "main.yaml", tmp_path / "safety.yaml"
    out = result.stdout
    assert f"{main}:3:52: error: examples: 'yes' reads as true/false, not text: quote it (\"yes\")" in out
    assert f"{safety}:9:5: error: unknown key 'anwser' in an escalation (did you mean 'answer'?)" in out
    assert f"{safety}:7:5: error: missing answer" in out


def test_a_big_file_of_warnings_only_still_loads_and_says_how_many_were_not_listed(tmp_path: Path) -> None:
    # 300 intents with one example each: a warning apiece, and not one error
    intents = "\n".join(f"  - id: topic_{i}\n    examples: [question number {i} about topic {i}]\n"
                        f"    answer: Answer {i}." for i in range(300))
    (tmp_path / "big.yaml").write_text("intents:\n" + intents + "\n")
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None and len(catalog.intents) == 300
    listed = [p for p in problems if p.source.file.endswith("big.yaml")]
    assert all(not p.is_error for p in listed)
    summary = [p for p in listed if "not listed" in p.message]
    assert len(summary) == 1 and summary[0].message.startswith(f"{300 - MAX_PROBLEMS_PER_FILE} warnings more")


@pytest.mark.parametrize(("bad", "hint"), [("100_night_trial", "intent_100_night_trial"),
                                           ("Report Him", "report_him"), ("!!!", "intent")])
def test_the_id_hint_is_itself_a_valid_id(tmp_path: Path, bad: str, hint: str) -> None:
    (tmp_path / "a.yaml").write_text(f'intents:\n  - id: "{bad}"\n    examples: [a, b, c]\n    answer: x\n')
    _, problems = load_catalog(tmp_path)
    message = next(p.message for p in problems if "lower_snake_case" in p.message)
    assert message.endswith(f"e.g. {hint!r}")
