"""Reading and handling one update safely, for polling and the webhook alike.

PTB parses a batch all or nothing and logs the whole batch when one update of it is unreadable: an update
is read alone here, and a bad one is skipped with only its id logged. A handler's error is contained to
its update, logged by type and id only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

log = logging.getLogger(__name__)
HOLD_SECONDS = 3.0  # longest an unanswered update keeps the offset back (a stuck chat must not stall intake)


async def handle_guarded(handle: Callable[[Update], Awaitable[Any]], update: Update) -> None:
    """Hand ``update`` to ``handle``; anything it raises is logged by type and update id only."""
    try:
        await handle(update)
    except Exception as exc:  # PTB routes handler errors to the error handler; this is a last guard
        log.error("update %s not handled: %s", update.update_id, type(exc).__name__)


def read_update(data: Any, bot: Any) -> Update | None:
    """``data`` (one update's JSON) as an Update, or None when PTB cannot read it (logged by id only)."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # untrusted input meets PTB's parser: one bad update must not stop the rest
        uid = data.get("update_id") if isinstance(data, dict) else None
        log.warning("update %s skipped: it could not be read (%s)", uid, type(exc).__name__)
        return None
