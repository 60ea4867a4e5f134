"""Escalation detection on the default catalog: a table of phrasings that must and must not escalate
(the detector's rules on planted escalations are in tests/unit/test_safety_rules.py)."""

from __future__ import annotations

import pytest

from bot.safety import Detector
from tests.support.default import default_snapshot

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
    # a second round, written to probe how the detector generalises
    "hes here",
    "he just walked into my work",
    "hes in my garden again right now",
    "my ex is outside with a baseball bat",
    "theres a car following me and i dont know what to do",
    "someones trying to get into my flat",
    "he got in through the back door",
    "he is hurting me please",
    "hes punched me and wont let me leave",
    "he wont let me leave the house",
    "im hiding in the toilet he doesnt know im here",
    "hes threatening me with a knife right now",
    "he has a weapon",
    "he is waiting for me outside the gym",
    "hes at the school gates with my kids",
    "hes climbing over the fence",
    "hes looking through my letterbox",
    "im being chased",
    "he grabbed me and i got away but hes still out there",
    "hes standing at the end of my bed",
    "i think hes in the loft",
    "hes banging on the windows and shouting",
    "my ex has just turned up and is kicking off",
    "he pushed his way in",
    "hes trying to break the window",
    "hes sitting in a car across the road watching me right now",
    "i can see him from my window hes outside",
    "he's following me in his car",
    "he is following me down the street",
    "hes got my son and is driving off",
    "HELP ME",
    "sos",
    "please someone help hes here",
    "im scared for my life",
    "he tried to run me over",
    "hes going to hurt me",
    "i am in danger",
    "hes set fire to my car",
    "he just threw a brick through my window",
    "he's back and hes banging on the door again",
    "my stalker is sitting in the car park outside my work right now",
    "im on the train and hes in the same carriage staring at me",
    "hes followed me into the shop",
    "theres someone trying to open my back door",
    "hes outside and says hes not leaving till i come out",
    "please help me hes got a knife",
    "i can hear him downstairs",
    "hes smashing up my car",
    "he is hammering on my window",
    "my ex just showed up at my house drunk",
    "hes forcing the door",
    "he is coming up the stairs",
    "hes waiting at the bus stop for me",
    "hes walking towards me now",
    "just seen him outside my flat",
    "hes in the car behind me and wont stop flashing his lights",
    "hes strangling me",
    "help he hit me",
    "hes threatening to stab me and hes here",
    "hes at my door with a hammer",
    "a man has been following me for 10 minutes",
    "the guy from the bus got off at my stop and is following me",
    "hes got into the house",
    "he is inside my car waiting",
    "hes trying to get me in his car",
    "need help now hes outside",
    "im locked in my room and hes trying to get in",
    "he keeps ringing the doorbell right now and wont go",
    "im scared hes going to break in tonight, hes outside",
    # Situations issue 11 found thin, and danger typed straight after a not-now marker's words
    # (people in danger rarely punctuate, and a marker sets aside every hit in its clause).
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
    "i just want to disappear forever",
    "i dont want to wake up tomorrow",
    "im done with life",
    "i cant live like this anymore",
    "i keep thinking about ending my life",
    "i want to hurt myself",
    "i have pills saved up",
    "tonight is the night i end it",
    "nobody would care if i was gone",
    "i wish i could go to sleep and never wake up",
    "ive started self harming again",
    "im thinking of killing myself",
    "life isnt worth living anymore",
    "i feel suicidal because of him",
    "what's the easiest way to die",
    "i dont want to live anymore",
    "i might as well be dead",
    "i wrote a goodbye note",
    "i want it all to be over",
    "i cant cope anymore i want to die",
    # Situations issue 11 found thin, and danger typed straight after a not-now marker's words
    # (people in danger rarely punctuate, and a marker sets aside every hit in its clause).
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
    # stories and questions about past or habitual behaviour
    "he says he wants to die without me",
    "i'm dying to get out of this town",
    "he threatened to kill himself if i left",
    "i was so scared i thought i was going to die",
    "my battery is dying",
    "is it a crime to tell someone to kill themselves",
    "i cant cope with all the messages",
    "im tired of him following me",
    "this is killing me, he wont stop",
    "i feel so alone",
    "he used to sit outside my house in his car, it stopped in june",
    "my ex keeps turning up at my work, what can i do",
    "he follows me on every app i join",
    "someone keeps following me on tiktok",
    "hes always hanging around near my house, is that stalking",
    "what do i do if he comes to my door",
    "he was banging on my door at 3am on saturday",
    "is it a crime if someone follows you",
    "he hit me when we were together, does that matter now",
    "he attacked me two years ago and now hes messaging me again",
    "my friend says her ex is outside her house a lot",
    "how do i stop him following me home from work every day",
    "he sat outside my house for hours last night",
    "he turned up at my mums yesterday",
    "he keeps knocking on my door every evening",
    "should i call 999 if he turns up again",
    "he threatened to stab me in a text last week",
    "my daughter's dad wont give her back after contact weekends, who do i talk to",
    "i saw him at the end of my road on monday",
    "he's been watching my house for months",
    "i think someone has been in my flat while i was out, things have moved",
    "how do i get a panic alarm fitted",
    "what should i do if he follows me again",
    "my neighbour's dog keeps following me lol",
    "im scared to leave the house",
    "i feel like im being watched all the time",
    "what happens if someone breaks a restraining order",
    "he keeps saying he'll find me",
    "how do i report someone who keeps following me",
    "he followed me to the shops last week",
    "is it normal to feel scared all the time",
    "my ex is harassing my new partner",
    "how can i tell if someones been following me",
    "he broke my phone when we were together",
    "he knows where i work",
    "he's in my class at college and wont leave me alone",
    "my landlord lets himself into my flat without asking",
    "he stood outside my work every day last week",
    "the police said to call 999 if hes outside again",
    "someone keeps leaving notes on my car",
    # The harmless sentences each not-now marker is for (issue 11).
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
    return default_snapshot().detector


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


def test_an_ambiguous_wish_for_it_to_stop_is_answered_on_the_side_of_safety(detector: Detector) -> None:
    # "i want it all to stop" is a crisis phrase; without "all" the words may mean the stalking or
    # the person's life. The learned part reads it as crisis: the Samaritans line is a gentle answer
    # to the first, and missing the second could cost a life.
    assert "crisis" in _fired(detector, "i want it to stop")
