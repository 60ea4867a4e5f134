"""Escalation patterns compiled with RE2: matching time is linear in the text, whatever an admin writes.

Why RE2 (google-re2): Python's ``re`` backtracks, so one pattern such as ``(a+)+$`` can take
seconds on a message of 30 letters and freeze every chat. The alternatives were a time budget
(``regex``'s timeout, or a worker process), which bounds each message but still spends that budget
on the event loop for every hostile message, and a check for nested quantifiers at `check` time,
which catches the textbook case but not ``(a|aa)+`` and its many cousins. RE2 is safe by
construction; what it gives up (lookaround, backreferences) `check` reports at the pattern.
"""

from __future__ import annotations

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error comes back as an exception, with no copy on stderr


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message is RE2's own words."""


def compile_pattern(pattern: str) -> re2._Regexp:
    """The pattern compiled by RE2, or PatternError with what is wrong."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if "(?!" in text or "(?=" in text or "(?<" in text:
            text += " (lookahead and lookbehind are not supported: match the words instead)"
        elif "backreference" in text or "\\1" in pattern:
            text += " (backreferences are not supported)"
        raise PatternError(text) from None
