"""Escalation on the default catalog: situations issue 11 found thin, and the not-now markers it added.

A not-now marker sets aside every hit in its clause, and people in danger rarely punctuate: so each
marker is tested both ways, on the harmless sentence it is for and on danger typed straight after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.engine import Engine
from bot.safety import Detector

ROOT = Path(__file__).resolve().parents[1]

EMERGENCY = [
    # someone else hurt or in danger now
    "my neighbour is being beaten up on the landing",
    "my sister's baby has stopped breathing",
    "my mate has collapsed and hes not breathing",
    "there is a shooting outside the shops",
    "we can hear gunshots on our street",
    # danger typed straight after a marker's words: the marker must not swallow it
    "its an emergency contact the police",
    "hes in my garden in case you need to know",  # "in case" frames only what might happen
    "he is choking me during an argument",  # "during" frames only a past relationship
    "i need the emergency number hes breaking in",
    "hes outside my house is this stalking",
    "he is outside my house if he sees me he will kill me",
    "he would kill me hes outside with a knife",
    "i need an emergency locksmith he is trying to get in",
]

CRISIS = [
    "is it painful to die by drowning",
    "how long does it take to die from paracetamol",
    "i want a painless way to die",
    "this is goodbye, i love you all",
    "please talk me out of it",
    # crisis said straight after a marker's words
    "my brother died by suicide i want to join him",
    "im not suicidal i just want it all to end",
    "he threatened to find me so i am going to end it tonight",
]

NOT_ESCALATION = [
    "what do i do in case he turns up at my work",
    "during our relationship he hit me a lot",
    "how do i save up an emergency fund without him seeing",
    "where can i find an emergency dentist on a bank holiday",
    "is there an emergency plumber near me",
    "if he finds out where i live he will kill me",
    "my dad would kill me if he saw my phone bill",
    "i'm doing a sponsored walk for suicide prevention",
]


@pytest.fixture(scope="module")
def detector() -> Detector:
    catalog, problems = load_catalog(ROOT / "intents", for_serving=True)
    assert catalog is not None, problems
    return Engine(catalog)._snap.detector


def _fired(detector: Detector, text: str) -> set[str]:
    return {h.escalation for h in detector.detect(text)}


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergency_fires(detector: Detector, text: str) -> None:
    assert "emergency" in _fired(detector, text)


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_fires(detector: Detector, text: str) -> None:
    assert "crisis" in _fired(detector, text)


@pytest.mark.parametrize("text", NOT_ESCALATION)
def test_no_escalation(detector: Detector, text: str) -> None:
    assert _fired(detector, text) == set()
