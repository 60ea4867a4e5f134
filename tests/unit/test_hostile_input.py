"""Hostile input against the engine and the matcher: no exception, valid Telegram replies, bounded work.

Properties (hypothesis) feed arbitrary Unicode, invisible and bidi characters, control characters, emoji,
punctuation, long repeats and HTML/Markdown in user text. The engine never echoes what a person typed,
so every reply must be one the catalog itself renders; user markup can then never reach Telegram.
Speed goals live in benchmarks/: here the bound is asserted on the work done (the matcher's word cap),
and the escalation check must still see danger anywhere in a 100,000-character message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.console import render
from bot.engine import BUTTON_LABELS, ERASE_YES_LABELS, NONE_BUTTON_TEXT, Engine
from bot.htmltext import TELEGRAM_LIMIT, escape, text_length, to_plain, validate
from bot.jurisdiction import NATIONS
from bot.matcher import MAX_WORDS
from bot.turns import (
    ERASE,
    INTENT_PREFIX,
    KEEP,
    LANGUAGE_PREFIX,
    NATION_PREFIX,
    NONE_OF_THESE,
    WHERE_PREFIX,
    Incoming,
    Outcome,
    ReplyButton,
)
from tests.support.default import default_engine

# A fixed moment, so opening-hours lines render the same in every reply and in the reference set.
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
LONG = 100_000

# The invisible characters the issue names: zero-width, direction marks and embeddings, word joiners.
INVISIBLE = "".join(map(chr, [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065), 0xFEFF]))
# What bot.text removes before matching: the soft hyphen and every invisible formatting character.
REMOVED_INVISIBLE = "".join(map(chr, [0xAD, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065),
                                      *range(0x2066, 0x206A), 0xFEFF]))
WORDS = [
    "how do i report stalking ", "he is outside ", "help ", "privacy ", "/start ", "/emergency ", "/help@bot ",
    "kill ", "evidence ", "stalkng ", "HELPLINE ", "i'm ", "rn ", "999 ", "ok ", "/erase ", "none ",
]
MARKUP = [
    "<b>", "</b>", '<a href="https://evil.example/phish">', "</a>", "<i>", "<script>alert(1)</script>",
    "<br>", "&", "&amp;", "&lt;", "&#0;", "&nbsp;", "<", ">", "**bold**", "__under__", "`code`",
    "```pre```", "[tap](https://evil.example/md)", "<tg-spoiler>", "<pre>", '<span class="tg-spoiler">',
    "<blockquote expandable>", '<a href="javascript:alert(1)">', "</", "<b", "<<>>", "&#x110000;",
]
# Neutral sentences: none escalates alone; some carry past or reported framing on purpose.
NEUTRAL = [
    "the weather is nice today", "last year i moved to a new flat", "my friend said the film was good",
    "what time does the library open?", "i like tea with milk", "we used to go to the park every weekend",
    "the bus was late again", "thanks for the information", "can you tell me about keeping evidence",
    "i am writing this on my phone", "\U0001f642\U0001f642\U0001f642", "<b>bold</b> & more",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "he was at school with my brother",
]
# Danger sentences and the escalation each must raise, wherever it sits among neutral sentences.
DANGER = {
    "he is outside my house right now": "emergency",
    "hes outsdie my hosue": "emergency",
    "he is banging on my door": "emergency",
    "someone is trying to get in": "emergency",
    "help he is here": "emergency",
    "i want to end it all": "crisis",
    "i'll kill myself": "crisis",
    "im thinking about suicide": "crisis",
    "i cant go on": "crisis",
}
SEPARATORS = [". ", "! ", "? ", "; ", ".\n", "... ", ".  \t"]


@dataclass(frozen=True, repr=False)
class Reference:
    """Everything the catalog can send: reply HTML and buttons rendered at NOW."""

    html: frozenset[str]
    buttons: frozenset[ReplyButton]
    corpus: str  # all reference HTML joined, to tell catalog markup from echoed user markup

    def __repr__(self) -> str:
        return f"Reference({len(self.html)} replies, {len(self.buttons)} buttons)"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


@pytest.fixture(scope="module")
def reference(engine: Engine) -> Reference:
    html: set[str] = set()
    buttons: set[ReplyButton] = set()
    # what a chat in each language can be sent (a message read as Welsh is answered in Welsh)
    for language in ("en", "cy"):
        chat = f"reference-{language}"
        chosen = engine.respond(Incoming(button=LANGUAGE_PREFIX + language, now=NOW, chat=chat))
        snap = engine._snap.view(language)
        presses = [INTENT_PREFIX + i.id for i in snap.catalog.intents]
        presses += [INTENT_PREFIX + e.id for e in snap.catalog.escalations]
        presses += [NONE_OF_THESE, KEEP, "not a button", ERASE]
        # each nation's answers, its "answers for" notice and fallback, and the "Where are you in the UK?" choice
        presses += [f"{NATION_PREFIX}{n}{suffix}" for n in NATIONS for suffix in ("", ":not an intent")]
        presses += [f"{NATION_PREFIX}{n}:{i.id}" for n in NATIONS for i in snap.catalog.intents]
        presses += [WHERE_PREFIX + i.id for i in snap.catalog.intents] + [WHERE_PREFIX]
        outcomes = [chosen]
        for data in presses:  # chosen again before each: an erase forgets the chat's language
            engine.respond(Incoming(button=LANGUAGE_PREFIX + language, now=NOW, chat=chat))
            outcomes.append(engine.respond(Incoming(button=data, now=NOW, chat=chat)))
        engine.respond(Incoming(button=LANGUAGE_PREFIX + language, now=NOW, chat=chat))
        # the quick-exit intent's own answer is only sent when an escalation stops the erase
        stopped = engine.respond(Incoming(text="/erase help he is here", now=NOW, chat=chat))
        assert [r.ref for r in stopped.replies] == ["emergency", "erase_conversation"]
        outcomes.append(stopped)
        replies = [r for o in outcomes for r in o.replies]
        html |= {r.html for r in replies}
        html |= {engine.system_reply(name, NOW, chat).html for name in ("did_you_mean", "too_long", "also_help")}
        # a typed erase request is confirmed first; a remembered danger sends the short and silent answers
        confirm = engine.respond(Incoming(text="erase this chat", now=NOW, chat=chat)).replies[0]
        replies.append(confirm)
        html.add(confirm.html)
        # ... in the chat's language too, for a request the language detector reads as that language
        local_confirm = engine._erase_confirmation(snap, NOW)
        replies.append(local_confirm)
        html.add(local_confirm.html)
        for esc in snap.catalog.escalations:
            for template in (esc.follow_up, esc.silent_answer):
                if template:
                    html.add(engine._render(snap, template, esc.buttons, NOW, "escalation", esc.id).html)
        buttons |= {b for r in replies for b in r.buttons}
        # "Did you mean" offers any intent by its title, then "None of these"
        buttons |= {ReplyButton(i.title, data=INTENT_PREFIX + i.id) for i in snap.catalog.intents}
    buttons.add(ReplyButton(NONE_BUTTON_TEXT, data=NONE_OF_THESE))
    buttons.add(ReplyButton(BUTTON_LABELS["cy"][NONE_OF_THESE], data=NONE_OF_THESE))
    # the erase confirmation's buttons as a Welsh chat sees them
    buttons |= {ReplyButton(ERASE_YES_LABELS["cy"], data=ERASE), ReplyButton(BUTTON_LABELS["cy"][KEEP], data=KEEP)}
    corpus = [*html, *(b.url or "" for b in buttons), *(b.text for b in buttons)]
    return Reference(frozenset(html), frozenset(buttons), "\n".join(sorted(corpus)))


def assert_sendable(outcome: Outcome) -> None:
    """At least one reply; each is Telegram-valid HTML within the limit, with valid buttons; escalations first."""
    assert outcome.replies, "every message gets an answer"
    for reply in outcome.replies:
        assert validate(reply.html) == [], reply.html
        assert 0 < text_length(reply.html) <= TELEGRAM_LIMIT
        assert to_plain(reply.html).strip()
        for button in reply.buttons:
            assert button.text.strip()
            assert (button.data is None) != (button.url is None)
            if button.data is not None:
                assert 1 <= len(button.data.encode("utf-8")) <= 64, button.data
            else:
                assert button.url is not None and button.url.startswith("https://"), button.url
    kinds = [(r.kind, r.ref) for r in outcome.replies[: len(outcome.escalations)]]
    assert kinds == [("escalation", e) for e in outcome.escalations]


def assert_from_catalog(outcome: Outcome, reference: Reference) -> None:
    """Every reply and button is one the catalog renders itself: nothing the person typed is echoed."""
    for reply in outcome.replies:
        assert reply.html in reference.html, reply.html
        assert set(reply.buttons) <= reference.buttons, reply.buttons


def respond(engine: Engine, text: str) -> Outcome:
    """The engine's answer to typed text at NOW."""
    return engine.respond(Incoming(text=text, now=NOW))


