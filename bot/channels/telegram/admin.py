"""Admin tools on Telegram: /stats, /reload, and reloading intent files when they change on disk.

A reload validates the whole intents folder first; only a catalog fit to serve replaces the running
one, otherwise the old catalog keeps serving and every problem is reported as file:line.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot import assembly, stats
from bot.catalog.files import catalog_files
from bot.config import Config
from bot.engine import build
from bot.htmltext import escape

log = logging.getLogger(__name__)
WARNINGS_SHOWN = 3
SHOWN_PROBLEMS = 40  # more than this in one chat message helps nobody; `check` prints them all


class Swappable(Protocol):
    """What a reload needs from the engine."""

    def install(self, snapshot: Any) -> None: ...


class StatsSource(Protocol):
    """What /stats needs from the store."""

    async def stats(self, today: Any) -> Any: ...


class AdminTools:
    """The work behind the admin commands, shared by the commands and the file watcher."""

    def __init__(self, engine: Swappable, config: Config) -> None:
        self.engine = engine
        self.config = config
        self._reloading = asyncio.Lock()

    @property
    def intents_dir(self) -> Path:
        """The folder the catalog is loaded from."""
        return self.config.path(self.config.intents_dir)

    async def stats(self, store: StatsSource | None, now: datetime) -> tuple[str, bytes | None]:
        """The /stats answer: HTML text, and a PNG chart when one can be drawn."""

        if store is None:
            return "Statistics are not available: no database is configured.", None
        today = now.astimezone(self.config.tz).date()
        try:
            report = await asyncio.wait_for(store.stats(today), 10)
        except Exception as exc:
            log.warning("stats unavailable: %s", type(exc).__name__)
            return "Statistics are not available right now (the database did not answer).", None
        png = await asyncio.to_thread(stats.render_chart_png, report)
        return stats.format_report_html(report), png

    async def reload(self) -> str:
        """Validate the intents folder and swap it in; the answer for the admin (HTML)."""
        ok, problems, count = await self._load_and_swap()
        shown = "\n".join(f"<code>{escape(p)}</code>" for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        if more > 0:
            shown += f"\n… and {more} more (run <code>python -m bot check</code> to see all)"
        if ok:
            head = f"Reloaded: {count} intents are now live."
            if not problems:
                return head
            # warnings do not stop a reload; a count and the first few keep the reply one message long
            first = "\n".join(f"<code>{escape(p)}</code>" for p in problems[:WARNINGS_SHOWN])
            return (f"{head}\n\n{len(problems)} warning{'s' * (len(problems) != 1)} "
                    f"(run <code>python -m bot check</code> to see all):\n{first}")
        return f"Not reloaded: the intent files have problems. The previous version keeps serving.\n\n{shown}"

    async def reload_from_watch(self) -> bool:
        """A reload after files changed on disk; problems are logged (they name files, not people)."""
        ok, problems, count = await self._load_and_swap()
        if ok:
            if problems:  # warnings only: a count, so a routine reload is one log line, not hundreds
                log.info("intents: %d warnings (python -m bot check lists them)", len(problems))
            log.info("intents reloaded after a change on disk: %d intents", count)
        else:
            for problem in problems:
                log.warning("intents: %s", problem)
            log.error("intent files changed but have problems: still serving the previous version")
        return ok

    async def _load_and_swap(self) -> tuple[bool, list[str], int]:
        async with self._reloading:
            try:
                # checked and built off the event loop: other chats' messages, emergencies among
                # them, are answered from the old catalog meanwhile
                catalog, problems = await asyncio.to_thread(assembly.load, self.config, str(self.intents_dir))
                snapshot = None if catalog is None else await asyncio.to_thread(build, catalog)
            except Exception as exc:  # a loader bug must not take the bot down
                log.error("loading intents failed: %s", type(exc).__name__)
                return False, [f"{self.intents_dir}: the loader failed ({type(exc).__name__})"], 0
            errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
            if catalog is None or snapshot is None or errors:
                return False, [str(p) for p in (errors or problems)], 0
            self.engine.install(snapshot)
            return True, [str(p) for p in problems], len(catalog.intents)


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every intent file under ``directory`` (as the loader reads them) with its modification time and size."""
    found: dict[str, tuple[int, int]] = {}
    for path in catalog_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        found[str(path)] = (st.st_mtime_ns, st.st_size)
    return found


class IntentWatcher:
    """Polls the intents folder every few seconds and reloads when anything in it changed."""

    def __init__(self, admin: AdminTools, every: float = 2.0) -> None:
        self.admin = admin
        self.every = every

    async def run(self) -> None:
        """Run until cancelled."""
        seen = await asyncio.to_thread(snapshot, self.admin.intents_dir)
        while True:
            await asyncio.sleep(self.every)
            try:
                now = await asyncio.to_thread(snapshot, self.admin.intents_dir)
                if now != seen:
                    seen = now  # a broken edit is reported once, not every poll
                    await self.admin.reload_from_watch()
            except Exception as exc:
                log.warning("intent watcher: %s", type(exc).__name__)
