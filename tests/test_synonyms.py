"""Synonyms: what people say is read in the catalog's words, by the matcher only."""

from __future__ import annotations

from bot.synonyms import Synonyms

S = Synonyms({"police": ["cops", "the feds", "5-0"], "999": ["911"], "non molestation order": ["non-mol", "non mol order"]})


def test_variants_become_the_catalog_words_longest_first() -> None:
    assert S.apply("the cops said call 911".split()) == "the police said call 999".split()
    assert S.apply("can i get a non mol order".split()) == "can i get a non molestation order".split()
    assert S.apply("i rang the feds".split()) == "i rang police".split()


def test_words_that_only_start_a_variant_are_left_alone() -> None:
    assert S.apply("the fed up feeling".split()) == "the fed up feeling".split()
    assert S.apply("5 apples".split()) == "5 apples".split()


def test_an_empty_or_self_mapping_changes_nothing() -> None:
    assert not Synonyms({})
    assert not Synonyms({"police": ["police", "  "]})
    assert Synonyms({"police": ["Police"]}).apply(["police"]) == ["police"]
