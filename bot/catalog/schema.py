"""The catalog schema: the immutable objects the loader builds and the matcher, safety and the engine read.

Everything here is plain data: reading and checking live beside it in bot/catalog/; nothing in this
module knows about YAML, Telegram or matching.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

ESCALATION_IDS = ("emergency", "crisis")
# Languages a catalog may translate into (``translations:`` keys); the catalog's own text is English.
LANGUAGES: Mapping[str, str] = MappingProxyType({"cy": "Welsh, Cymraeg"})


@dataclass(frozen=True)
class Source:
    """Where a catalog item was written: shown to admins in every problem report."""

    file: str
    line: int  # 1-based
    col: int = 1  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Button:
    """A follow-up under an answer: either another intent (``intent``) or a link (``url``)."""

    text: str
    intent: str | None = None
    url: str | None = None  # may hold {placeholders}, filled like answers


@dataclass(frozen=True)
class FollowUp:
    """A short sub-answer inside an intent ("is it free"), reached in that topic or by its button."""

    id: str
    title: str
    examples: tuple[str, ...]
    answer: str  # Telegram HTML with {placeholders}
    buttons: tuple[Button, ...] = ()
    tests: tuple[str, ...] = ()  # phrases that must reach this follow-up within its topic (run by `check`)
    source: Source | None = None


@dataclass(frozen=True)
class IntentTranslation:
    """An intent in another language: what people say in it and what the bot answers."""

    title: str = ""  # empty: buttons keep the English title
    answer: str = ""  # empty: the English answer, under the chat language's notice line
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseTranslation:
    """One of the bot's own lines in another language."""

    answer: str


@dataclass(frozen=True)
class EscalationTranslation:
    """An escalation's answers in another language, and that language's danger words (phrases, examples)."""

    answer: str
    follow_up: str = ""
    silent_answer: str = ""
    phrases: tuple[str, ...] = ()
    silent_phrases: tuple[str, ...] = ()  # "I cannot talk" in that language: the silent route
    past_markers: tuple[str, ...] = ()  # "last year" in that language: a hit in such a sentence is set aside
    present_markers: tuple[str, ...] = ()  # "now", "still": ... unless the sentence also says this
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()  # that language's near misses, beside its everyday lines


@dataclass(frozen=True)
class Intent:
    """One thing people ask about, with what they say and what the bot answers."""

    id: str
    title: str
    examples: tuple[str, ...]
    answer: str  # Telegram HTML with {placeholders}
    keywords: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()  # near misses that must not match this intent
    buttons: tuple[Button, ...] = ()
    tests: tuple[str, ...] = ()
    source: Source | None = None
    # jurisdiction id (bot/jurisdiction.py: scotland, northern_ireland, wales) -> its own answer;
    # ``answer`` is the England and Wales text, and the one any other nation gets
    variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    follow_ups: tuple[FollowUp, ...] = ()

    def follow_up(self, follow_up_id: str) -> FollowUp | None:
        """The follow-up with this id, or None."""
        return next((f for f in self.follow_ups if f.id == follow_up_id), None)
    translations: Mapping[str, IntentTranslation] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Escalation:
    """A danger check run on every message before matching (``emergency`` or ``crisis``)."""

    id: str
    title: str
    answer: str
    phrases: tuple[str, ...] = ()  # typo-tolerant word sequences
    patterns: tuple[str, ...] = ()  # regular expressions over the normalised text
    # Threat words ("he will kill me") fire like phrases, but not when reported or conditional
    # ("he said he would kill me if ...": the threats_to_kill intent answers that).
    threats: tuple[str, ...] = ()
    # A hit is ignored when its sentence is framed in the past or as a habit ("last year",
    # "every night"), and a threat when reported ("he said"), unless the sentence also says it is
    # happening now ("now", "still", "rn").
    past_markers: tuple[str, ...] = ()
    reported_markers: tuple[str, ...] = ()
    present_markers: tuple[str, ...] = ()
    # Whether reported markers set aside the learned part's hits too, not only threats: true for
    # crisis, where a reported clause is someone else's words or thoughts ("he says he wants to die");
    # false for emergency, where "he texted that he is in my garden" is the danger itself.
    reported_frames_learned: bool = False
    # Whether a learned hit in a message of several sentences also needs the whole message, read as
    # one, to come near the threshold (WHOLE_MARGIN in bot/safety.py): true for crisis, where despair
    # colours a message ("i do not want to go to prison" in a story about an order is not it); false for
    # emergency, where "he is at the door" may be the one line of a long story that says so.
    learned_reads_whole: bool = False
    # The learned part (bot/escalation_model.py): situations that must fire, and near misses that must not.
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    # While the danger is remembered in a chat (conversation.danger_minutes), a short follow-up with no
    # confident intent gets ``follow_up`` first; one saying they cannot talk gets ``silent_answer``.
    follow_up: str = ""
    silent_phrases: tuple[str, ...] = ()
    silent_answer: str = ""
    buttons: tuple[Button, ...] = ()
    tests: tuple[str, ...] = ()  # phrases that must fire this escalation (run by `check`)
    not_tests: tuple[str, ...] = ()  # phrases that must not fire it (run by `check`)
    source: Source | None = None
    translations: Mapping[str, EscalationTranslation] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class OpeningHours:
    """When a phone line is staffed, in its own time zone, for the {<id>_status} placeholder."""

    id: str
    name: str
    timezone: str
    weekly: Mapping[int, tuple[tuple[time, time], ...]]  # weekday 0=Monday -> (open, close) spans
    closed_dates: frozenset[str]  # ISO dates (bank holidays)
    open_text: str  # may use {closes}
    closed_text: str  # may use {opens}
    source: Source | None = None
    # jurisdiction id -> its own closed_text: out of hours, each nation's own 24/7 lines
    closed_variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Response:
    """One of the bot's own lines (fallback, "Did you mean", erase notice ...), admin-editable."""

    id: str
    answer: str  # Telegram HTML with {placeholders}
    buttons: tuple[Button, ...] = ()
    source: Source | None = None
    variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # as Intent.variants
    translations: Mapping[str, ResponseTranslation] = field(default_factory=dict, hash=False)


