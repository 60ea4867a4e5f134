"""Which updates were answered, kept beside the database so that a restart neither answers twice nor
forgets whom it owes an answer (ids only, never text); polling and the webhook share it."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
LOG_KEEP = 5000  # answered ids kept in the log before it is rewritten


class AnsweredLog:
    """Which updates were answered, kept in a small file that outlives the process (never any text).

    Two kinds of line: ``<update id>`` once an update is answered, and ``r <update id> <chat id>`` when
    Telegram is told an update is done before it is answered (a flood backlog, a stuck chat). After a
    crash, the first kind stops updates being answered twice; the second names the chats whose message
    was confirmed but never answered, so they can be asked to send it again (:meth:`missed`). Only
    entries Telegram may still send again, or still unanswered, matter: the file is rewritten short now
    and then and on close. Any failure disables it: answering never depends on this file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.previous: set[int] = set()
        self._missed: dict[int, int] = {}  # the last run's update id -> chat id, confirmed, unanswered
        self._risked: dict[int, int] = {}  # this run's, likewise
        self._fd: int | None = None
        self._written = 0
        if path is None:
            return
        try:
            if path.exists():
                self.previous, self._missed = _parse(path.read_text(encoding="ascii"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except (OSError, ValueError) as exc:
            log.warning("answered-updates log unavailable: %s", type(exc).__name__)

    def missed(self) -> dict[int, int]:
        """Update id -> chat id of the last run's updates confirmed to Telegram but never answered."""
        return dict(self._missed)

    def add(self, update_id: int, keep_from: Callable[[], int]) -> None:
        """Record one answered update; ids below ``keep_from()`` are confirmed and may be forgotten."""
        self._risked.pop(update_id, None)
        self._missed.pop(update_id, None)
        self._append(b"%d\n" % update_id, keep_from)

    def risk(self, update_id: int, chat_id: int | None, keep_from: Callable[[], int]) -> None:
        """Record that Telegram is told ``update_id`` is done before it has been answered."""
        if chat_id is None or update_id in self._risked:
            return
        self._risked[update_id] = chat_id
        self._append(b"r %d %d\n" % (update_id, chat_id), keep_from)

    def _append(self, line: bytes, keep_from: Callable[[], int]) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, line)  # no fsync: a killed process's writes survive
            self._written += 1
            if self._written >= LOG_KEEP:
                self._rewrite(keep_from())
        except OSError as exc:
            log.warning("answered-updates log disabled: %s", type(exc).__name__)
            self.close(rewrite=False)

    def _rewrite(self, keep_from: int) -> None:
        assert self.path is not None and self._fd is not None
        answered, _ = _parse(self.path.read_text(encoding="ascii"))
        kept = [f"{i}\n" for i in sorted(answered) if i >= keep_from]
        kept += [f"r {u} {c}\n" for u, c in {**self._missed, **self._risked}.items()]
        tmp = self.path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # a leftover would keep its own permissions
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds chat ids: owner only
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write("".join(kept))
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0

    def close(self, keep_from: int | None = None, *, rewrite: bool = True) -> None:
        """Stop writing; with ``keep_from``, first drop what no longer matters (chat ids included)."""
        if self._fd is None:
            return
        if rewrite and keep_from is not None:
            try:
                self._rewrite(keep_from)
            except OSError as exc:
                log.warning("answered-updates log not tidied: %s", type(exc).__name__)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _parse(text: str) -> tuple[set[int], dict[int, int]]:
    """(answered ids, unanswered update id -> chat id) from the log's lines; damaged lines are skipped."""
    answered: set[int] = set()
    risked: dict[int, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 1 and parts[0].isdigit():
            answered.add(int(parts[0]))
        elif len(parts) == 3 and parts[0] == "r" and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            risked[int(parts[1])] = int(parts[2])
    return answered, {u: c for u, c in risked.items() if u not in answered}
