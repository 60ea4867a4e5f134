"""The one place the bot is put together from a config: the catalog it serves, loaded as `check` passes
it, and the engine around it, for `chat`, `run`, `classify`, `eval` and /reload alike."""

from __future__ import annotations

from bot.catalog.load import load_catalog, load_for_serving
from bot.catalog.problems import Problem
from bot.catalog.schema import Catalog
from bot.config import Config
from bot.engine import Engine, conversations


def intents_dir(config: Config, override: str | None = None) -> str:
    """The intents folder: ``override`` (a command's --intents) or the config's intents_dir."""
    return override or str(config.path(config.intents_dir))


def load(config: Config, directory: str | None = None, *, serving: bool = True) -> tuple[Catalog | None, list[Problem]]:
    """The catalog in ``directory`` (the config's by default) and every problem found in it.

    ``serving``: only what `check` passes for serving (escalation tests and examples included), as the
    bot must; without it, any catalog that loads (classify and eval measure unfinished catalogs too).
    """
    where = directory or intents_dir(config)
    if serving:
        return load_for_serving(where, config.answer_values())
    return load_catalog(where, service=config.answer_values())


def engine(config: Config, catalog: Catalog) -> Engine:
    """The engine for ``catalog`` with the config's service values, erase button and conversation windows."""
    return Engine(catalog, config.answer_values(), erase_button=config.privacy.erase_button,
                  conversations=conversations(config))
