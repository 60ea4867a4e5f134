"""Normalisation, spelling correction and the matcher's layers and decision rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.catalog.schema import Catalog, Intent, MatcherSettings
from bot.matcher import Candidate, Matcher, decide, explain
from bot.text import Speller, normalise, sentences, stem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("He\u2019s OUTSIDE my house rn!!", "he is outside my house right now"),
        ("hes outside", "he is outside"),
        ("I can't go on", "i can not go on"),
        ("whats 101 for", "what is 101 for"),
        ("my mum's car", "my mum car"),
        ("best alarm for a bike shed", "best alarm for a bike shed"),
        ("\u200bhelp\u202e he is here", "help he is here"),
        ("ｈｅｌｌｏ", "hello"),
        ("u ok? pls reply", "you okay please reply"),
        ("", ""),
        ("???", ""),
        # a key held down: each run becomes the commoner word of one letter or two
        ("hes hereee HEEELP", "he is here help"),
        ("pleeease its sooo goooood", "please its so good"),
        ("plsss", "please"),
        ("chapter xiii, xxx", "chapter xiii xxx"),  # the word list's own triples stay
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_sentences_split_on_punctuation_and_newlines() -> None:
    assert len(sentences("one. two! three?\nfour")) == 4
    assert sentences("") == [""]


def test_sentences_split_where_one_runs_into_the_next() -> None:
    assert sentences("I found the place.Next I get the rope") == ["i found the place.", "next i get the rope"]
    # abbreviations and web addresses have no capitalised word right after the stop
    assert len(sentences("see ring.com or e.g.this for it, or Amazon.co.uk")) == 1


def test_stem_unifies_forms() -> None:
    assert stem("stalking") == stem("stalked") == stem("stalks") == "stalk"
    assert stem("messages") == stem("messaging") == stem("message")


def test_speller_corrects_typos_and_keeps_known_words() -> None:
    sp = Speller({"outside": 3, "house": 2, "hose": 1, "following": 1})
    assert sp.correct("outsdie") == "outside"
    assert sp.correct("hosue") == "house"  # a swap is one edit
    assert sp.correct("folowing") == "following"
    assert sp.correct("hose") == "hose"
    assert sp.correct("zebra") == "zebra"
    assert sp.correct("abc") == "abc"  # too short to correct safely


def test_a_rare_non_word_the_vocabulary_holds_is_read_as_the_far_commoner_word_it_misspells() -> None:
    sp = Speller({"help": 100, "hlep": 1, "whatsapp": 2, "whatsap": 1, "snapchat": 40, "snapchta": 3})
    assert sp.correct("hlep") == "help"  # kept by an example on purpose, still a typo of "help"
    assert sp.correct("whatsap") == "whatsap"  # not 20 times rarer than its neighbour: left alone
    assert sp.correct("help") == "help" and sp.correct("whatsapp") == "whatsapp"
    assert Speller({"hlep": 1}).correct("hlep") == "hlep"  # nothing commoner near it


def test_short_words_are_corrected_for_swapped_letters_only() -> None:
    sp = Speller({"how": 5, "who": 3, "my": 4, "yes": 2, "is": 6, "it": 5})
    assert [sp.correct(w) for w in ("hwo", "ym", "yse", "si", "ti")] == ["how", "my", "yes", "is", "it"]
    assert sp.correct("woh") == "who"
    assert sp.correct("hoq") == "hoq"  # a substitution in a short word could be anything: left alone
    assert sp.correct("ys") == "ys"  # and so is a dropped letter


def _catalog(**settings: Any) -> Catalog:
    intents = (
        Intent("report", "Report", ("how do i report stalking", "report to police", "can i report him online"), "a"),
        Intent("evidence", "Evidence", ("should i keep a diary", "keep screenshots as evidence",
                                        "what evidence do i need"), "b"),
        Intent("greeting", "Hi", ("hello", "hi there"), "c"),
    )
    return Catalog(intents=intents, out_of_scope=("report a pothole", "lost dog"),
                   settings=replace(MatcherSettings(), **settings))


def test_exact_layer() -> None:
    m = Matcher(_catalog()).match("Hello!")
    assert (m.intent, m.layer, m.score) == ("greeting", "exact", 100.0)


def test_fuzzy_layer_with_typos() -> None:
    m = Matcher(_catalog()).match("how do i reprot stalkng")
    assert m.intent == "report"
    assert m.layer == "fuzzy"
    assert ("reprot", "report") in m.corrections


def test_out_of_scope_gets_the_fallback() -> None:
    m = Matcher(_catalog()).match("how do i report a pothole on my road")
    assert m.intent is None
    assert m.candidates[0].intent is None


def test_empty_and_punctuation_only() -> None:
    matcher = Matcher(_catalog())
    for text in ("", "   ", "?!?!", "\u200b"):
        m = matcher.match(text)
        assert m.intent is None and m.layer == "empty"


def test_long_story_is_bounded_and_still_matches() -> None:
    story = "it started months ago. " * 2000 + "should i keep a diary of it all"
    m = Matcher(_catalog()).match(story)
    assert m.layer in ("fuzzy", "none")


def test_decide_threshold_margin_and_suggestions() -> None:
    s = MatcherSettings(threshold=50, margin=5, suggest=30, max_suggestions=2)
    assert decide([Candidate("a", 70, ""), Candidate("b", 40, "")], s) == ("a", ())
    assert decide([Candidate("a", 70, ""), Candidate("b", 68, "")], s) == (None, ("a", "b"))
    assert decide([Candidate("a", 45, ""), Candidate("b", 20, "")], s) == (None, ("a",))
    assert decide([Candidate("a", 20, "")], s) == (None, ())
    assert decide([Candidate(None, 90, ""), Candidate("a", 60, "")], s) == (None, ())
    assert decide([], s) == (None, ())
    three = [Candidate("a", 48, ""), Candidate("b", 47, ""), Candidate("c", 46, "")]
    assert decide(three, s) == (None, ("a", "b"))


def test_a_lead_equal_to_the_margin_passes_despite_float_subtraction() -> None:
    assert 50.0 - 44.1 < 5.9  # what the comparison must survive
    s = MatcherSettings(threshold=50, margin=5.9, suggest=30)
    assert decide([Candidate("a", 50.0, ""), Candidate("b", 44.1, "")], s) == ("a", ())
    assert decide([Candidate("a", 50.0, ""), Candidate("b", 44.2, "")], s) == (None, ("a", "b"))


def test_explain_names_layer_score_runner_up_and_example() -> None:
    m = Matcher(_catalog()).match("shuold i keep a diary")
    text = "\n".join(explain(m))
    assert "layer: fuzzy" in text
    assert "evidence" in text and "should i keep a diary" in text
    assert "2." in text  # the runner-up is shown


def test_duplicate_example_across_intents_is_not_an_exact_match() -> None:
    intents = (Intent("a", "A", ("same words", "alpha one"), "x"), Intent("b", "B", ("same words", "beta two"), "y"))
    m = Matcher(Catalog(intents=intents)).match("same words")
    assert m.layer == "fuzzy"


def test_batches_score_exactly_like_single_messages() -> None:
    from tests.support.default import default_snapshot

    matcher = default_snapshot().matcher
    assert matcher.examples.head.shape[0] > 0  # common words take the dense path in big batches
    texts = [
        "he keeps following me home from work",
        "how do i report him to the police",
        "he posted private photos of me online",
        "can i get a protection order",
        "what should i write down as evidence",
        "my ex keeps messaging me from new numbers",
        "is this stalking or am i overreacting",
        "where can i buy a new bike",
        "who can i talk to about this",
        "he turned up at my work again today",
    ] * 4  # 40 messages: more than DENSE_BATCH, so the batch takes the dense block
    together = matcher.match_many(texts)
    alone = [matcher.match(t) for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert (a.intent, a.suggestions, a.layer) == (b.intent, b.suggestions, b.layer)
        assert [(c.intent, c.example) for c in a.candidates] == [(c.intent, c.example) for c in b.candidates]
        assert [c.score for c in a.candidates] == pytest.approx([c.score for c in b.candidates], abs=0.11)


def test_a_catalog_of_one_intent_still_loads_and_matches() -> None:
    one = Catalog(intents=(Intent("report", "Report", ("how do i report stalking", "report to police"), "a"),))
    m = Matcher(one).match("how can i report him")
    assert m.candidates[0].intent == "report"


def _repetitive_catalog(**settings: Any) -> Catalog:
    """Examples that reuse their words: of 44 word occurrences, only "online" and "need" (4+ letters) occur once."""
    return Catalog(settings=replace(MatcherSettings(), **settings), intents=(
        Intent("report", "Report", ("how do i report stalking", "how do i report him to the police",
                                    "report stalking to the police", "how can i report stalking online"), "a"),
        Intent("evidence", "Evidence", ("what evidence do i need", "how do i keep evidence",
                                        "keep evidence of the stalking", "what evidence can i keep"), "b"),
    ))


def test_expected_share_of_unknown_words_is_the_catalogs_good_turing_estimate() -> None:
    assert Matcher(_repetitive_catalog()).expected_unknown == pytest.approx(2 / 44)
    # a catalog whose every word is new predicts that users' words will often be new too
    assert Matcher(_catalog()).expected_unknown > 0.3


def test_unknown_words_scale_every_score_down_and_are_explained() -> None:
    text = "what evidence do i need for the tribunal hearing"
    m = Matcher(_repetitive_catalog()).match(text)
    assert m.unknown == ("tribunal", "hearing")
    # 2 of 9 words unknown, against 1 in 22 expected, to the default power
    assert m.familiarity == pytest.approx(((1 - 2 / 9) / (1 - 2 / 44)) ** 3)
    assert "unknown words: tribunal, hearing; scores x 0.54" in explain(m)
    gentler = Matcher(_repetitive_catalog(unknown_words=1)).match(text)
    assert gentler.familiarity == pytest.approx((1 - 2 / 9) / (1 - 2 / 44))

    plain = Matcher(_repetitive_catalog(unknown_words=0)).match(text)
    assert plain.familiarity == 1.0
    assert plain.unknown == ("tribunal", "hearing")
    assert "unknown words" not in "\n".join(explain(plain))
    assert [c.intent for c in m.candidates] == [c.intent for c in plain.candidates]
    assert [c.score for c in m.candidates] == pytest.approx([c.score * m.familiarity for c in plain.candidates],
                                                            abs=0.11)


def test_an_off_topic_message_in_unknown_words_is_not_answered() -> None:
    m = Matcher(_repetitive_catalog()).match("report stalking to the council planning department")
    assert m.unknown == ("council", "planning", "department")
    assert m.intent is None
    assert m.suggestions == ("report",)


def test_typos_short_words_and_a_share_within_the_expected_one_cost_nothing() -> None:
    matcher = Matcher(_repetitive_catalog())
    long = ("how do i report stalking to the police and how do i keep evidence of the stalking"
            " and what evidence do i need for court")  # 1 unknown word in 25: within 1 in 22
    for text in ("how do i reprot stalkng", "how do i report stalking te", long):
        m = matcher.match(text)
        assert m.familiarity == 1.0, text
    assert matcher.match(long).unknown == ("court",)
    assert matcher.match("how do i reprot stalkng").corrections == (("reprot", "report"), ("stalkng", "stalking"))
