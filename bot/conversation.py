"""What the bot remembers about one chat between messages: in memory only, and never any text.

A person who has just said "he's outside" and then types "he's still behind me" must be read in
that light. That takes a little state per chat. It holds ids and times only (which escalation
fired and when, the last topic answered, the nation and language the person chose), is gone after a quiet
period, and is forgotten at once by /erase. Nothing here is written anywhere, so a restart
forgets it too: replies must never depend on it being there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

DANGER_MINUTES = 30.0  # how long a fired escalation colours the chat's follow-ups
QUIET_MINUTES = 120.0  # after this long with no message, a chat's state is forgotten
SWEEP_EVERY = 1024  # updates between sweeps of forgotten chats: memory stays bounded, cost amortised


@dataclass(frozen=True)
class ChatState:
    """One chat's state: ids and clock readings (seconds), nothing a person wrote."""

    danger: str | None = None  # the escalation that last fired
    danger_at: float = 0.0
    topic: str | None = None  # the intent last answered, for follow-ups that name no topic
    card: str | None = None  # the card last sent ("<intent>" or "<intent>/<follow-up>"): never sent twice running
    nation: str | None = None  # a jurisdiction id the person named ("im in glasgow" -> scotland)
    language: str | None = None  # a language code the person chose or wrote in ("cy")
    seen_at: float = 0.0


class Conversations:
    """Every chat's ChatState, expiring by itself."""

    def __init__(self, danger_minutes: float = DANGER_MINUTES, quiet_minutes: float = QUIET_MINUTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.danger_seconds = danger_minutes * 60.0
        self.quiet_seconds = max(quiet_minutes, danger_minutes) * 60.0
        self._clock = clock
        self._chats: dict[Hashable, ChatState] = {}
        self._updates = 0

    def __len__(self) -> int:
        return len(self._chats)

    def get(self, chat: Hashable | None) -> ChatState:
        """The chat's state now (a fresh one when unknown or quiet for too long)."""
        if chat is None:
            return ChatState()
        state = self._chats.get(chat)
        if state is None or self._clock() - state.seen_at > self.quiet_seconds:
            return ChatState()
        return state

    def danger(self, chat: Hashable | None) -> str | None:
        """The escalation that fired in this chat within the danger window, if any."""
        state = self.get(chat)
        if state.danger is not None and self._clock() - state.danger_at <= self.danger_seconds:
            return state.danger
        return None

    def update(self, chat: Hashable | None, **changes: object) -> None:
        """Record changes for the chat (``danger=`` also restarts the danger window)."""
        if chat is None:
            return
        now = self._clock()
        state = self.get(chat)
        if "danger" in changes:
            changes["danger_at"] = now
        self._chats[chat] = replace(state, seen_at=now, **changes)  # type: ignore[arg-type]
        self._updates += 1
        if self._updates % SWEEP_EVERY == 0:
            self._sweep(now)

    def touch(self, chat: Hashable | None) -> None:
        """A message came from the chat: its state, if it has any, is not quiet (no new entry is made)."""
        state = self._chats.get(chat) if chat is not None else None
        if state is not None:
            self._chats[chat] = replace(state, seen_at=self._clock())

    def forget(self, chat: Hashable | None) -> None:
        """Drop everything about the chat (/erase)."""
        self._chats.pop(chat, None)

    def _sweep(self, now: float) -> None:
        for chat in [c for c, s in self._chats.items() if now - s.seen_at > self.quiet_seconds]:
            del self._chats[chat]
