"""One turn of a chat, free of any channel: the message in (Incoming), what the engine does (Outcome, Reply).

Also the callback data its buttons carry. Channels (console, Telegram) translate to and from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Callback data carried by buttons (Telegram allows 1-64 bytes).
INTENT_PREFIX = "i:"  # "i:<intent id>": show that intent's answer
FOLLOW_UP_PREFIX = "f:"  # "f:<intent id>/<follow-up id>": show that follow-up of the intent
NONE_OF_THESE = "none"  # the "None of these" choice under "Did you mean"
ERASE = "erase"  # the quick-exit "Erase chat" button, and "Yes, erase it"
KEEP = "keep"  # "No" under "Erase this chat now?"
WHERE_PREFIX = "w:"  # "w:<intent id>": ask "Where are you in the UK?" under that intent's answer
NATION_PREFIX = "n:"  # "n:<jurisdiction id>[:<intent id>]": the person is there; show that answer again
LANGUAGE_PREFIX = "lang:"  # "lang:cy": answer this chat in that language from now on


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: typed ``text`` (commands included) or pressed a ``button``."""

    text: str | None = None
    button: str | None = None  # callback data of the pressed button
    now: datetime | None = None  # when it happened (aware); None means "now"
    chat: str | int | None = None  # which conversation, for what the engine remembers of it (bot/conversation.py)


@dataclass(frozen=True)
class ReplyButton:
    """A button under a reply: ``data`` is callback data, ``url`` a link; exactly one is set."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send: Telegram-HTML text and its buttons, one button per row."""

    html: str
    buttons: tuple[ReplyButton, ...] = ()
    kind: str = "intent"  # escalation | intent | fallback | choices | notice
    ref: str | None = None  # escalation or intent id the reply came from


@dataclass(frozen=True)
class Outcome:
    """What the engine decided for one Incoming, for channels, stats and --explain."""

    replies: tuple[Reply, ...]
    escalations: tuple[str, ...] = ()
    intent: str | None = None
    fallback: bool = False
    choices: tuple[str, ...] = ()  # intent ids offered under "Did you mean"
    command: str | None = None  # the /command used, if any
    button: str | None = None  # the button pressed, if any
    erase: bool = False  # the person asked to erase the conversation
    follow_up: str | None = None  # the follow-up of ``intent`` answered, if any
    explanation: tuple[str, ...] = field(default=(), compare=False)
