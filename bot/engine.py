"""Incoming -> Outcome: commands, buttons, escalations, intents and the fallback, for any channel.

The order never changes: escalations are checked on the whole text of every typed message and their
answers come first; only then is the message matched. What the engine remembers of a chat (a recent
escalation, an erase waiting for its "Yes") lives in memory only (bot/conversation.py), never as
text, so a reply never depends on a database; a reload swaps one immutable snapshot for another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType

from bot import language as lang
from bot.config import Config
from bot.confusables import table
from bot.conversation import Conversations
from bot.localize import examples_in, languages, localized
from bot.matcher import MAX_WORDS, Match, Matcher, explain
from bot.messages import (
    ERASE,
    INTENT_PREFIX,
    KEEP,
    LANGUAGE_PREFIX,
    NONE_OF_THESE,
    Incoming,
    Outcome,
    Reply,
    ReplyButton,
)
from bot.model import Button, Catalog
from bot.placeholders import fill, values
from bot.safety import Detector
from bot.text import fold

# Commands Telegram's menu shows, and what each one answers.
COMMANDS: Mapping[str, str] = {
    "start": "greeting",
    "help": "menu",
    "helpline": "helpline",
    "report": "how_to_report",
    "emergency": "emergency",
    "privacy": "privacy",
    "erase": "erase_conversation",
    "cymraeg": "greeting",
    "english": "greeting",
}
COMMAND_DESCRIPTIONS: Mapping[str, str] = {
    "start": "Start",
    "help": "What I can help with",
    "helpline": "National Stalking Helpline",
    "report": "Reporting to the police",
    "emergency": "If you are in danger now",
    "privacy": "What is kept and who can see it",
    "erase": "Erase this chat",
    "cymraeg": "Cymraeg: defnyddio'r bot yn Gymraeg",
    "english": "Use the bot in English",
}
# Commands that choose the chat's language (then answer with the greeting in it).
LANGUAGE_COMMANDS: Mapping[str, str] = {"cymraeg": lang.WELSH, "english": lang.ENGLISH}
# Where a person can switch language: a button under these answers names the other language.
LANGUAGE_CHOICE_INTENTS = ("greeting", "menu")
LANGUAGE_NAMES: Mapping[str, str] = {lang.WELSH: "Cymraeg", lang.ENGLISH: "English"}
# The engine's own button labels in each language (the catalog's texts are translated in YAML).
# TODO (fluent review): Welsh labels to be checked by a fluent speaker before launch.
BUTTON_LABELS: Mapping[str, Mapping[str, str]] = {
    lang.WELSH: {ERASE: "Dileu'r sgwrs", KEEP: "Na", NONE_OF_THESE: "Dim un o'r rhain"},
}
ERASE_YES_LABELS: Mapping[str, str] = {lang.WELSH: "Ie, dilëwch hi"}
ERASE_INTENT = "erase_conversation"
ERASE_BUTTON = ReplyButton("Erase chat", data=ERASE)
NONE_BUTTON_TEXT = "None of these"
# Never offered as a guess under "Did you mean": a wrong guess would end or wipe the conversation.
NEVER_GUESSED = frozenset({ERASE_INTENT, "goodbye"})
# After an escalation an intent card follows only when the match is this many times the threshold:
# "he threatened to kill me and he is outside" scores 75 for threats_to_kill, while "HES HERE HES
# OUTSIDE" reaches an order card with 23 and a neighbour being beaten the harassment card with 43,
# guesses from the danger words alone.
AFTER_ESCALATION = 2.5
FOLLOW_UP_WORDS = 12  # while danger is remembered, messages up to this long are read as follow-ups

# Lines a channel needs even if an admin deleted them from responses.yaml; check warns about that.
_BUILT_IN = {
    "fallback": "I am not sure I understood. In an emergency call {emergency_number}. "
    "The National Stalking Helpline is on {helpline_number}.",
    "did_you_mean": "Did you mean one of these? In an emergency call {emergency_number}. "
    "The National Stalking Helpline is on {helpline_number}.",
    "erase_confirm": "Erase this chat now?",
    "erase_kept": "Nothing was erased.",
    "none_of_these": "Sorry I could not help with that. In an emergency call {emergency_number}. "
    "The National Stalking Helpline is on {helpline_number}.",
    "non_text": "I can only read text messages. In an emergency call {emergency_number}.",
    "slow_reply": "Sorry for the slow reply.",
    "erased": "To remove the chat itself, and anything still showing, delete it from your chat list.",
    "group_chat": "I only work in private chats. In an emergency call {emergency_number}.",
    "too_long": "That was a long message: I have read the start of it.",
    "missed_message": "Sorry, the service restarted and a message you sent may not have been answered. "
    "Please send it again. In an emergency call {emergency_number}. "
    "The National Stalking Helpline is on {helpline_number}.",
}


@dataclass(frozen=True)
class Snapshot:
    """One catalog with its matcher and detector, swapped as a whole on reload."""

    catalog: Catalog
    matcher: Matcher
    detector: Detector
    # the same snapshot as a chat in another language sees it (bot/localize.py), by language code
    views: Mapping[str, Snapshot] = field(default_factory=dict)
    # in such a view: the matcher of that language's examples, tried before the English one
    local_matcher: Matcher | None = None

    def view(self, language: str | None) -> Snapshot:
        """The snapshot to render from for a chat in ``language`` (this one for English or unknown codes)."""
        return self.views.get(language or lang.ENGLISH, self)


def build(catalog: Catalog) -> Snapshot:
    """Everything a catalog is served with, built in full (slow for big catalogs: call it off the event loop)."""
    table()  # the look-alike letters' data: missing, it fails here, not on someone's message
    lang.warm()  # the language detector's models: loaded here, not on someone's first message
    matcher = Matcher(catalog)
    detector = Detector.for_catalog(catalog, known_words=matcher.vocabulary())
    views = {}
    for code in languages(catalog):
        examples = examples_in(catalog, code)
        local = Matcher(examples) if examples is not None else None
        views[code] = Snapshot(localized(catalog, code), matcher, detector, local_matcher=local)
    return Snapshot(catalog, matcher, detector, MappingProxyType(views))


def conversations(config: Config) -> Conversations:
    """The per-chat memory with the config's windows."""
    return Conversations(config.conversation.danger_minutes, config.conversation.quiet_minutes)


