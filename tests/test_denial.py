"""The writer's own denial sets a rule's hit aside; a negation that says the danger never does."""

import pytest

from bot.denial import denial
from bot.safety import _clauses, _readable


def _denied(text: str, word: str) -> bool:
    words = _readable(text)[0]
    return denial(words, _clauses(words, [0]), words.index(word)) is not None


@pytest.mark.parametrize(("text", "word"), [
    ("i am not suicidal just fed up", "suicidal"),
    ("im not going to kill myself dont worry", "kill"),
    ("no thoughts of hurting myself", "hurting"),
    ("i don't want to die i just want him to leave me alone", "want"),
    ("i promise im not suicidal", "suicidal"),
    ("i am exhausted but i am not going to hurt myself", "hurt"),
])
def test_the_writers_own_denial(text: str, word: str) -> None:
    assert _denied(text, word)


@pytest.mark.parametrize(("text", "word"), [
    ("i can't stop thinking about killing myself", "killing"),
    ("why shouldn't i kill myself", "kill"),
    ("there's no reason not to kill myself", "kill"),
    ("life is not worth living", "worth"),
    ("there is no point in living", "point"),
    ("please don't hurt me", "hurt"),
    ("he said i am not suicidal", "suicidal"),
    ("i'm not ok i want to die", "want"),
])
def test_a_negation_that_says_the_danger_stands(text: str, word: str) -> None:
    assert not _denied(text, word)
