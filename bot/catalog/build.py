"""Building the immutable Catalog from what was read, each part only once its rules pass.

The rules of bot/catalog/rules.py run here in a fixed order, so a broken answer leaves out its own
intent, never the whole catalog, and every problem is still reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bot.catalog import rules
from bot.catalog.entries import AUTO_SETTINGS, TRANSLATED_LISTS, Entry, Found, title_from_id
from bot.catalog.problems import Problems
from bot.catalog.schema import (
    Button,
    Catalog,
    Escalation,
    EscalationTranslation,
    FollowUp,
    Intent,
    IntentTranslation,
    MatcherSettings,
    Response,
    ResponseTranslation,
)


def build(found: Found, problems: Problems, for_serving: bool) -> tuple[Catalog, Mapping[str, str]]:
    """The Catalog of every valid part, and each example's normalised form (for the confusable check)."""
    intent_by_id = rules.unique_ids(problems, found.intents, "intent")
    escalation_by_id = rules.unique_ids(problems, found.escalations, "escalation")
    response_by_id = rules.unique_ids(problems, found.responses, "response")
    hours_by_id = rules.unique_hours(problems, found)
    values = rules.placeholders_of(found.service, hours_by_id.values())
    rules.status_texts(problems, found, values)
    normalised: dict[str, str] = {}
    rules.unique_examples(problems, intent_by_id, normalised)
    builder = _Builder(problems, intent_by_id, values)
    intents = [builder.intent(e) for e in intent_by_id.values()]
    escalations = [builder.escalation(e) for e in escalation_by_id.values()]
    responses = {name: builder.response(e) for name, e in response_by_id.items()}
    rules.reachable(problems, intent_by_id, found.intents + found.escalations + found.responses)
    rules.servable(problems, found, escalation_by_id, response_by_id, for_serving)
    synonyms = rules.synonyms(problems, found, intent_by_id)
    catalog = Catalog(
        intents=tuple(i for i in intents if i is not None),
        escalations=tuple(e for e in escalations if e is not None),
        hours=tuple(hours_by_id.values()),
        responses=MappingProxyType({k: v for k, v in responses.items() if v is not None}),
        out_of_scope=tuple(t.value for t in found.out_of_scope),
        everyday=tuple(t.value for t in found.everyday),
        settings=found.settings or MatcherSettings(auto=frozenset(AUTO_SETTINGS)),
        synonyms=MappingProxyType(synonyms),
    )
    return catalog, MappingProxyType(normalised)


