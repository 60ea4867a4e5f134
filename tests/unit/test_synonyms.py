"""Synonyms: what people say is read in the catalog's words, by the matcher only."""

from __future__ import annotations

from pathlib import Path

from bot.catalog.load import load_catalog
from bot.engine import Engine
from bot.synonyms import Synonyms
from tests.support.planted import GOOD, unexplained, write

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


PLANTED = {
    **GOOD,
    "synonyms.yaml": """\
        synonyms:
          police:
            - cops
            - the feds
            - POLICE #! W already reads as
          report:
            - press charges
            - cops #! E is already a synonym
            - police #! E is itself a key
            - save his messages #! W already use
          police: [feds] #! E duplicate key
          unicorn: [narwhal] #! W no example uses
          999: ["911"] #! E reads as a number
    """,
}


def test_check_reports_every_planted_synonym_mistake_at_its_line(tmp_path: Path) -> None:
    planted = write(tmp_path, PLANTED)
    catalog, problems = load_catalog(tmp_path)
    missing, extra = unexplained(planted, [p for p in problems if "synonym" in p.message or p.source.line
                                           and p.source.file.endswith("synonyms.yaml")])
    assert missing == [] and extra == [], (missing, extra)
    assert catalog is None  # the errors refuse it, as any error does


def test_the_catalogs_synonyms_reach_the_matcher_and_not_the_escalation_check(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["synonyms.yaml"] = "synonyms:\n  help he is here: [zorg]\n  police: [the feds]\n"
    write(tmp_path, files)
    catalog, problems = load_catalog(tmp_path)
    assert catalog is not None, problems
    assert dict(catalog.synonyms)["police"] == ("the feds",)
    engine = Engine(catalog)
    assert engine.matcher.match("can i tell the feds").normalised == "can i tell police"
    # "zorg" reads as "help he is here" to the matcher, but the escalation check never sees synonyms
    assert engine.check("zorg").hits == ()
