"""The writer's own denial sets a rule's hit aside; a negation that says the danger never does."""

import pytest

from bot.denial import denial
from bot.safety import _clauses, _readable
from tests.support.default import default_snapshot


def _denied(text: str, hit: str) -> bool:
    words = _readable(text)[0]
    start = words.index(hit.split()[0])
    return denial(words, _clauses(words, [0]), start, start + len(hit.split())) is not None


@pytest.mark.parametrize(("text", "hit"), [
    ("i am not suicidal just fed up", "suicidal"),
    ("im not going to kill myself dont worry", "kill"),
    ("no thoughts of hurting myself", "hurting"),
    ("i don't want to die i just want him to leave me alone", "want"),
    ("i promise im not suicidal", "suicidal"),
    ("i am exhausted but i am not going to hurt myself", "hurt"),
    ("i have burned myself before, not in the self harm way, i am just clumsy", "self harm"),
    ("i think about death a lot but not in a suicidal way", "suicidal"),
    ("i feel flat and tired but not suicidal", "suicidal"),
    ("i am nowhere near hurting myself", "hurting"),
    ("really low this week but nowhere near wanting to die", "wanting"),
])
def test_the_writers_own_denial(text: str, hit: str) -> None:
    assert _denied(text, hit)


@pytest.mark.parametrize(("text", "hit"), [
    ("i can't stop thinking about killing myself", "killing"),
    ("why shouldn't i kill myself", "kill"),
    ("there's no reason not to kill myself", "kill"),
    ("life is not worth living", "worth"),
    ("there is no point in living", "point"),
    ("please don't hurt me", "hurt"),
    ("he said i am not suicidal", "suicidal"),
    ("i'm not ok i want to die", "want"),
    ("not in a good way, i keep thinking about suicide", "suicide"),
    ("everything hurts but not enough to stop me killing myself", "killing"),
])
def test_a_negation_that_says_the_danger_stands(text: str, hit: str) -> None:
    assert not _denied(text, hit)


@pytest.mark.parametrize(("text", "hit"), [
    ("my doctor asked me if i was suicidal and i said no", "suicidal"),
    ("the nurse asks whether i think about suicide, i do not, i just cannot sleep", "suicide"),
    ("my mum keeps asking if i am suicidal and i am not, i am just stressed", "suicidal"),
    ("to be clear i am not suicidal, only worn out", "suicidal"),
])
def test_a_question_answered_no_and_a_clear_no(text: str, hit: str) -> None:
    assert _denied(text, hit)


@pytest.mark.parametrize(("text", "hit"), [
    ("my doctor asked if i was suicidal and i said yes", "suicidal"),
    ("they asked if i was suicidal, i could not answer", "suicidal"),
    ("my therapist asked if i am suicidal and i am not sure anymore", "suicidal"),
])
def test_a_question_answered_yes_or_not_at_all_stands(text: str, hit: str) -> None:
    assert not _denied(text, hit)


@pytest.mark.parametrize("text", [
    "she asked me if i was suicidal and i said no but i lied",
    "My counsellor asked if I was suicidal and I said no. That was a lie, I am every day.",
])
def test_a_no_the_writer_owns_up_to_is_no_denial(text: str) -> None:
    assert "crisis" in {h.escalation for h in default_snapshot().detector.detect(text)}
