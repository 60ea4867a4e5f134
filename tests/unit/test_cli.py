"""The command line as a user runs it: chat with piped input, classify, eval."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.console import chat
from bot.cli import main
from bot.engine import Engine
from bot.evaluate import evaluate, read_tsv
from tests.support.default import default_engine

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def test_chat_with_piped_input_numbers_buttons_and_presses_them(engine: Engine) -> None:
    out = io.StringIO()
    chat(engine, stdin=io.StringIO("what is an spo\n1\nhes outside my house\n"), stdout=out)
    text = out.getvalue()
    assert "[1]" in text and "<b>" not in text  # HTML shown as plain text
    after = text[text.index("> hes outside my house"):]
    assert after.split("\n")[2].startswith("If you are in danger now, call 999")  # the escalation comes first
    assert "press 55" in after


def test_chat_explain_shows_layer_score_runner_up_and_example(engine: Engine) -> None:
    out = io.StringIO()
    chat(engine, explain=True, stdin=io.StringIO("how do i reprot stalking\n"), stdout=out)
    text = out.getvalue()
    assert "layer: fuzzy" in text and "reprot -> report" in text
    assert "2." in text and "via example" in text


@pytest.mark.slow
def test_chat_process_end_to_end() -> None:
    result = run_cli("chat", stdin="hello\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Erase chat" in result.stdout


@pytest.mark.slow
def test_classify_prints_one_json_object_per_line() -> None:
    result = run_cli("classify", stdin="how do i report stalking\nhes outside my house rn\ni want to die\n\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {"text", "intent", "score", "escalation"}
    assert rows[0]["intent"] == "how_to_report" and rows[0]["escalation"] is None
    assert rows[1]["escalation"] == "emergency"
    assert rows[2]["escalation"] == "crisis"
    assert rows[3]["intent"] is None


def run_bytes(*args: str, stdin: bytes, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, cwd=ROOT,
                          timeout=120, env={**os.environ, **env})


# A strict UTF-8 stdin (a UTF-8 locale) and the C locale's surrogateescape, which passes bad bytes through.
LOCALES = [{"PYTHONIOENCODING": "utf-8"}, {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}]


@pytest.mark.slow
@pytest.mark.parametrize("env", LOCALES, ids=["strict", "c-utf8"])
def test_classify_replaces_invalid_utf8_and_keeps_going(env: dict[str, str]) -> None:
    result = run_bytes("classify", stdin=b"how do i report stalking\n\xff\xfe he follows me\ni want to die\n",
                       env=env)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    result.stdout.decode("utf-8")  # only valid UTF-8 comes out
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["how do i report stalking", "\ufffd\ufffd he follows me", "i want to die"]
    assert rows[2]["escalation"] == "crisis"


@pytest.mark.slow
@pytest.mark.parametrize("env", LOCALES, ids=["strict", "c-utf8"])
def test_chat_replaces_invalid_utf8_and_keeps_going(env: dict[str, str]) -> None:
    result = run_bytes("chat", stdin=b"\xff hello\ni want to die\n", env=env)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    out = result.stdout.decode("utf-8")
    assert "> \ufffd hello" in out and "> i want to die" in out


def test_classify_works_on_a_catalog_without_escalations(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "intents:\n  - id: weather\n    examples: [what is the weather, will it rain]\n    answer: Sunny.\n"
        "  - id: time\n    examples: [what time is it, tell me the time]\n    answer: Noon.\n",
        encoding="utf-8")
    result = run_cli("classify", "--intents", str(tmp_path), stdin="will it rain tomorrow\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["intent"] == "weather"


def test_chat_refuses_a_catalog_without_escalations(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("intents:\n  - id: hi\n    examples: [hello]\n    answer: Hi.\n",
                                     encoding="utf-8")
    result = run_cli("chat", "--intents", str(tmp_path))
    assert result.returncode == 1
    assert "emergency" in result.stderr


def test_eval_counts_and_reports_misses(engine: Engine, tmp_path: Path) -> None:
    tsv = tmp_path / "mini.tsv"
    tsv.write_text("# comment\n"
                   "none\thow_to_report\thow do i report stalking\n"
                   "emergency\t*\thes outside my house right now\n"
                   "none\t-\ttell me a joke\n"
                   "none\tthanks\thow do i report stalking\n", encoding="utf-8")
    out = io.StringIO()
    evaluate(engine, read_tsv(tsv), out=out)
    text = out.getvalue()
    assert "intent accuracy     0.667  (2/3)" in text
    assert "emergency recall    1.000  (1/1)" in text
    assert "fallback recall     1.000  (1/1)" in text
    assert "MISS line 5: expected thanks, got how_to_report" in text


def test_eval_rejects_a_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("none\tonly two columns\n", encoding="utf-8")
    assert main(["eval", str(bad)]) == 1
