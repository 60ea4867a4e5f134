"""The terminal channel: talk to the engine with no token and no network.

Run it with ``python -m bot chat`` (add ``--explain`` to see why each answer was chosen). Buttons are
numbered: type the number to press one. Works with piped input too:
``printf 'hi\\n2\\n' | python -m bot chat``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from bot.engine import Engine
from bot.htmltext import to_plain
from bot.turns import Incoming, Outcome, ReplyButton

CONSOLE_CHAT = "console"  # the one conversation a terminal holds
BANNER = "Type a message, or a button's number to press it. Ctrl-D (or /quit) to leave."


def render(outcome: Outcome, out: TextIO, *, explain: bool = False) -> list[ReplyButton]:
    """Print an outcome's replies as plain text; returns the buttons, numbered in print order."""
    if explain:
        for line in outcome.explanation:
            out.write(f"  | {line}\n")
    buttons: list[ReplyButton] = []
    for reply in outcome.replies:
        out.write("\n" + to_plain(reply.html).strip() + "\n")
        for button in reply.buttons:
            buttons.append(button)
            target = f" -> {button.url}" if button.url else ""
            out.write(f"  [{len(buttons)}] {button.text}{target}\n")
    if outcome.erase:
        out.write("  (On Telegram, the bot would now delete this conversation's messages.)\n")
    return buttons


def chat(engine: Engine, *, explain: bool = False, stdin: TextIO | None = None,
         stdout: TextIO | None = None) -> int:
    """Run a conversation until end of input."""
    src = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = src.isatty()
    out.write(BANNER + "\n")
    greeting = engine.respond(Incoming(text="/start", chat=CONSOLE_CHAT))
    buttons: Sequence[ReplyButton] = render(greeting, out, explain=explain)
    while True:
        if interactive:
            out.write("\n> ")
            out.flush()
        line = src.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if text.strip() in ("/quit", "/exit"):
            break
        if not text.strip():
            continue
        if not interactive:
            out.write(f"\n> {text}\n")
        choice = text.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            pressed = buttons[int(choice) - 1]
            if pressed.url:
                out.write(f"\n(opens {pressed.url})\n")
                continue
            outcome = engine.respond(Incoming(button=pressed.data, chat=CONSOLE_CHAT))
        else:
            outcome = engine.respond(Incoming(text=text, chat=CONSOLE_CHAT))
        buttons = render(outcome, out, explain=explain)
        out.flush()
    return 0
