"""Synonyms: what people say is read in the catalog's words, by the matcher only."""

from __future__ import annotations

from bot.synonyms import Synonyms

S = Synonyms({"police": ["cops", "the feds", "5-0"], "999": ["911"],
              "non molestation order": ["non-mol", "non mol order"]})


def read(text: str, synonyms: Synonyms = S) -> str:
    return " ".join(synonyms.apply(text.split()))


def test_variants_become_the_catalog_words_longest_first() -> None:
    assert read("the cops said call 911") == "the police said call 999"
    assert read("can i get a non mol order") == "can i get a non molestation order"
    assert read("i rang the feds") == "i rang police"


def test_words_that_only_start_a_variant_are_left_alone() -> None:
    assert read("the fed up feeling") == "the fed up feeling"
    assert read("5 apples") == "5 apples"


def test_an_empty_or_self_mapping_changes_nothing() -> None:
    assert not Synonyms({})
    assert not Synonyms({"police": ["police", "  "]})
    assert read("police", Synonyms({"police": ["Police"]})) == "police"
