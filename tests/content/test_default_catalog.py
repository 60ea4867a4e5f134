"""The shipped catalog as a whole: it loads for serving, `check` passes it (fast enough to list its
problems), and it meets the engine's targets on the dev set (when ../shared holds it)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from bot.catalog.load import check, load_catalog
from bot.evaluate import evaluate, read_tsv
from tests.support.checking import TODAY
from tests.support.default import INTENTS, REPO, default_engine

DEV = REPO.parent / "shared" / "eval" / "dev.tsv"


def test_default_catalog_loads_for_serving() -> None:
    catalog, problems = load_catalog(INTENTS, for_serving=True)
    assert [str(p) for p in problems if p.is_error] == []
    assert catalog is not None and catalog.escalation("emergency") and catalog.escalation("crisis")


@pytest.mark.slow
def test_check_passes_on_the_default_catalog() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


@pytest.mark.slow
def test_default_catalog_is_checked_quickly_enough_to_list() -> None:
    result, problems = check(str(INTENTS), serving=True, today=TODAY)
    assert result.files >= 1 and result.catalog.intents
    assert all(p.source.file.startswith(str(INTENTS)) for p in problems)


@pytest.mark.skipif(not DEV.exists(), reason="../shared/eval/dev.tsv is not here")
def test_dev_set_meets_the_engine_targets() -> None:
    out = io.StringIO()
    evaluate(default_engine(), read_tsv(DEV), out=out)
    figures = {line.split()[0] + " " + line.split()[1]: float(line.split()[2])
               for line in out.getvalue().splitlines()[-5:]}
    assert figures["intent accuracy"] >= 0.90
    assert figures["emergency recall"] == 1.0
    assert figures["crisis recall"] == 1.0
    assert figures["false escalations"] <= 0.03
    assert figures["fallback recall"] >= 0.85
