"""A catalog as a chat in another language sees it: each answer, title and line in that language.

The engine renders from one of these views instead of the English catalog; matching and the
escalation check are the same for every language (they learn every language's examples), so only
what is shown changes. An answer with no translation is served in English under the catalog's
``in_english`` notice in that language ("this answer is in English; Live Fear Free answers in Welsh"),
so a person is never left guessing why the bot changed language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from bot.catalog.schema import Button, Catalog, Escalation, Intent, Response
from bot.language import in_language

NOTICE = "in_english"  # the response whose translation says an answer is in English


def languages(catalog: Catalog) -> tuple[str, ...]:
    """The language codes any part of the catalog is translated into."""
    found: set[str] = set()
    for group in (catalog.intents, catalog.escalations, tuple(catalog.responses.values())):
        for item in group:
            found.update(item.translations)
    return tuple(sorted(found))


def examples_in(catalog: Catalog, language: str) -> Catalog | None:
    """The intents with only their examples in ``language``, for that language's own matcher (None: no examples).

    A language gets a matcher of its own rather than sharing the English one, so that its examples
    neither dilute the English intents' word weights nor compete with them; its everyday lines (told
    apart by the language detector) are its out-of-scope messages.
    """
    intents = tuple(replace(i, examples=t.examples, negative_examples=(), keywords=(), tests=(), translations={})
                    for i in catalog.intents if (t := i.translations.get(language)) is not None and t.examples)
    if not intents:
        return None
    none = in_language(catalog.everyday, language)
    return replace(catalog, intents=intents, escalations=(), out_of_scope=none, everyday=())


def localized(catalog: Catalog, language: str) -> Catalog:
    """The catalog with ``language``'s texts in place of the English ones where they exist."""
    notice_response = catalog.responses.get(NOTICE)
    notice_text = notice_response.translations.get(language) if notice_response is not None else None
    notice = notice_text.answer if notice_text is not None else ""

    def english(answer: str) -> str:
        return f"{notice.strip()}\n\n{answer}" if notice and answer else answer

    titles = {i.id: t.title for i in catalog.intents if (t := i.translations.get(language)) and t.title}

    def buttons(items: tuple[Button, ...]) -> tuple[Button, ...]:
        return tuple(replace(b, text=titles[b.intent]) if b.intent in titles else b for b in items)

    def intent(i: Intent) -> Intent:
        t = i.translations.get(language)
        answer = t.answer if t is not None and t.answer else english(i.answer)
        return replace(i, title=titles.get(i.id, i.title), answer=answer, buttons=buttons(i.buttons))

    def escalation(e: Escalation) -> Escalation:
        t = e.translations.get(language)
        if t is None:
            return replace(e, answer=english(e.answer), follow_up=english(e.follow_up),
                           silent_answer=english(e.silent_answer), buttons=buttons(e.buttons))
        return replace(e, answer=t.answer, follow_up=t.follow_up,
                       silent_answer=t.silent_answer or (english(e.silent_answer) if e.silent_answer else ""),
                       buttons=buttons(e.buttons))

    def response(r: Response) -> Response:
        t = r.translations.get(language)
        return replace(r, answer=t.answer if t is not None else english(r.answer), buttons=buttons(r.buttons))

    responses: Mapping[str, Response] = MappingProxyType({k: response(r) for k, r in catalog.responses.items()})
    return replace(catalog, intents=tuple(intent(i) for i in catalog.intents),
                   escalations=tuple(escalation(e) for e in catalog.escalations), responses=responses)
