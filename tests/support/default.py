"""The shipped catalog and what serving it takes (matcher, detector), built once per test session."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.catalog.load import load_catalog
from bot.catalog.schema import Catalog, Intent
from bot.engine import Engine, Snapshot, build

REPO = Path(__file__).resolve().parents[2]
INTENTS = REPO / "intents"

# Engine() builds what it serves; this one-intent catalog makes that build take milliseconds, before
# default_engine installs the shared snapshot of the default catalog in its place.
_SEED = Catalog(intents=(Intent(id="seed", title="Seed", examples=("seed words",), answer="Seed."),))


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once (it is immutable)."""
    catalog, problems = load_catalog(INTENTS, for_serving=True)
    # an assert, not pytest.fail: benchmarks import this module without pytest installed
    assert catalog is not None, "the default catalog is not fit to serve:\n" + "\n".join(map(str, problems))
    return catalog


@functools.cache
def default_snapshot() -> Snapshot:
    """The default catalog with its matcher and detector, built once: seconds each time otherwise."""
    return build(default_catalog())


def default_engine(service: Mapping[str, str] | None = None, **options: Any) -> Engine:
    """A new Engine on the default catalog: its own per-chat memory, the session's shared snapshot.

    The snapshot is immutable (a reload installs a new one), so sharing it is safe; the engine's
    memory of each chat is not, so every caller gets a fresh engine.
    """
    engine = Engine(_SEED, service, **options)
    engine.install(default_snapshot())
    return engine