# Responses the engine needs to serve; `check` insists on them for a served catalog.
REQUIRED_RESPONSES = ("fallback", "did_you_mean", "none_of_these")
# Responses channels use when present (each has a safe built-in line when absent).
OPTIONAL_RESPONSES = ("non_text", "slow_reply", "erased", "group_chat", "too_long", "missed_message",
                      "erase_confirm", "erase_kept", "where_are_you", "nation_chosen", "topic_again",
                      "in_english", "also_help")


@dataclass(frozen=True)
class MatcherSettings:
    """Decision thresholds of the matcher, on its 0-100 score scale."""

    # Defaults suit a catalog with no out-of-scope examples (measured on CLINC150 val); the
    # default catalog sets its own in intents/settings.yaml.
    threshold: float = 22.0  # accept the best intent at or above this score
    margin: float = 2.0  # ... when it leads the runner-up by at least this much
    suggest: float = 12.0  # below threshold but above this: offer "Did you mean" choices
    max_suggestions: int = 3
    # How steeply scores fall when a message has more words no example uses than the catalog predicts
    # (the power in Matcher._familiarity); 0 turns this off, for catalogs whose users name people and
    # places that examples never do.
    unknown_words: float = 3.0
    # Keys the catalog left out, to be chosen by the matcher from the catalog's own examples at load
    # (bot/calibration.py); empty when every value above is meant as given.
    auto: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Catalog:
    """Everything the bot serves, loaded and validated once; replaced whole on reload."""

    intents: tuple[Intent, ...]
    escalations: tuple[Escalation, ...] = ()
    hours: tuple[OpeningHours, ...] = ()
    responses: Mapping[str, Response] = field(default_factory=dict)
    out_of_scope: tuple[str, ...] = ()  # messages that must get the fallback (catalog-wide negatives)
    # Everyday messages that must never escalate ("this traffic is killing me"): negatives for every
    # escalation's learned part, kept apart from out_of_scope so the matcher is not taught them.
    everyday: tuple[str, ...] = ()
    settings: MatcherSettings = field(default_factory=MatcherSettings)
    # canonical words -> what people say instead ("police": ["cops", "the feds"]), for the matcher only
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def intent(self, intent_id: str) -> Intent | None:
        """The intent with this id, or None."""
        return self.by_id.get(intent_id)

    @property
    def by_id(self) -> Mapping[str, Intent]:
        """Intents keyed by id."""
        cached = self.__dict__.get("_by_id")
        if cached is None:
            cached = MappingProxyType({i.id: i for i in self.intents})
            object.__setattr__(self, "_by_id", cached)
        return cached

    def escalation(self, escalation_id: str) -> Escalation | None:
        """The escalation with this id, or None."""
        return next((e for e in self.escalations if e.id == escalation_id), None)
