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

from bot import jurisdiction
from bot import language as lang
from bot.catalog.schema import Button, Catalog, FollowUp, Intent
from bot.config import DEFAULT_SERVICE, Config
from bot.confusables import table
from bot.conversation import Conversations
from bot.followups import ACCEPT, DIRECT, SHORT_WORDS, FollowUpHit, FollowUpMatcher
from bot.htmltext import escape
from bot.localize import examples_in, languages, localized
from bot.matcher import MAX_WORDS, NEVER_GUESSED, Match, Matcher, explain
from bot.placeholders import values
from bot.safety import Detector, Hit
from bot.templates import fill
from bot.text import fold
from bot.turns import (
    ERASE,
    FOLLOW_UP_PREFIX,
    INTENT_PREFIX,
    KEEP,
    LANGUAGE_PREFIX,
    NATION_PREFIX,
    NONE_OF_THESE,
    WHERE_PREFIX,
    Incoming,
    Outcome,
    Reply,
    ReplyButton,
)

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
# After an escalation an intent card follows only when the match is this many times the threshold
# (16 in the default catalog): "he threatened to kill me and he is outside" scores 78 for
# threats_to_kill and "he broke the restraining order and hes outside now" 76 for breach_of_order,
# while "HES HERE HES OUTSIDE" reaches an order card with 26 and a neighbour being beaten the
# harassment card with 47, guesses from the danger words alone.
AFTER_ESCALATION = 3.5
FOLLOW_UP_WORDS = 12  # while danger is remembered, messages up to this long are read as follow-ups
# ... and one whose match is under this many times the threshold gets the short danger answer first
# ("where do i go" is a weak reporting match; "how do i report stalking to the police" a clear one)
FOLLOW_UP_CONFIDENT = 2.5
# Never a topic to answer follow-ups in, and sent again when asked again: small talk and the menus.
NO_TOPIC = frozenset({"greeting", "menu", "thanks", "goodbye", ERASE_INTENT})
HELPLINE_INTENT = "helpline"  # offered with a topic's follow-ups when its card is asked for twice running
# Intents that are a route within an escalation ("im deaf, what do i do in an emergency"): when matched,
# their card follows the escalation answer however the match scored.
ESCALATION_ROUTES = frozenset({"deaf_emergency"})

# What every line for someone the bot could not help ends with (DESIGN.md: 999 and the helpline).
SAFETY_LINE = "In an emergency call {emergency_number}. The National Stalking Helpline is on {helpline_number}."
LAST_RESORT = "Sorry, something went wrong on my side. " + SAFETY_LINE

# Lines a channel needs even if an admin deleted them from responses.yaml; check warns about that.
_BUILT_IN = {
    "fallback": "I am not sure I understood. " + SAFETY_LINE,
    "did_you_mean": "Did you mean one of these? " + SAFETY_LINE,
    "erase_confirm": "Erase this chat now?",
    "erase_kept": "Nothing was erased.",
    "none_of_these": "Sorry I could not help with that. " + SAFETY_LINE,
    "non_text": "I can only read text messages. In an emergency call {emergency_number}.",
    "slow_reply": "Sorry for the slow reply.",
    "erased": "To remove the chat itself, and anything still showing, delete it from your chat list.",
    "group_chat": "I only work in private chats. In an emergency call {emergency_number}.",
    "too_long": "That was a long message: I have read the start of it.",
    "topic_again": "That is the answer I just sent. Pick a more specific question below, or talk it through with "
    "the National Stalking Helpline on {helpline_number}. In an emergency call {emergency_number}.",
    "missed_message": "Sorry, the service restarted and a message you sent may not have been answered. "
    "Please send it again. " + SAFETY_LINE,
    "where_are_you": "Where are you in the UK? The law and some services differ between the four nations.",
    "nation_chosen": "Thank you. I will answer for where you are. You can change it at any time.",
    "also_help": "I can also help with:",
}
WHERE_BUTTON_TEXT = "Where are you in the UK?"


def safety_values(service: Mapping[str, str]) -> dict[str, str]:
    """SAFETY_LINE's two numbers from the service settings, HTML-escaped (the defaults where one is blank)."""
    return {key: escape(service.get(key) or DEFAULT_SERVICE[key]) for key in ("emergency_number", "helpline_number")}