# --- strategies ----------------------------------------------------------------------------------

def _joined(*parts: st.SearchStrategy[str], max_size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(*parts), max_size=max_size).map("".join)


any_text = st.text(max_size=300)  # every category hypothesis generates (surrogates are excluded)
invisible = _joined(st.sampled_from(list(INVISIBLE)), st.sampled_from(WORDS))
controls = st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]), max_size=200)
emoji_only = st.lists(  # pictographs, with joiners, variation selectors, skin tones and flags
    st.one_of(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
              st.sampled_from(["\u200d", "\ufe0f", "\U0001f3fd", "\U0001f1ec\U0001f1e7", "\u2764"])),
    min_size=1, max_size=100,
).map("".join)
punctuation_only = st.text(st.characters(categories=["P", "S"]), min_size=1, max_size=200)
# Up to ~8,000 characters: longer repeats are covered by the explicit 100,000-character tests.
long_repeats = st.builds(lambda unit, n: unit * n, st.text(min_size=1, max_size=12), st.integers(100, 650))
markup = _joined(st.sampled_from(MARKUP), st.sampled_from(WORDS), st.text(max_size=4), max_size=20)
hostile_text = st.one_of(any_text, invisible, controls, emoji_only, punctuation_only, long_repeats, markup,
                         _joined(any_text, invisible, emoji_only, markup, max_size=6))
