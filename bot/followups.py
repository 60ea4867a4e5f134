"""Which of an intent's follow-ups (short sub-answers, intents/*.yaml ``follow_ups:``) a message asks for.

"is it free" or "how long does it take" names no topic: the main matcher cannot place it and should
not guess. Within a remembered topic the choice is between a handful of sub-answers, so a fuzzy
comparison of the normalised message with each follow-up's examples is enough, at microseconds a
message. The engine decides when to ask (bot/engine.py); this module only scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.catalog.schema import Catalog, FollowUp
from bot.text import normalise

# rapidfuzz scores (0-100) of the message against a follow-up's nearest example:
ACCEPT = 78.0  # answers within the remembered topic when the message has no confident intent of its own
DIRECT = 90.0  # answers even a message the matcher gave an intent (the topic's own, or any when short)
SHORT_WORDS = 8  # up to this many words a message may be a follow-up although it matched some intent


@dataclass(frozen=True)
class FollowUpHit:
    """The best follow-up of one intent for a message."""

    intent: str
    follow_up: FollowUp
    score: float
    example: str


class FollowUpMatcher:
    """Every intent's follow-up examples, normalised once at load."""

    def __init__(self, catalog: Catalog) -> None:
        self._examples: Mapping[str, tuple[tuple[str, str, FollowUp], ...]] = {
            intent.id: tuple((normalise(ex), ex, f) for f in intent.follow_ups for ex in f.examples)
            for intent in catalog.intents if intent.follow_ups
        }

    def has(self, intent_id: str | None) -> bool:
        """Whether the intent has follow-ups."""
        return intent_id is not None and intent_id in self._examples

    def match(self, intent_id: str, text: str, *, exclude: str | None = None) -> FollowUpHit | None:
        """The intent's follow-up nearest to the message (whatever its score), leaving out ``exclude``."""
        examples = self._examples.get(intent_id)
        query = normalise(text)
        if not examples or not query:
            return None
        best: FollowUpHit | None = None
        for norm, example, follow_up in examples:
            if follow_up.id == exclude:
                continue
            # word order varies in short questions ("free is it?"): take the better of the two views
            score = max(fuzz.ratio(query, norm), fuzz.token_sort_ratio(query, norm))
            if best is None or score > best.score:
                best = FollowUpHit(intent_id, follow_up, score, example)
        return best
