"""Safety rules on escalations planted in the test, not the shipped ones: past, present and reported
markers, known words, look-alike letters, the learned part, patterns, the background sample, and how
long a chat's danger is remembered."""

from __future__ import annotations

from bot.catalog.schema import Catalog, Escalation
from bot.conversation import Conversations
from bot.engine import Engine
from bot.safety import Detector
from bot.turns import Incoming


def test_present_marker_overrides_past() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("following me",),
                     past_markers=("last year",), present_markers=("now",))
    d = Detector([esc])
    assert d.detect("he was following me last year") == ()
    assert d.detect("he was following me last year and now he is following me again") != ()
    assert d.detect("he was following me last year, does it matter now") == ()  # "now" far from the hit


def test_a_time_marker_between_the_hit_and_now_keeps_the_hit_in_its_own_time() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("strangled me",),
                     past_markers=("last year",), present_markers=("now",))
    d = Detector([esc])
    assert d.detect("he strangled me last year and now he is messaging me") == ()
    assert d.detect("he strangled me now, last year it was just words") != ()  # "now" before the marker


def test_a_run_on_starts_a_new_clause_at_a_subject_after_a_clause_end() -> None:
    from bot.safety import _clauses

    words = ["theres", "a", "man", "following", "me", "he", "keeps", "slowing", "down"]
    assert _clauses(words, [0])[words.index("he")] == 1
    assert len(set(_clauses(["he", "gave", "me", "his", "number"], [0]))) == 1  # "me his": no subject
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("following me",), past_markers=("keeps",))
    assert Detector([esc]).detect("theres a man following me he keeps slowing down") != ()


def test_keep_frames_what_follows_it_not_what_came_before() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("on my train", "turning up"),
                     past_markers=("keeps",))
    d = Detector([esc])
    assert d.detect("he keeps turning up at my work") == ()
    assert d.detect("hes on my train keeps looking at me") != ()


def test_a_time_given_early_holds_for_the_story_until_a_clause_is_in_the_present() -> None:
    esc = Escalation(id="emergency", title="e", answer="a", phrases=("choked me", "hitting me", "at my door"),
                     past_markers=("years ago", "last week"), present_markers=("now",))
    d = Detector([esc])
    assert d.detect("five years ago he choked me, held a knife to my throat and would not stop hitting me") == ()
    assert d.detect("last week he choked me and he is at my door") != ()  # "is": the door is now
    assert d.detect("last week he shouted, now hitting me") != ()  # a present marker ends the story too
    assert d.detect("he is hitting me, five years ago it started") != ()  # the time frames what follows only


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


def test_the_background_is_sampled_evenly_down_to_the_cap_never_halved() -> None:
    from bot.safety import even_sample

    lines = [str(i) for i in range(4001)]
    picked = even_sample(lines, 4000)
    assert len(picked) == 4000 and picked[0] == "0" and int(picked[-1]) >= 3999 and len(set(picked)) == 4000
    assert even_sample(lines[:10], 4000) == lines[:10]
    assert [int(x) for x in even_sample(lines[:10], 5)] == [0, 2, 4, 6, 8]


def test_conversations_forget_danger_after_its_window_and_a_chat_after_quiet() -> None:
    now = [0.0]
    memory = Conversations(danger_minutes=30, quiet_minutes=60, clock=lambda: now[0])
    memory.update("a", danger="emergency")
    now[0] = 29 * 60
    assert memory.danger("a") == "emergency"
    now[0] = 31 * 60
    assert memory.danger("a") is None
    memory.update("b", danger="crisis")
    now[0] += 61 * 60
    assert memory.get("b").danger is None  # quiet for too long: a fresh state
    assert memory.danger(None) is None
    memory.update(None, danger="crisis")  # a channel with no chat key remembers nothing
    assert len(memory) == 2
    memory.update("c", danger="crisis")
    now[0] += 50 * 60
    memory.touch("c")  # a message 50 minutes later: quiet counts from here
    now[0] += 50 * 60
    assert memory.get("c").danger == "crisis"
    memory.touch("new")
    assert len(memory) == 3  # touching a chat with no state makes none


def test_accented_letters_are_not_taken_for_look_alikes() -> None:
    from bot.confusables import fold_confusables

    assert fold_confusables("café, tŷ, naïve") == "café, tŷ, naïve"
    assert fold_confusables("һеllо") == "hello"


def _learned_only_catalog() -> Catalog:
    from bot.catalog.schema import Escalation, Intent, MatcherSettings

    danger = Escalation(
        "emergency", "Emergency", "Call 999 now.",
        examples=("the bridge is shaking and about to fall", "the bridge is cracking under us",
                  "water is coming over the bridge right now", "the old bridge is collapsing"),
        negative_examples=("how old is the bridge", "when was the bridge built", "is the bridge open today",
                           "what is the toll on the bridge", "who painted the bridge"),
    )
    intents = (
        Intent("safety", "Safety", ("is the bridge safe to cross when it is shaking",
                                    "is it safe on the bridge in a storm"), "Safety card."),
        Intent("history", "History", ("how old is the bridge", "who built the bridge"), "History card."),
    )
    # a threshold of 40 puts the bar for a card after a rule's hit (2.5 x 40) out of reach
    return Catalog(intents=intents, escalations=(danger,), settings=MatcherSettings(threshold=40.0))


