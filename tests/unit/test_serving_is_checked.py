"""Issue 15 high items: serving and reloading accept exactly what `check` accepts; no pattern can stall."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import bot.channels.telegram.admin
import bot.engine
from bot.catalog.load import check, load_catalog, load_for_serving
from bot.channels.telegram.admin import AdminTools
from bot.config import Config
from bot.engine import Engine
from bot.safety import Detector
from bot.turns import Incoming
from tests.support.default import default_catalog, default_engine

pytestmark = pytest.mark.slow  # every test here starts the bot in a process or rebuilds the catalog

ROOT = Path(__file__).resolve().parents[2]


def copy_intents(tmp_path: Path) -> Path:
    folder = tmp_path / "intents"
    shutil.copytree(ROOT / "intents", folder)
    return folder


def plant(folder: Path, after: str, line: str) -> None:
    """Insert ``line`` right after the first line of safety.yaml that equals ``after``."""
    path = folder / "safety.yaml"
    text = path.read_text(encoding="utf-8")
    assert after + "\n" in text
    path.write_text(text.replace(after + "\n", after + "\n" + line + "\n", 1), encoding="utf-8")


@pytest.mark.parametrize(("after", "line"), [
    ("    past_markers:", "      - outside"),  # silences "he is outside my house"
    ("    patterns:", "      - '.*'"),  # fires on "thanks"
])
def test_a_catalog_check_rejects_is_never_served(tmp_path: Path, after: str, line: str) -> None:
    folder = copy_intents(tmp_path)
    plant(folder, after, line)
    _, problems = check(str(folder), serving=True)
    assert any(p.is_error for p in problems)
    catalog, served_problems = load_for_serving(str(folder))
    assert catalog is None
    assert [str(p) for p in served_problems if p.is_error] == [str(p) for p in problems if p.is_error]


async def test_reload_refuses_what_check_rejects_and_keeps_serving_the_old(tmp_path: Path) -> None:
    folder = copy_intents(tmp_path)
    catalog, _ = load_catalog(folder, for_serving=True)
    assert catalog is not None
    engine = Engine(catalog)
    admin = AdminTools(engine, Config(intents_dir=str(folder)))
    plant(folder, "    past_markers:", "      - outside")
    answer = await admin.reload()
    assert answer.startswith("Not reloaded")
    assert engine.respond(Incoming(text="he is outside my house")).escalations == ("emergency",)


async def test_reload_builds_the_new_catalog_off_the_event_loop(tmp_path: Path, monkeypatch: Any) -> None:
    folder = copy_intents(tmp_path)
    catalog, _ = load_catalog(folder, for_serving=True)
    assert catalog is not None
    engine = Engine(catalog)
    threads: list[threading.Thread] = []
    real_build = bot.engine.build

    def spy(cat: Any) -> Any:
        threads.append(threading.current_thread())
        return real_build(cat)

    monkeypatch.setattr(bot.channels.telegram.admin, "build", spy)  # the reload builds through it
    admin = AdminTools(engine, Config(intents_dir=str(folder)))
    assert (await admin.reload()).startswith("Reloaded")
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_a_backtracking_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    folder = copy_intents(tmp_path)
    plant(folder, "    patterns:", "      - '(a+)+$'")
    catalog, problems = load_catalog(folder, for_serving=True)
    assert catalog is not None, [str(p) for p in problems]
    detector = Detector(catalog.escalations)
    done = threading.Event()

    def run() -> None:
        detector.detect("a" * 5000 + "!")  # Python's re would backtrack here for longer than the universe
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "detection did not finish: the pattern backtracks"


def test_check_reports_a_pattern_re2_cannot_run_at_its_line(tmp_path: Path) -> None:
    folder = copy_intents(tmp_path)
    plant(folder, "    patterns:", "      - 'end it(?! with)'")
    catalog, problems = load_catalog(folder, for_serving=True)
    assert catalog is None
    found = [str(p) for p in problems if "lookahead" in p.message]
    assert found and found[0].startswith(str(folder / "safety.yaml") + ":")


def test_check_reports_an_example_its_framing_sets_aside(tmp_path: Path) -> None:
    folder = copy_intents(tmp_path)
    plant(folder, "    examples:", "      - he is at my door every night")  # "every night" is a past_marker
    _, problems = check(str(folder), serving=True)
    found = [p for p in problems if "every night" in p.message and p.severity == "warning"]
    assert found and found[0].source.file.endswith("safety.yaml") and found[0].source.line > 1


def test_escalations_still_answer_while_a_reload_runs() -> None:
    async def scenario() -> None:
        engine = default_engine()
        building = asyncio.create_task(asyncio.to_thread(bot.engine.build, default_catalog()))
        out = engine.respond(Incoming(text="he is outside my house"))
        assert out.escalations == ("emergency",)
        engine.install(await building)

    asyncio.run(scenario())