def _command(text: str) -> tuple[str, str] | None:
    """('start', 'payload') for '/start@bot payload'; None when the text is not a command."""
    stripped = fold(text).strip()  # an invisible character before the slash still leaves a command
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    return head.split("@", 1)[0].casefold(), rest.strip()


class Engine:
    """Turns what a person did into the replies to send, in order."""

    def __init__(self, catalog: Catalog, service: Mapping[str, str] | None = None, *,
                 erase_button: bool = True, conversations: Conversations | None = None) -> None:
        self.service = dict(service if service is not None else Config().placeholders())
        self.erase_button = erase_button
        self.conversations = conversations if conversations is not None else Conversations()
        self._snap = build(catalog)
        self._values_cache: dict[tuple[int, datetime, bool], Mapping[str, str]] = {}

    @property
    def catalog(self) -> Catalog:
        """The catalog being served."""
        return self._snap.catalog

    @property
    def matcher(self) -> Matcher:
        """The matcher of the catalog being served."""
        return self._snap.matcher

    @property
    def detector(self) -> Detector:
        """The escalation detector of the catalog being served."""
        return self._snap.detector

    def swap(self, catalog: Catalog) -> None:
        """Serve a new catalog; built fully before the one assignment that switches over."""
        self.install(build(catalog))

    def install(self, snapshot: Snapshot) -> None:
        """Serve a snapshot made by ``build``: one assignment, so a message sees the old one or the new."""
        self._snap = snapshot
        self._values_cache.clear()  # keyed by the snapshot's id, which a new snapshot may reuse

    def respond(self, incoming: Incoming) -> Outcome:
        """The replies for one message or button press, escalations first."""
        snap = self._snap  # one snapshot for the whole message, even if a reload lands meanwhile
        now = incoming.now or datetime.now(timezone.utc)
        language, why = self._language(incoming)
        view = snap.view(language)
        if incoming.button is not None:
            outcome = self._button(view, incoming.button, now)
        else:
            outcome = self._text(view, incoming.text or "", now, incoming.chat)
        outcome = self._in_language(snap, outcome, language, why)
        if outcome.erase:
            self.conversations.forget(incoming.chat)
        return outcome

    def _language(self, incoming: Incoming) -> tuple[str, str]:
        """The language to answer in, and why: chosen now, detected in this message, or remembered."""
        remembered = self.conversations.get(incoming.chat).language or lang.ENGLISH
        chosen: str | None = None
        if incoming.button is not None and incoming.button.startswith(LANGUAGE_PREFIX):
            chosen = incoming.button[len(LANGUAGE_PREFIX):]
        elif incoming.text is not None:
            command = _command(incoming.text)
            if command is not None and command[0] in LANGUAGE_COMMANDS:
                chosen = LANGUAGE_COMMANDS[command[0]]
            elif command is None or command[0] not in COMMANDS:
                try:
                    detected = lang.detect(incoming.text)
                except Exception:  # a broken detector must never cost the reply (and its 999 answer)
                    detected = None
                if detected is not None and detected != remembered:
                    self.conversations.update(incoming.chat, language=detected)
                    return detected, "detected in this message"
        if chosen is not None and chosen in LANGUAGE_NAMES:
            if chosen != remembered:
                self.conversations.update(incoming.chat, language=chosen)
            return chosen, "chosen"
        return remembered, "remembered" if remembered != lang.ENGLISH else "default"

    def _in_language(self, snap: Snapshot, outcome: Outcome, language: str, why: str) -> Outcome:
        """The engine's own button labels in the chat's language, and the other language offered on the menus."""
        labels = BUTTON_LABELS.get(language, {})
        yes = ERASE_YES_LABELS.get(language)
        replies = []
        for reply in outcome.replies:
            buttons = []
            for b in reply.buttons:
                text = labels.get(b.data or "", b.text)
                if yes and b.data == ERASE and reply.ref == ERASE_INTENT and reply.kind == "choices":
                    text = yes
                buttons.append(replace(b, text=text))
            replies.append(replace(reply, buttons=tuple(buttons)))
        other = lang.ENGLISH if language != lang.ENGLISH else lang.WELSH
        offered = other == lang.ENGLISH or other in snap.views
        if replies and offered and outcome.intent in LANGUAGE_CHOICE_INTENTS and not outcome.escalations:
            at = len(replies) - 1
            choice = ReplyButton(LANGUAGE_NAMES[other], data=LANGUAGE_PREFIX + other)
            replies[at] = replace(replies[at], buttons=(choice, *replies[at].buttons))
        lines = (*outcome.explanation, f"language: {language} ({why})")
        return replace(outcome, replies=tuple(replies), explanation=lines)

    def _text(self, snap: Snapshot, text: str, now: datetime, chat: str | int | None) -> Outcome:
        outcome = self._answer_text(snap, text, now, chat)
        if outcome.erase or len(text.split()) <= MAX_WORDS:
            return outcome
        # say so when the matcher read only the start (the escalation check read everything)
        at = len(outcome.escalations)
        notice = self._response(snap, "too_long", now, kind="notice")
        return replace(outcome, replies=(*outcome.replies[:at], notice, *outcome.replies[at:]))

    def _answer_text(self, snap: Snapshot, text: str, now: datetime, chat: str | int | None) -> Outcome:
        command = _command(text)
        # A known command's name is not the person's words ("/help" is the menu, not a cry for help);
        # whatever they typed after it is checked like any message.
        words = command[1] if command is not None and command[0] in COMMANDS else text
        hits = snap.detector.detect(words)
        escalated = tuple(h.escalation for h in hits)
        # someone who says they cannot talk gets the silent route as the escalation's answer
        replies = [self._escalation_reply(snap, h.escalation, now, silent=snap.detector.silent(h.escalation, words))
                   for h in hits]
        lines = [f"escalation: {h.escalation} ({h.describe()})" for h in hits] or ["escalation: none"]
        remembered = self.conversations.danger(chat)
        self.conversations.touch(chat)
        if hits:
            self.conversations.update(chat, danger=hits[0].escalation)
        elif remembered is not None:
            lines.append(f"danger remembered in this chat: {remembered}")

        if command is not None and command[0] in COMMANDS:
            name = command[0]
            target = COMMANDS[name]
            if target in escalated:
                return Outcome(tuple(replies), escalated, command=name, explanation=tuple(lines))
            if snap.catalog.escalation(target) is not None:
                # /emergency is an escalation asked for by name: it counts, and is remembered, as one
                replies.append(self._escalation_reply(snap, target, now))
                escalated = (*escalated, target)
                self.conversations.update(chat, danger=target)
                return Outcome(tuple(self._finish(replies)), escalated, command=name, explanation=tuple(lines))
            return self._intent_outcome(snap, target, replies, escalated, now, command=name, lines=lines)

        query = text if command is None else text.strip()[1:]
        match = self._match(snap, query)
        lines.extend(explain(match))
        intent = match.intent
        # A rule's hit names the danger, and a card must then be clearly about the message; the learned
        # part is the less precise one, and when it fires on a question the answer still follows.
        ruled = any(h.evidence is None for h in hits)
        if ruled and intent is not None and not self._relevant(snap, match):
            lines.append(f"after the escalation, {intent} is not confident enough to follow it")
            intent = None
        if not escalated and remembered is not None:
            esc = snap.catalog.escalation(remembered)
            if esc is not None and esc.silent_answer and snap.detector.silent(remembered, text):
                replies.append(self._escalation_reply(snap, remembered, now, silent=True))
                lines.append("follow-up: the person cannot talk: the silent route first")
                escalated = (remembered,)
            elif esc is not None and intent is None and len(text.split()) <= FOLLOW_UP_WORDS:
                replies.append(self._render(snap, esc.follow_up or esc.answer, esc.buttons, now, "escalation",
                                            esc.id))
                lines.append("follow-up: a short message with no confident intent: the short answer first")
                escalated = (remembered,)
        if intent == ERASE_INTENT and not escalated:
            # typed words alone never erase: one confirmation button first
            return Outcome((self._erase_confirmation(snap, now),), escalated, intent=intent,
                           explanation=tuple(lines))
        if intent is not None:
            return self._intent_outcome(snap, intent, replies, escalated, now, lines=lines)
        if escalated:
            # the escalation answer already offers the menu; a fallback under it would only add noise
            return Outcome(tuple(self._finish(replies)), escalated, explanation=tuple(lines))
        suggestions = tuple(i for i in match.suggestions if i not in NEVER_GUESSED)
        if suggestions:
            replies.append(self._choices(snap, suggestions, now))
            return Outcome(tuple(replies), escalated, choices=suggestions, explanation=tuple(lines))
        replies.append(self._response(snap, "fallback", now, kind="fallback"))
        return Outcome(tuple(self._finish(replies)), escalated, fallback=True, explanation=tuple(lines))

    @staticmethod
    def _match(snap: Snapshot, text: str) -> Match:
        """The chat language's own matcher first; the English one when it finds no intent."""
        if snap.local_matcher is None:
            return snap.matcher.match(text)
        local = snap.local_matcher.match(text)
        if local.intent is not None:
            return local
        english = snap.matcher.match(text)
        return english if english.intent is not None or not local.suggestions else local

    @staticmethod
    def _relevant(snap: Snapshot, match: Match) -> bool:
        """Whether an intent card may follow an escalation answer: an exact or clearly strong match."""
        return match.layer == "exact" or match.score >= AFTER_ESCALATION * snap.catalog.settings.threshold

    def _erase_confirmation(self, snap: Snapshot, now: datetime) -> Reply:
        heading = self._response(snap, "erase_confirm", now, kind="choices")
        buttons = (ReplyButton("Yes, erase it", data=ERASE), ReplyButton("No", data=KEEP))
        return Reply(heading.html, buttons, kind="choices", ref=ERASE_INTENT)

    def _intent_outcome(self, snap: Snapshot, intent_id: str, replies: list[Reply],
                        escalated: tuple[str, ...], now: datetime, *, command: str | None = None,
                        button: str | None = None, lines: list[str] | None = None) -> Outcome:
        explanation = tuple(lines or ())
        if intent_id == ERASE_INTENT and not escalated:
            erased = self._response(snap, "erased", now, kind="notice")
            return Outcome((erased,), escalated, intent=intent_id, command=command, button=button, erase=True,
                           explanation=explanation)
        intent = snap.catalog.intent(intent_id)
        if intent is None:
            replies.append(self._response(snap, "fallback", now, kind="fallback"))
            return Outcome(tuple(self._finish(replies)), escalated, fallback=True, command=command,
                           button=button, explanation=explanation)
        replies.append(self._render(snap, intent.answer, intent.buttons, now, "intent", intent.id))
        return Outcome(tuple(self._finish(replies)), escalated, intent=intent.id, command=command,
                       button=button, explanation=explanation)

    def _button(self, snap: Snapshot, data: str, now: datetime) -> Outcome:
        if data == ERASE:
            erased = self._response(snap, "erased", now, kind="notice")
            return Outcome((erased,), button=data, erase=True)
        if data == KEEP:
            kept = self._response(snap, "erase_kept", now, kind="notice")
            return Outcome(tuple(self._finish([kept])), button=data)
        if data.startswith(LANGUAGE_PREFIX):
            return self._intent_outcome(snap, "greeting", [], (), now, button=data)
        if data == NONE_OF_THESE:
            reply = self._response(snap, "none_of_these", now, kind="fallback")
            return Outcome(tuple(self._finish([reply])), fallback=True, button=data)
        target = data[len(INTENT_PREFIX):] if data.startswith(INTENT_PREFIX) else ""
        if snap.catalog.escalation(target) is not None:
            return Outcome(tuple(self._finish([self._escalation_reply(snap, target, now)])), button=data)
        # a button from an older catalog (or forged data) may name no intent: answer with the fallback
        return self._intent_outcome(snap, target, [], (), now, button=data, lines=[f"button: {data}"])

    def _escalation_reply(self, snap: Snapshot, escalation_id: str, now: datetime, *, silent: bool = False) -> Reply:
        esc = snap.catalog.escalation(escalation_id)
        if esc is None:  # only reachable with an unserved catalog (classify/check)
            return Reply(f"Call {self.service.get('emergency_number', '999')}.", kind="escalation",
                         ref=escalation_id)
        answer = esc.silent_answer if silent and esc.silent_answer else esc.answer
        return self._render(snap, answer, esc.buttons, now, "escalation", esc.id)

    def _choices(self, snap: Snapshot, suggestions: tuple[str, ...], now: datetime) -> Reply:
        heading = self._response(snap, "did_you_mean", now, kind="choices")
        buttons = [ReplyButton(self._title(snap, i), data=INTENT_PREFIX + i) for i in suggestions]
        buttons.append(ReplyButton(NONE_BUTTON_TEXT, data=NONE_OF_THESE))
        return Reply(heading.html, tuple(buttons), kind="choices")

    def system_reply(self, name: str, now: datetime | None = None, chat: str | int | None = None) -> Reply:
        """One of the bot's own lines (non_text, slow_reply, group_chat, erased ...), in the chat's language."""
        snap = self._snap.view(self.conversations.get(chat).language)
        return self._response(snap, name, now or datetime.now(timezone.utc), kind="notice")

    def _response(self, snap: Snapshot, name: str, now: datetime, *, kind: str) -> Reply:
        response = snap.catalog.responses.get(name)
        if response is None:
            return self._render(snap, _BUILT_IN[name], (), now, kind, name)
        return self._render(snap, response.answer, response.buttons, now, kind, name)

    def _title(self, snap: Snapshot, intent_id: str) -> str:
        intent = snap.catalog.intent(intent_id)
        return intent.title if intent is not None else intent_id.replace("_", " ").capitalize()

    def _render(self, snap: Snapshot, template: str, buttons: tuple[Button, ...], now: datetime,
                kind: str, ref: str | None) -> Reply:
        html = fill(template, self._values(snap, now, as_html=True)).strip()
        rendered: list[ReplyButton] = []
        for b in buttons:
            if b.url is not None:
                url = fill(b.url, self._values(snap, now, as_html=False)).strip()
                if url:
                    rendered.append(ReplyButton(b.text, url=url))
            elif b.intent is not None:
                rendered.append(ReplyButton(b.text or self._title(snap, b.intent), data=INTENT_PREFIX + b.intent))
        return Reply(html, tuple(rendered), kind=kind, ref=ref)

    def _values(self, snap: Snapshot, now: datetime, *, as_html: bool) -> Mapping[str, str]:
        """Placeholder values; opening-hours lines change by the minute, so they are kept for one."""
        key = (id(snap), now.replace(second=0, microsecond=0), as_html)
        found = self._values_cache.get(key)
        if found is None:
            if len(self._values_cache) >= 4:  # another minute or catalog: the old entries are stale
                self._values_cache.clear()
            found = self._values_cache[key] = values(self.service, snap.catalog.hours, now, as_html=as_html)
        return found

    def _finish(self, replies: list[Reply]) -> list[Reply]:
        """Add the quick-exit button under the last reply, when configured."""
        if not self.erase_button or not replies:
            return replies
        last = replies[-1]
        if any(b.data in (ERASE, INTENT_PREFIX + ERASE_INTENT) for b in last.buttons):
            return replies  # the answer already offers erasing
        return [*replies[:-1], Reply(last.html, (*last.buttons, ERASE_BUTTON), last.kind, last.ref)]