def test_the_learned_part_fires_on_wording_its_examples_never_used() -> None:
    from bot.safety import Detector

    catalog = _learned_only_catalog()
    detector = Detector.for_catalog(catalog)
    [hit] = detector.detect("help the bridge is cracking and shaking")
    assert hit.evidence is not None and hit.evidence.fires and "bridge" in hit.evidence.nearest
    assert detector.detect("who built the bridge and when") == ()


def test_after_a_learned_hit_a_confident_card_still_follows() -> None:
    engine = Engine(_learned_only_catalog())
    text = "the bridge is shaking and cracking right now. is it safe to cross when it is shaking"
    out = engine.respond(Incoming(text=text))
    assert out.escalations == ("emergency",) and out.intent == "safety"
    assert [r.kind for r in out.replies] == ["escalation", "intent"]


def test_a_pattern_that_cannot_join_the_others_still_runs_alone() -> None:
    from bot.catalog.schema import Escalation
    from bot.safety import Detector

    esc = Escalation("emergency", "E", "Call 999.", patterns=(r"\Qzzqx", r"\bhe is here\b"))
    assert [h.escalation for h in Detector([esc]).detect("he is here")] == ["emergency"]
    assert [h.escalation for h in Detector([esc]).detect("zzqx")] == ["emergency"]


def test_a_tiny_example_set_still_places_the_threshold_between_its_sides() -> None:
    from bot.catalog.schema import Escalation
    from bot.safety import Detector

    esc = Escalation("emergency", "E", "Call 999.",
                     examples=("he is at my door right now", "someone is at my door now", "a man is at my window now"),
                     negative_examples=("he was at my door last year", "what is a stalking order",
                                        "hello there how are you"))
    detector = Detector([esc])
    assert detector.detect("hello there how are you today") == ()


def test_what_the_writer_denies_is_not_read_by_the_learned_part_either() -> None:
    from bot.safety import Detector

    crisis = Escalation(
        "crisis", "Crisis", "Samaritans.", phrases=("jump off the bridge",),
        examples=("i want to jump off the bridge", "thinking of jumping off the bridge tonight",
                  "i will jump from the bridge", "going to the bridge to jump"),
        negative_examples=("how old is the bridge", "when was the bridge built", "is the bridge open today",
                           "what is the toll on the bridge", "who painted the bridge",
                           "i just want to know the toll", "i want to know when it opens"),
    )
    detector = Detector([crisis])
    assert [h.rule for h in detector.detect("i want to jump off the bridge")] == ["jump off the bridge"]
    # Denied, the rule stands aside; the learned part, reading the same words, must too.
    assert detector.detect("i do not want to jump off the bridge, i just want to know its toll") == ()


def test_someone_elses_words_end_where_the_writer_speaks_for_themselves() -> None:
    from bot.safety import Detector

    crisis = Escalation("crisis", "Crisis", "Samaritans.", threats=("overdose",),
                        reported_markers=("says she", "said i"), reported_frames_learned=True)
    detector = Detector([crisis])
    # Her threat, told by the writer: a threat to talk through, not the writer's crisis.
    assert detector.detect("my mum says she will take an overdose if i leave") == ()
    # The writer's own words after someone else's are read as the writer's.
    assert [h.rule for h in detector.detect("my gp said i should ring someone and i keep thinking about an overdose")] \
        == ["overdose"]


def test_with_learned_reads_whole_a_story_must_read_near_the_danger_as_a_whole_too() -> None:
    from bot.safety import Detector

    def detector(reads_whole: bool) -> Detector:
        return Detector([Escalation(
            "crisis", "Crisis", "Samaritans.", learned_reads_whole=reads_whole,
            examples=("i want to disappear forever", "i do not want to be here anymore", "i want it all to end",
                      "i can not go on like this", "i do not want to wake up tomorrow",
                      "nobody would miss me if i was gone", "i want to stop existing", "i am done with living"),
            negative_examples=("the parcel came late again today", "i want to order a pizza",
                               "i do not want to miss the bus", "the order number was wrong on the receipt",
                               "can i get a refund for the parcel", "i want the blue one not the red one",
                               "the courier left it at the wrong door", "what time does the shop open"))])

    story = ("i do not want to be here. the parcel came late again and the courier left it at the wrong door. "
             "can i get a refund for the parcel")
    # One short sentence reads like the examples; the message, read whole, is about a parcel.
    assert [h.rule for h in detector(False).detect(story)] == ["learned"]
    assert detector(True).detect(story) == ()
    # A message that says it in one sentence, or in most of its sentences, still fires.
    for text in ("i do not want to be here anymore", "i do not want to be here anymore. i want it all to end",
                 "the parcel came late again. i do not want to be here anymore"):
        assert [h.rule for h in detector(True).detect(text)] == ["learned"], text