def last_resort(service: Mapping[str, str]) -> Reply:
    """What a channel sends when the engine itself failed: it needs nothing of the engine, and still gives
    the 999 line and the helpline."""
    return Reply(fill(LAST_RESORT, safety_values(service)), kind="fallback")


@dataclass(frozen=True)
class Snapshot:
    """One catalog with its matcher and detector, swapped as a whole on reload."""

    catalog: Catalog
    matcher: Matcher
    detector: Detector
    follow_ups: FollowUpMatcher
    # the same snapshot as a chat in another language sees it (bot/localize.py), by language code
    views: Mapping[str, Snapshot] = field(default_factory=dict)
    # in such a view: the matcher of that language's examples, tried before the English one
    local_matcher: Matcher | None = None

    def view(self, language: str | None) -> Snapshot:
        """The snapshot to render from for a chat in ``language`` (this one for English or unknown codes)."""
        return self.views.get(language or lang.ENGLISH, self)


@dataclass(frozen=True)
class Checked:
    """A typed message's escalation check, done ahead of the rest (``Engine.check``): channels answer
    the ones that escalate first, and ``respond`` finishes the job with the same snapshot."""

    snapshot: Snapshot
    text: str
    hits: tuple[Hit, ...]
    asked: bool = False  # a command that names an escalation (/emergency)

    @property
    def urgent(self) -> bool:
        """Whether the message escalates: an escalation fired, or was asked for by name."""
        return bool(self.hits) or self.asked


def build(catalog: Catalog) -> Snapshot:
    """Everything a catalog is served with, built in full (slow for big catalogs: call it off the event loop)."""
    table()  # the look-alike letters' data: missing, it fails here, not on someone's message
    codes = languages(catalog)
    if codes:
        # the language detector's models: loaded here, not on someone's first message. A catalog with no
        # translation has nothing to answer in another language, and start-up does not pay a quarter
        # second for it (a first message with a Welsh word would still load them).
        lang.warm()
    matcher = Matcher(catalog)
    detector = Detector.for_catalog(catalog, known_words=matcher.vocabulary())
    follow_ups = FollowUpMatcher(catalog)
    views = {}
    for code in codes:
        examples = examples_in(catalog, code)
        local = Matcher(examples) if examples is not None else None
        views[code] = Snapshot(localized(catalog, code), matcher, detector, follow_ups, local_matcher=local)
    return Snapshot(catalog, matcher, detector, follow_ups, MappingProxyType(views))


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


def _checked_words(text: str) -> str:
    """What the escalation check reads: a known command's name is not the person's words ("/help" is
    the menu, not a cry for help); whatever they typed after it is checked like any message."""
    command = _command(text)
    return command[1] if command is not None and command[0] in COMMANDS else text