button_data = st.one_of(
    st.text(max_size=100),
    st.text(max_size=98).map(INTENT_PREFIX.__add__),
    st.sampled_from(["", "i:", "none", "erase", "i:emergency", "i:crisis", "i:erase_conversation", "i:menu",
                     "I:menu", "i: menu", "i:menu\x00", "i:" + "a" * 98]),
)


def budget(examples: int) -> settings:
    """A fixed number of examples and no per-example deadline: the machine is shared and loaded."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- properties ----------------------------------------------------------------------------------

@budget(500)
@given(text=hostile_text)
def test_any_text_gets_sendable_replies_from_the_catalog(engine: Engine, reference: Reference, text: str) -> None:
    outcome = respond(engine, text)
    assert_sendable(outcome)
    assert_from_catalog(outcome, reference)


@budget(300)
@given(text=markup)
def test_markup_in_user_text_never_becomes_markup(engine: Engine, reference: Reference, text: str) -> None:
    outcome = respond(engine, text)
    assert_sendable(outcome)
    assert_from_catalog(outcome, reference)
    sent = [r.html for r in outcome.replies] + [b.url or "" for r in outcome.replies for b in r.buttons]
    assert not any("evil.example" in s or "javascript:" in s for s in sent)
    if ("<" in text or "&" in text) and text.strip() not in reference.corpus:
        assert not any(text.strip() in s for s in sent)
    console = io.StringIO()
    render(outcome, console, explain=True)
    assert "evil.example" not in console.getvalue()


@budget(300)
@given(text=st.one_of(hostile_text, st.text(st.sampled_from("<>&;/\"'=ab #x0"), max_size=200)))
def test_plain_text_rendering_never_raises_and_escaped_text_reads_back(text: str) -> None:
    to_plain(text)  # invalid HTML included, it must not raise: the console shows whatever it gets
    assert validate(escape(text)) == []
    assert to_plain(escape(text)) == text


@budget(300)
@given(data=button_data)
def test_any_button_data_gets_sendable_replies(engine: Engine, reference: Reference, data: str) -> None:
    outcome = engine.respond(Incoming(button=data, now=NOW))
    assert_sendable(outcome)
    assert_from_catalog(outcome, reference)


@budget(500)
@given(text=hostile_text)
def test_matcher_scores_are_bounded_and_ranked(engine: Engine, text: str) -> None:
    match = engine.matcher.match(text)
    assert match.layer in ("exact", "fuzzy", "empty", "none")
    assert 0.0 <= match.score <= 100.0
    scores = [c.score for c in match.candidates]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert match.score == (scores[0] if scores else 0.0)
    assert len(match.normalised.split()) <= MAX_WORDS
    known = {i.id for i in engine.catalog.intents}
    assert match.intent is None or match.intent in known
    assert set(match.suggestions) <= known
    assert not (match.intent and match.suggestions)


@budget(200)
@given(
    fillers=st.lists(st.sampled_from(NEUTRAL), max_size=25),
    danger=st.sampled_from(sorted(DANGER)),
    where=st.integers(min_value=0),
    sep=st.sampled_from(SEPARATORS),
)
def test_danger_is_found_wherever_it_sits_among_neutral_sentences(
    engine: Engine, fillers: list[str], danger: str, where: int, sep: str
) -> None:
    at = where % (len(fillers) + 1)
    text = sep.join([*fillers[:at], danger, *fillers[at:]])
    outcome = respond(engine, text)
    assert outcome.escalations == (DANGER[danger],)
    assert outcome.replies[0].kind == "escalation" and outcome.replies[0].ref == DANGER[danger]
    assert respond(engine, sep.join([*reversed(fillers), danger])).escalations == outcome.escalations
    assert respond(engine, text).escalations == outcome.escalations  # deterministic


@budget(200)
@given(danger=st.sampled_from(sorted(DANGER)), inserts=st.lists(
    st.tuples(st.integers(min_value=0), st.text(st.sampled_from(list(REMOVED_INVISIBLE)), min_size=1, max_size=3)),
    min_size=1, max_size=6,
))
def test_invisible_characters_inside_danger_do_not_hide_it(
    engine: Engine, danger: str, inserts: list[tuple[int, str]]
) -> None:
    text = danger
    for where, chars in inserts:
        at = where % (len(text) + 1)
        text = text[:at] + chars + text[at:]
    assert respond(engine, text).escalations == (DANGER[danger],)


@budget(300)
@given(data=st.data())
def test_invisible_characters_case_and_curly_apostrophes_do_not_change_the_match(
    engine: Engine, data: st.DataObject
) -> None:
    example = data.draw(st.sampled_from(sorted({e for i in engine.catalog.intents for e in i.examples})))
    text = example.upper() if data.draw(st.booleans()) else example
    text = text.replace("'", "\u2019")
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(list(REMOVED_INVISIBLE))) + text[at:]
    plain, decorated = engine.matcher.match(example), engine.matcher.match(text)
    assert (decorated.normalised, decorated.intent, decorated.score) == (plain.normalised, plain.intent, plain.score)
    assert respond(engine, text).escalations == respond(engine, example).escalations


def test_neutral_sentences_escalate_nothing(engine: Engine) -> None:
    """The premise of the filler tests: no neutral sentence escalates, alone or all together."""
    for sentence in [*NEUTRAL, ". ".join(NEUTRAL), "ok"]:
        assert respond(engine, sentence).escalations == (), sentence


# --- bounded work on 100,000 characters --------------------------------------------------------------

LONG_CONTENT = {
    "words": ("how do i report stalking to the police ", True),
    "typos": ("stlaking reprot polcie evidnece ", True),
    "zero_width": ("st\u200balk\u200ding evi\u2060dence\u200d\ufeff ", True),
    "rtl": ("\u202e\u0645\u0631\u062d\u0628\u0627 privacy\u202c \u200fkeep evidence ", True),
    "html": ('<b>bold</b> <a href="https://evil.example/x">tap</a> &amp; ', True),
    "emoji": ("\U0001f600\U0001f648\u2764\ufe0f ", False),
    "punctuation": ("?!...,;:()[]{}-- ", False),
}


@pytest.mark.parametrize("name", sorted(LONG_CONTENT))
def test_100k_message_is_answered_and_the_matcher_reads_a_bounded_prefix(
    engine: Engine, reference: Reference, name: str
) -> None:
    unit, has_words = LONG_CONTENT[name]
    text = unit * (LONG // len(unit) + 1)
    assert len(text) >= LONG
    outcome = respond(engine, text)
    assert_sendable(outcome)
    assert_from_catalog(outcome, reference)
    examined = len(engine.matcher.match(text).normalised.split())
    assert examined == (MAX_WORDS if has_words else 0)


PROSE = [  # ordinary sentences of ~100 characters: 100,000 characters are ~1,000 sentences
    "I have been reading about the history of the town library and the families who paid for its roof",
    "On Saturdays the market by the river sells bread, cheese, flowers and second hand books for a pound",
    "My sister is learning to play the piano and practises scales for an hour before she goes to work",
]
FILLERS = {
    "prose": (PROSE, ". "),
    "run_on": (["and then we walked along the canal towards the shops"], " "),  # one sentence, no stops
    "chat": (["ok"], ". "),  # 25,000 one-word sentences
}
# 25,000 sentences take the detector about a second each (ten times prose or run_on): those cases are
# slow, and the quick loop keeps the same properties on the other fillers.
SLOW_FILLER = "chat"


def _marks(filler: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if filler == SLOW_FILLER else []


def _long_message(units: list[str], sep: str, danger: str, where: str) -> str:
    """At least 100,000 characters of neutral units joined by sep, with danger at the start, middle or end."""
    pieces = [units[i % len(units)] for i in range(LONG // (min(map(len, units)) + len(sep)) + 1)]
    at = {"start": 0, "middle": len(pieces) // 2, "end": len(pieces)}[where]
    text = sep.join([*pieces[:at], danger, *pieces[at:]])
    assert len(text) >= LONG
    return text


def _danger_cases() -> list[Any]:
    cases = []
    for filler in FILLERS:
        for danger in ("he is outside my house right now", "i want to end it all"):
            for where in ("start", "middle", "end"):
                cases.append(pytest.param(filler, danger, where, marks=_marks(filler),
                                          id=f"{filler}-{DANGER[danger]}-{where}"))
    return cases


@pytest.mark.parametrize(("filler", "danger", "where"), _danger_cases())
def test_danger_anywhere_in_100k_characters_escalates(engine: Engine, filler: str, danger: str, where: str) -> None:
    units, sep = FILLERS[filler]
    text = _long_message(units, sep, danger, where)
    outcome = respond(engine, text)
    assert_sendable(outcome)
    assert outcome.escalations == (DANGER[danger],)
    assert len(engine.matcher.match(text).normalised.split()) <= MAX_WORDS


@pytest.mark.parametrize("filler", [pytest.param(f, marks=_marks(f)) for f in sorted(FILLERS)])
def test_100k_of_neutral_filler_escalates_nothing(engine: Engine, filler: str) -> None:
    units, sep = FILLERS[filler]
    text = sep.join(units[i % len(units)] for i in range(LONG // (min(map(len, units)) + len(sep)) + 1))
    assert respond(engine, text).escalations == ()


# --- bugs these properties found, kept as regression tests with their minimal inputs -------------------

def test_danger_after_2000_short_sentences_escalates(engine: Engine) -> None:
    text = ". " * 2000 + "he is outside my house"
    assert len(text) <= TELEGRAM_LIMIT
    assert respond(engine, text).escalations == ("emergency",)


def test_an_intent_button_press_is_recorded_as_a_button(engine: Engine) -> None:
    assert engine.respond(Incoming(button="i:menu", now=NOW)).button == "i:menu"


def test_a_new_line_starts_a_new_sentence_for_the_escalation_check(engine: Engine) -> None:
    assert respond(engine, "last year i moved house\nhe is outside my house").escalations == ("emergency",)


@pytest.mark.parametrize("char", ["\u2061", "\u2062", "\u2063", "\u2064", "\u2066", "\u2067", "\u2068", "\u2069"],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_other_invisible_characters_inside_a_word_do_not_hide_danger(engine: Engine, char: str) -> None:
    assert respond(engine, f"he is out{char}side my house right now").escalations == ("emergency",)


def test_a_long_sentence_of_repeated_help_is_answered(engine: Engine) -> None:
    # once quadratic in an escalation pattern (17 s); the pattern now bounds its gap
    assert_sendable(respond(engine, "help " * (LONG // 5)))


def test_a_long_run_of_whitespace_is_answered(engine: Engine) -> None:
    # once quadratic in sentence splitting (about a minute); the split is now linear
    text = "help " + " " * LONG + "he is outside my house right now"
    assert respond(engine, text).escalations == ("emergency",)