class _Builder:
    """Builds each entry's schema object from its checked parts; None when one of them is broken."""

    def __init__(self, problems: Problems, intent_by_id: Mapping[str, Entry], values: rules.Placeholders) -> None:
        self.problems = problems
        self.intent_by_id = intent_by_id
        self.values = values

    def answer(self, e: Entry, name: str = "answer") -> str | None:
        """The entry's answer (or another of its templates) when it can be served."""
        return rules.answer(self.problems.file(e.file), e.fields.get(name), self.values, name)

    def buttons(self, e: Entry) -> tuple[Button, ...]:
        """The entry's buttons that lead somewhere; an intent button is labelled with its intent's title."""
        report = self.problems.file(e.file)
        out: list[Button] = []
        for b in e.buttons:
            if not rules.button(report, b, self.intent_by_id, self.values):
                continue
            if b.intent is not None:
                target = self.intent_by_id[b.intent.value]
                title = target.fields.get("title")
                text = b.text.value if b.text else (title.value if title else title_from_id(target.id.value))
                out.append(Button(text, intent=b.intent.value))
            elif b.url is not None and b.text is not None:
                out.append(Button(b.text.value, url=b.url.value))
        return tuple(out)

    def variants(self, e: Entry) -> Mapping[str, str] | None:
        """Each variant checked like an answer, and every one an England-and-Wales-only answer needs; None on error."""
        report, ok = self.problems.file(e.file), True
        out: dict[str, str] = {}
        for name, text in e.fields.get("variants", {}).items():
            e.fields[f"variants.{name}"] = text
            checked = self.answer(e, f"variants.{name}")
            if checked is None:
                ok = False
                continue
            out[name] = checked
            rules.variant_differs(report, name, text, checked, e.fields.get("answer"))
        ok = rules.law_has_variants(report, e) and ok
        return MappingProxyType(out) if ok else None

    def translated(self, e: Entry) -> dict[str, dict[str, Any]]:
        """Each language's checked texts: answers as served (or "" when broken), lists as plain strings."""
        report = self.problems.file(e.file)
        out: dict[str, dict[str, Any]] = {}
        for code, texts in e.fields.get("translations", {}).items():
            values: dict[str, Any] = {}
            for name, text in texts.items():
                if name in TRANSLATED_LISTS:
                    values[name] = tuple(t.value for t in text)
                elif name == "title":
                    values[name] = text.value if text is not None else ""
                else:
                    values[name] = rules.answer(report, text, self.values, f"translations.{code}.{name}") or ""
            out[code] = values
        return out

    def follow_up(self, e: Entry) -> FollowUp | None:
        """A follow-up of an intent, with its own answer, examples and buttons."""
        answer = self.answer(e)
        buttons = self.buttons(e)
        title = e.fields["title"]
        if answer is None or title is None or not e.fields["examples"]:
            return None
        return FollowUp(e.id.value, title.value, tuple(t.value for t in e.fields["examples"]), answer, buttons,
                        tuple(t.value for t in e.fields["tests"]), e.source())

    def intent(self, e: Entry) -> Intent | None:
        """An intent, with its variants, follow-ups and translations."""
        answer = self.answer(e)
        buttons = self.buttons(e)
        variants = self.variants(e)
        follow_ups = [self.follow_up(f) for f in e.follow_ups]
        if answer is None or variants is None or not e.fields["examples"]:
            return None
        title = e.fields["title"]
        return Intent(
            id=e.id.value,
            title=title.value if title else title_from_id(e.id.value),
            examples=tuple(t.value for t in e.fields["examples"]),
            answer=answer,
            keywords=tuple(t.value for t in e.fields["keywords"]),
            negative_examples=tuple(t.value for t in e.fields["negative_examples"]),
            buttons=buttons,
            tests=tuple(t.value for t in e.fields["tests"]),
            source=e.source(),
            variants=variants,
            follow_ups=tuple(f for f in follow_ups if f is not None),
            translations=MappingProxyType({c: IntentTranslation(**v) for c, v in self.translated(e).items()}),
        )

    def escalation(self, e: Entry) -> Escalation | None:
        """An escalation, with its rules, learned examples and translations."""
        answer = self.answer(e)
        buttons = self.buttons(e)
        if answer is None:
            return None
        title = e.fields["title"]

        def values(name: str) -> tuple[str, ...]:
            return tuple(t.value for t in e.fields[name])

        follow_up = self.answer(e, "follow_up") or ""
        silent_answer = self.answer(e, "silent_answer") or ""
        return Escalation(
            id=e.id.value, title=title.value if title else title_from_id(e.id.value), answer=answer,
            follow_up=follow_up, silent_phrases=values("silent_phrases"), silent_answer=silent_answer,
            phrases=values("phrases"), threats=values("threats"), patterns=values("patterns"),
            past_markers=values("past_markers"), examples=values("examples"),
            negative_examples=values("negative_examples"),
            reported_markers=values("reported_markers"), present_markers=values("present_markers"),
            reported_frames_learned=e.fields["reported_frames_learned"],
            learned_reads_whole=e.fields["learned_reads_whole"],
            buttons=buttons, tests=values("tests"), not_tests=values("not_tests"), source=e.source(),
            translations=MappingProxyType({c: EscalationTranslation(**v) for c, v in self.translated(e).items()}),
        )

    def response(self, e: Entry) -> Response | None:
        """One of the bot's own responses (fallback, did_you_mean ...), with its variants and translations."""
        answer = self.answer(e)
        buttons = self.buttons(e)
        variants = self.variants(e)
        if answer is None or variants is None:
            return None
        translations = MappingProxyType({c: ResponseTranslation(**v) for c, v in self.translated(e).items()})
        return Response(e.id.value, answer, buttons, e.source(), variants=variants, translations=translations)