class Engine:
    """Turns what a person did into the replies to send, in order."""

    def __init__(self, catalog: Catalog, service: Mapping[str, str] | None = None, *,
                 erase_button: bool = True, conversations: Conversations | None = None) -> None:
        self.service = dict(service if service is not None else Config().answer_values())
        self.erase_button = erase_button
        self.conversations = conversations if conversations is not None else Conversations()
        self._snap = build(catalog)
        self._values_cache: dict[tuple[int, datetime, bool, str | None], Mapping[str, str]] = {}

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

    def check(self, text: str) -> Checked:
        """The escalation check of a typed message alone, for ``respond(..., checked=)`` to finish."""
        snap = self._snap
        command = _command(text)
        asked = command is not None and snap.catalog.escalation(COMMANDS.get(command[0], "")) is not None
        return Checked(snap, text, snap.detector.detect(_checked_words(text)), asked)

    def respond(self, incoming: Incoming, checked: Checked | None = None) -> Outcome:
        """The replies for one message or button press, escalations first.

        ``checked``: this message's ``check``, when the channel ran it first to put danger ahead of
        a backlog; its snapshot then serves the whole message.
        """
        text = incoming.text or ""
        reuse = checked is not None and incoming.button is None and checked.text == text
        # one snapshot for the whole message, even if a reload lands meanwhile
        snap = checked.snapshot if reuse and checked is not None else self._snap
        now = incoming.now or datetime.now(timezone.utc)
        language, why = self._language(incoming)
        view = snap.view(language)
        if incoming.button is not None:
            outcome = self._button(view, incoming.button, now, incoming.chat)
        else:
            hits = checked.hits if reuse and checked is not None else None
            outcome = self._text(view, text, now, incoming.chat, hits)
        outcome = self._in_language(snap, outcome, language, why)
        if outcome.erase:
            self.conversations.forget(incoming.chat)
        else:
            self._remember(incoming.chat, outcome)
        return outcome

    def _remember(self, chat: str | int | None, outcome: Outcome) -> None:
        """Keep the topic and the card just sent (ids only), for follow-ups and for not repeating a card."""
        if outcome.intent is None:
            # anything else between two asks for the same card (a fallback, a nation chosen) breaks the run
            if self.conversations.get(chat).card is not None:
                self.conversations.update(chat, card=None)
            return
        card = outcome.intent if outcome.follow_up is None else f"{outcome.intent}/{outcome.follow_up}"
        if outcome.intent in NO_TOPIC:
            self.conversations.update(chat, card=card)
        else:
            self.conversations.update(chat, topic=outcome.intent, card=card)

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
            elif (command is None or command[0] not in COMMANDS) and (
                    remembered != lang.ENGLISH or lang.may_be_welsh(incoming.text)):
                # an English chat's message with no Welsh word or letter can only stay English: the
                # detector's models are asked only when the answer could change
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

    def _text(self, snap: Snapshot, text: str, now: datetime, chat: str | int | None,
              hits: tuple[Hit, ...] | None) -> Outcome:
        outcome = self._answer_text(snap, text, now, chat, hits)
        if outcome.erase or len(text.split()) <= MAX_WORDS:
            return outcome
        # say so when the matcher read only the start (the escalation check read everything)
        at = len(outcome.escalations)
        notice = self._response(snap, "too_long", now, kind="notice")
        return replace(outcome, replies=(*outcome.replies[:at], notice, *outcome.replies[at:]))

    def _answer_text(self, snap: Snapshot, text: str, now: datetime, chat: str | int | None,
                     hits: tuple[Hit, ...] | None) -> Outcome:
        command = _command(text)
        words = _checked_words(text)
        if hits is None:
            hits = snap.detector.detect(words)
        escalated = tuple(h.escalation for h in hits)
        # where the person says they are only chooses among answers: the escalation check above has
        # already read the whole message, and its answers still come first
        place = jurisdiction.nation_in(words)
        if place is not None:
            self.conversations.update(chat, nation=place)
        nation = self._nation(chat)
        # someone who says they cannot talk gets the silent route as the escalation's answer
        replies = [self._escalation_reply(snap, h.escalation, now, silent=snap.detector.silent(h.escalation, words),
                                          nation=nation)
                   for h in hits]
        lines = [f"escalation: {h.escalation} ({h.describe()})" for h in hits] or ["escalation: none"]
        if place is not None:
            lines.append(f"place words: answers for {place}")
        remembered = self.conversations.danger(chat)
        state = self.conversations.get(chat)
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
                replies.append(self._escalation_reply(snap, target, now, nation=nation))
                escalated = (*escalated, target)
                self.conversations.update(chat, danger=target)
                return Outcome(tuple(self._finish(replies)), escalated, command=name, explanation=tuple(lines))
            return self._intent_outcome(snap, target, replies, escalated, now, command=name, lines=lines, chat=chat)

        query = text if command is None else text.strip()[1:]
        if place is not None and command is None and jurisdiction.only_place(text):
            if not hits and remembered is None:
                # "im in glasgow" asks nothing: say the answers will be for there
                replies.append(self._response(snap, "nation_chosen", now, kind="notice", nation=nation))
                return Outcome(tuple(self._finish(replies)), explanation=tuple(lines))
            query = ""  # nothing to match: after a danger it is a follow-up, answered below
        elif place is not None:
            # place words say where, not what: matched without them, "im in glasgow, can i get an order"
            # is a question about orders
            query = jurisdiction.strip_places(query)
        match = self._match(snap, query)
        lines.extend(explain(match))
        intent = match.intent
        # A rule's hit names the danger, and a card must then be clearly about the message; the learned
        # part is the less precise one, and when it fires on a question the answer still follows.
        ruled = any(h.evidence is None for h in hits)
        if ruled and intent is not None and intent not in ESCALATION_ROUTES and not self._relevant(snap, match):
            lines.append(f"after the escalation, {intent} is not confident enough to follow it")
            intent = None
        if not escalated and remembered is not None:
            esc = snap.catalog.escalation(remembered)
            if esc is not None and esc.silent_answer and snap.detector.silent(remembered, text):
                replies.append(self._escalation_reply(snap, remembered, now, silent=True, nation=nation))
                lines.append("follow-up: the person cannot talk: the silent route first")
                escalated = (remembered,)
            elif esc is not None and len(text.split()) <= FOLLOW_UP_WORDS and (
                    intent is None or not self._relevant(snap, match, FOLLOW_UP_CONFIDENT)):
                # a weak guess ("where do i go" -> reporting) may follow, but the danger answer comes first
                replies.append(self._render(snap, esc.follow_up or esc.answer, esc.buttons, now, "escalation",
                                            esc.id, nation))
                lines.append("follow-up: a short message with no confident intent: the short answer first")
                escalated = (remembered,)
        follow = self._follow_up(snap, query, match, intent, state.topic, fresh=bool(hits), lines=lines)
        if follow is not None:
            if state.card == f"{follow.intent}/{follow.follow_up.id}":
                return self._again(snap, follow.intent, follow.follow_up, replies, escalated, now, lines)
            return self._follow_up_outcome(snap, follow.intent, follow.follow_up, replies, escalated, now,
                                           lines=lines, nation=nation)
        if intent is not None and intent == state.card and intent not in NO_TOPIC:
            return self._again(snap, intent, None, replies, escalated, now, lines)
        if intent == ERASE_INTENT and not escalated:
            # typed words alone never erase: one confirmation button first
            return Outcome((self._erase_confirmation(snap, now),), escalated, intent=intent,
                           explanation=tuple(lines))
        if intent is not None:
            offered = match.also if intent == match.intent else ()  # not when a follow-up or danger changed it
            return self._intent_outcome(snap, intent, replies, escalated, now, lines=lines, chat=chat, also=offered)
        if escalated:
            # the escalation answer already offers the menu; a fallback under it would only add noise
            return Outcome(tuple(self._finish(replies)), escalated, explanation=tuple(lines))
        suggestions = tuple(i for i in match.suggestions if i not in NEVER_GUESSED)
        if suggestions:
            replies.append(self._choices(snap, suggestions, now, nation))
            return Outcome(tuple(replies), escalated, choices=suggestions, explanation=tuple(lines))
        replies.append(self._response(snap, "fallback", now, kind="fallback", nation=nation))
        return Outcome(tuple(self._finish(replies)), escalated, fallback=True, explanation=tuple(lines))

    @staticmethod
    def _follow_up(snap: Snapshot, text: str, match: Match, intent: str | None, topic: str | None, *,
                   fresh: bool, lines: list[str]) -> FollowUpHit | None:
        """The follow-up a message asks for: in the remembered topic, or inside the intent it matched."""
        if fresh:  # a danger just named: its answer, and a card clearly about the message, are enough
            return None
        short = len(text.split()) <= SHORT_WORDS
        if topic is not None and snap.follow_ups.has(topic):
            hit = snap.follow_ups.match(topic, text)
            if hit is not None and (
                (intent is None and hit.score >= ACCEPT)
                or ((intent == topic or short) and match.layer != "exact" and hit.score >= DIRECT)
            ):
                lines.append(f"follow-up in the topic {topic}: {hit.follow_up.id} ({hit.score:.0f}, "
                             f"like {hit.example!r})")
                return hit
        if intent is not None and snap.follow_ups.has(intent):
            hit = snap.follow_ups.match(intent, text)
            if hit is not None and hit.score >= DIRECT:
                lines.append(f"follow-up of {intent}: {hit.follow_up.id} ({hit.score:.0f}, like {hit.example!r})")
                return hit
        return None

    def _follow_up_outcome(self, snap: Snapshot, intent_id: str, follow_up: FollowUp, replies: list[Reply],
                           escalated: tuple[str, ...], now: datetime, *, button: str | None = None,
                           lines: list[str] | None = None, nation: str | None = None) -> Outcome:
        intent = snap.catalog.intent(intent_id)
        # the whole card stays one press away, unless the follow-up already offers it
        whole = () if intent is None or any(b.intent == intent_id for b in follow_up.buttons) else (
            Button(intent.title, intent=intent_id),)
        # its {placeholders} (out-of-hours lines) are the chat's nation's, as the whole card's are
        replies.append(self._render(snap, follow_up.answer, (*follow_up.buttons, *whole), now, "intent", intent_id,
                                    nation))
        return Outcome(tuple(self._finish(replies)), escalated, intent=intent_id, follow_up=follow_up.id,
                       button=button, explanation=tuple(lines or ()))

    def _again(self, snap: Snapshot, intent_id: str, sent: FollowUp | None, replies: list[Reply],
               escalated: tuple[str, ...], now: datetime, lines: list[str]) -> Outcome:
        """Asked for the card just sent: offer the topic's follow-ups and the helpline instead of repeating it."""
        intent = snap.catalog.by_id[intent_id]  # the card just matched or sent came from this catalog
        lines.append(f"{intent_id}{'/' + sent.id if sent else ''} was the card just sent: offering its follow-ups")
        heading = self._response(snap, "topic_again", now, kind="intent")
        buttons: list[ReplyButton] = [ReplyButton(f.title, data=f"{FOLLOW_UP_PREFIX}{intent_id}/{f.id}")
                                      for f in intent.follow_ups if f is not sent]
        if sent is not None:
            buttons.append(ReplyButton(intent.title, data=INTENT_PREFIX + intent_id))
        elif not buttons:  # no follow-ups: the card's own related topics
            buttons.extend(self._related(snap, intent))
        if intent_id != HELPLINE_INTENT and snap.catalog.intent(HELPLINE_INTENT) is not None:
            buttons.append(ReplyButton(self._title(snap, HELPLINE_INTENT), data=INTENT_PREFIX + HELPLINE_INTENT))
        reply = Reply(heading.html, (*buttons, *heading.buttons), kind="intent", ref=intent_id)
        replies.append(reply)
        return Outcome(tuple(self._finish(replies)), escalated, intent=intent_id,
                       follow_up=sent.id if sent else None, explanation=tuple(lines))

    def _related(self, snap: Snapshot, intent: Intent) -> list[ReplyButton]:
        return [ReplyButton(b.text or self._title(snap, b.intent), data=INTENT_PREFIX + b.intent)
                for b in intent.buttons if b.intent is not None and b.intent != HELPLINE_INTENT]

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
    def _relevant(snap: Snapshot, match: Match, factor: float = AFTER_ESCALATION) -> bool:
        """Whether an intent card may follow an escalation answer: an exact or clearly strong match."""
        return match.layer == "exact" or match.score >= factor * snap.matcher.settings.threshold

    def _erase_confirmation(self, snap: Snapshot, now: datetime) -> Reply:
        heading = self._response(snap, "erase_confirm", now, kind="choices")
        buttons = (ReplyButton("Yes, erase it", data=ERASE), ReplyButton("No", data=KEEP))
        return Reply(heading.html, buttons, kind="choices", ref=ERASE_INTENT)

    def _intent_outcome(self, snap: Snapshot, intent_id: str, replies: list[Reply],
                        escalated: tuple[str, ...], now: datetime, *, command: str | None = None,
                        button: str | None = None, lines: list[str] | None = None,
                        chat: str | int | None = None, nation: str | None = None,
                        also: tuple[str, ...] = ()) -> Outcome:
        explanation = tuple(lines or ())
        nation = nation or self._nation(chat)  # a nation just chosen holds even where nothing is remembered
        if intent_id == ERASE_INTENT and not escalated:
            erased = self._response(snap, "erased", now, kind="notice")
            return Outcome((erased,), escalated, intent=intent_id, command=command, button=button, erase=True,
                           explanation=explanation)
        intent = snap.catalog.intent(intent_id)
        if intent is None:
            replies.append(self._response(snap, "fallback", now, kind="fallback", nation=nation))
            return Outcome(tuple(self._finish(replies)), escalated, fallback=True, command=command,
                           button=button, explanation=explanation)
        reply = self._render(snap, jurisdiction.answer_for(intent, nation), intent.buttons, now, "intent", intent.id,
                             nation)
        if jurisdiction.differs(intent):
            # the law differs by nation: say whose this is, and let the person say where they are
            where = f"\n\n<i>This answer is for {jurisdiction.described(intent, nation)}.</i>"
            reply = Reply(reply.html + where, (*reply.buttons, ReplyButton(WHERE_BUTTON_TEXT,
                                                                            data=WHERE_PREFIX + intent.id)),
                          reply.kind, reply.ref)
        replies.append(reply)
        if also:
            # a story that touches other topics: the main one answered, the others a tap away
            heading = self._response(snap, "also_help", now, kind="choices", nation=nation)
            replies.append(Reply(heading.html, self._intent_buttons(snap, also), kind="choices"))
        return Outcome(tuple(self._finish(replies)), escalated, intent=intent.id, command=command,
                       button=button, explanation=explanation)

    def _button(self, snap: Snapshot, data: str, now: datetime, chat: str | int | None = None) -> Outcome:
        if data == ERASE:
            erased = self._response(snap, "erased", now, kind="notice")
            return Outcome((erased,), button=data, erase=True)
        if data == KEEP:
            kept = self._response(snap, "erase_kept", now, kind="notice")
            return Outcome(tuple(self._finish([kept])), button=data)
        if data.startswith(LANGUAGE_PREFIX):
            return self._intent_outcome(snap, "greeting", [], (), now, button=data)
        if data == NONE_OF_THESE:
            reply = self._response(snap, "none_of_these", now, kind="fallback", nation=self._nation(chat))
            return Outcome(tuple(self._finish([reply])), fallback=True, button=data)
        if data.startswith(WHERE_PREFIX):
            return Outcome((self._where(snap, data[len(WHERE_PREFIX):], now, self._nation(chat)),), button=data)
        if data.startswith(NATION_PREFIX):
            nation, _, shown = data[len(NATION_PREFIX):].partition(":")
            if jurisdiction.valid(nation):  # forged data sets nothing
                self.conversations.update(chat, nation=nation)
                if not shown:
                    notice = self._response(snap, "nation_chosen", now, kind="notice", nation=nation)
                    return Outcome(tuple(self._finish([notice])), button=data)
                return self._intent_outcome(snap, shown, [], (), now, button=data, lines=[f"button: {data}"],
                                            chat=chat, nation=nation)
        if data.startswith(FOLLOW_UP_PREFIX):
            intent_id, _, follow_up_id = data[len(FOLLOW_UP_PREFIX):].partition("/")
            intent = snap.catalog.intent(intent_id)
            follow_up = intent.follow_up(follow_up_id) if intent is not None else None
            if follow_up is not None:
                return self._follow_up_outcome(snap, intent_id, follow_up, [], (), now, button=data,
                                               lines=[f"button: {data}"], nation=self._nation(chat))
            # forged, or from an older catalog: the fallback below, like an unknown intent
        target = data[len(INTENT_PREFIX):] if data.startswith(INTENT_PREFIX) else ""
        if snap.catalog.escalation(target) is not None:
            return Outcome(tuple(self._finish([self._escalation_reply(snap, target, now, nation=self._nation(chat))])),
                           button=data)
        # a button from an older catalog (or forged data) may name no intent: answer with the fallback
        return self._intent_outcome(snap, target, [], (), now, button=data, lines=[f"button: {data}"], chat=chat)

    def _nation(self, chat: str | int | None) -> str:
        """The jurisdiction answers describe in this chat: where the person said, else the service's."""
        chosen = self.conversations.get(chat).nation
        return chosen or self.service.get("jurisdiction") or jurisdiction.DEFAULT

    def _where(self, snap: Snapshot, intent_id: str, now: datetime, nation: str) -> Reply:
        """ "Where are you in the UK?" with a button per nation, each showing ``intent_id``'s answer again."""
        heading = self._response(snap, "where_are_you", now, kind="choices", nation=nation)
        shown = intent_id if snap.catalog.intent(intent_id) is not None else ""
        buttons = []
        for text, choice in jurisdiction.CHOICES:
            data = f"{NATION_PREFIX}{choice}:{shown}" if shown else NATION_PREFIX + choice
            if len(data.encode()) > 64:  # Telegram's limit: the choice still counts, the answer is not repeated
                data = NATION_PREFIX + choice
            buttons.append(ReplyButton(text, data=data))
        return Reply(heading.html, tuple(buttons), kind="choices", ref=shown or None)

    def _escalation_reply(self, snap: Snapshot, escalation_id: str, now: datetime, *, silent: bool = False,
                          nation: str | None = None) -> Reply:
        esc = snap.catalog.escalation(escalation_id)
        if esc is None:  # only reachable with an unserved catalog (classify/check)
            return Reply(fill(SAFETY_LINE, safety_values(self.service)), kind="escalation", ref=escalation_id)
        answer = esc.silent_answer if silent and esc.silent_answer else esc.answer
        return self._render(snap, answer, esc.buttons, now, "escalation", esc.id, nation)

    def _choices(self, snap: Snapshot, suggestions: tuple[str, ...], now: datetime, nation: str | None = None) -> Reply:
        heading = self._response(snap, "did_you_mean", now, kind="choices", nation=nation)
        buttons = (*self._intent_buttons(snap, suggestions), ReplyButton(NONE_BUTTON_TEXT, data=NONE_OF_THESE))
        return Reply(heading.html, buttons, kind="choices")

    def _intent_buttons(self, snap: Snapshot, intent_ids: tuple[str, ...]) -> tuple[ReplyButton, ...]:
        """A button per intent, labelled with its title, that shows its answer."""
        return tuple(ReplyButton(self._title(snap, i), data=INTENT_PREFIX + i) for i in intent_ids)

    def system_reply(self, name: str, now: datetime | None = None, chat: str | int | None = None) -> Reply:
        """One of the bot's own lines (non_text, slow_reply, group_chat, erased ...), in the chat's language."""
        snap = self._snap.view(self.conversations.get(chat).language)
        return self._response(snap, name, now or datetime.now(timezone.utc), kind="notice")

    def _response(self, snap: Snapshot, name: str, now: datetime, *, kind: str, nation: str | None = None) -> Reply:
        response = snap.catalog.responses.get(name)
        if response is None:
            return self._render(snap, _BUILT_IN[name], (), now, kind, name, nation)
        return self._render(snap, jurisdiction.answer_for(response, nation), response.buttons, now, kind, name, nation)

    def _title(self, snap: Snapshot, intent_id: str) -> str:
        intent = snap.catalog.intent(intent_id)
        return intent.title if intent is not None else intent_id.replace("_", " ").capitalize()

    def _render(self, snap: Snapshot, template: str, buttons: tuple[Button, ...], now: datetime,
                kind: str, ref: str | None, nation: str | None = None) -> Reply:
        html = fill(template, self._values(snap, now, as_html=True, nation=nation)).strip()
        rendered: list[ReplyButton] = []
        for b in buttons:
            if b.url is not None:
                url = fill(b.url, self._values(snap, now, as_html=False)).strip()
                if url:
                    rendered.append(ReplyButton(b.text, url=url))
            elif b.intent is not None:
                rendered.append(ReplyButton(b.text or self._title(snap, b.intent), data=INTENT_PREFIX + b.intent))
        return Reply(html, tuple(rendered), kind=kind, ref=ref)

    def _values(self, snap: Snapshot, now: datetime, *, as_html: bool, nation: str | None = None) -> Mapping[str, str]:
        """Placeholder values; opening-hours lines change by the minute, so they are kept for one."""
        key = (id(snap), now.replace(second=0, microsecond=0), as_html, nation)
        found = self._values_cache.get(key)
        if found is None:
            if len(self._values_cache) >= 16:  # another minute or catalog: the old entries are stale
                self._values_cache.clear()
            found = self._values_cache[key] = values(self.service, snap.catalog.hours, now, as_html=as_html,
                                                     nation=nation)
        return found

    def _finish(self, replies: list[Reply]) -> list[Reply]:
        """Add the quick-exit button under the last reply, when configured."""
        if not self.erase_button or not replies:
            return replies
        last = replies[-1]
        if any(b.data in (ERASE, INTENT_PREFIX + ERASE_INTENT) for b in last.buttons):
            return replies  # the answer already offers erasing
        return [*replies[:-1], Reply(last.html, (*last.buttons, ERASE_BUTTON), last.kind, last.ref)]

