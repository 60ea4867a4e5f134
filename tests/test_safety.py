"""Escalation detection on the default catalog: a table of phrasings that must and must not escalate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.engine import Engine
from bot.model import Escalation
from bot.safety import Detector

ROOT = Path(__file__).resolve().parents[1]

EMERGENCY = [
    "he is outside my house right now",
    "hes outside my flat",
    "hes outsdie my hosue",
    "he's outside",
    "omg hes here",
    "help he is here",
    "being followed rn",
    "im being followed",
    "someone is following me home",
    "he's following me now",
    "this guy is walking behind me and its dark",
    "he keeps walking behind me right now",
    "hes right behind me",
    "he is banging on my door",
    "someone is banging on the window",
    "he is trying to get in",
    "my ex is trying to break in",
    "he broke in",
    "he has broken in and hes upstairs",
    "he is in my house",
    "hes in the house",
    "he is inside the flat",
    "there is a man in my garden",
    "theres someone at my door and i think its him",
    "he is at the door",
    "he's sat in his car outside again watching",
    "he is parked outside my work",
    "he is waiting outside my work",
    "he just turned up at my work",
    "he turned up at my house and refuses to leave",
    "he wont leave my house",
    "he is hitting me",
    "he's beating me",
    "he attacked me",
    "hes choking me",
    "he has a knife",
    "hes got a gun",
    "my ex is here with a knife",
    "he is going to kill me",
    "i think he will kill me",
    "he will hurt me",
    "he smashed my window",
    "he's taken my son and wont bring him back",
    "i am locked in the bathroom",
    "i fear for my life",
    "i am not safe right now",
    "emergency",
    "EMERGENCY!!!",
    "its an emergency",
    "call 999 for me",
    "can you ring the police for me",
    "police now please",
    "cant talk he is in the next room",
    "cant speak hes here",
    "he's staring at me from across the street",
    "he got on the same bus and is sat behind me",
    "he is looking in the windows",
    "i need help right now",
    "hes here again now",
    "he followed me last week and now hes outside my house",
    "he threatened me before and now he is standing outside",
    "hes coming round now",
    "pls help hes outside",
    "he is in the garden rn",
    "hes following me he wont stop",
]

CRISIS = [
    "i want to kill myself",
    "i'll kill myself",
    "i want to die",
    "i wanna die",
    "i want to end it all",
    "i just want to end my life",
    "thinking about suicide",
    "i feel suicidal",
    "i cant go on",
    "i cant do this anymore",
    "everyone would be better off without me",
    "i would be better off dead",
    "i dont want to be alive",
    "i dont want to be here anymore",
    "there is no point in living",
    "whats the point of living",
    "i have been self harming",
    "i keep cutting myself",
    "i hurt myself last night",
    "i might take all my pills",
    "thinking of stepping in front of a train",
    "im going to end it",
    "i wish i was dead",
    "i have nothing to live for",
]

NOT_ESCALATION = [
    "hello",
    "how do i report stalking",
    "is this stalking",
    "he followed me last year",
    "he followed me home last tuesday",
    "he used to wait outside my house every night",
    "he was outside my house yesterday",
    "he is always outside my work",
    "he keeps turning up at my work",
    "what should i do if he turns up at my house",
    "what if he follows me",
    "he said he would kill me if i went to the police",
    "he said he'll kill me",
    "he told my friend he is going to kill me",
    "i got a voicemail saying he will hurt me",
    "my stalker keeps saying he is going to kill me",
    "he threatened to kill me last month",
    "is a threat to kill a crime",
    "what is the silent solution",
    "what number do i ring",
    "can i report online",
    "he keeps messaging me",
    "he sends me flowers every week",
    "i put it all behind me",
    "my friend is being stalked",
    "what is a stalking protection order",
    "he broke his restraining order",
    "he broke into my email",
    "someone hacked my instagram",
    "i found an airtag in my bag",
    "how do i keep evidence",
    "should i keep a diary",
    "thank you",
    "bye",
    "is this chat private",
    "delete this chat",
    "what are the signs of stalking",
    "my ex won't leave me alone",
    "he will not leave me alone",
    "he knows where i live",
    "i am scared he will find out",
    "i am sitting outside in the garden",
    "i was waiting outside the shop",
    "my kids are in the next room",
    "i am in the house alone a lot",
    "how do i stay safe",
    "is it worth getting a personal alarm",
    "the police did nothing",
    "will he be arrested",
    "can men be stalked",
    "i want him to stop",
    "i want it to stop",
    "i smashed my phone screen",
    "he posted my pictures online",
    "the bloke in the van watches me",
    "what happens after i report",
    "who can i talk to",
    "i need advice",
    "can i get an spo",
    "my boyfriend checks my phone",
    "a woman is stalking me",
    "hes been messaging my mum",
    "report a pothole",
    "tell me a joke",
    "my dog keeps following me around the house",
    "he said im going to die",
    "what do i do if he is outside my house",
]


@pytest.fixture(scope="module")
def detector() -> Detector:
    catalog, problems = load_catalog(ROOT / "intents", for_serving=True)
    assert catalog is not None, problems
    return Engine(catalog)._snap.detector


def _fired(detector: Detector, text: str) -> set[str]:
    return {h.escalation for h in detector.detect(text)}


def test_tables_are_large_enough() -> None:
    assert len(EMERGENCY) + len(CRISIS) >= 60
    assert len(NOT_ESCALATION) >= 60


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergency_fires(detector: Detector, text: str) -> None:
    assert "emergency" in _fired(detector, text)


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_fires(detector: Detector, text: str) -> None:
    assert "crisis" in _fired(detector, text)


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_is_not_an_emergency(detector: Detector, text: str) -> None:
    assert "emergency" not in _fired(detector, text)


@pytest.mark.parametrize("text", NOT_ESCALATION)
def test_no_escalation(detector: Detector, text: str) -> None:
    assert _fired(detector, text) == set()


def test_danger_inside_a_long_message_is_found(detector: Detector) -> None:
    filler = "We split up a while ago and it has been hard. " * 400
    assert "emergency" in _fired(detector, filler + "Right now he is outside my house. " + filler)


def test_both_escalations_in_order(detector: Detector) -> None:
    hits = detector.detect("he is outside my house and i want to die")
    assert [h.escalation for h in hits] == ["emergency", "crisis"]


def test_present_marker_overrides_past() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("following me",),
                     past_markers=("last year",), present_markers=("now",))
    d = Detector([esc])
    assert d.detect("he was following me last year") == ()
    assert d.detect("he was following me last year and now again") != ()


def test_reported_threat_is_not_an_emergency_but_presence_is() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("outside",), threats=("kill me",),
                     reported_markers=("said",), present_markers=("now",))
    d = Detector([esc])
    assert d.detect("he said he would kill me") == ()
    assert d.detect("he would kill me") != ()
    assert d.detect("he said he would kill me and he is outside") != ()


def test_known_words_are_not_corrected_into_danger_words() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("broke in",))
    assert Detector([esc], known_words={"bloke"}).detect("the bloke in the van") == ()
    assert Detector([esc]).detect("he brokee in") != ()
