"""Welsh: detection, /cymraeg, Welsh answers and escalations, normalisation, and translation checks.

The Welsh here is written for these tests, not taken from eval/welsh.tsv (which scores the bot and
must stay unseen by tests and intents).
"""

from __future__ import annotations

import csv
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from bot.catalog.load import load_catalog
from bot.engine import Engine
from bot.language import ENGLISH, WELSH, detect
from bot.text import normalise
from bot.turns import LANGUAGE_PREFIX, Incoming, Outcome
from tests.support.default import default_catalog, default_engine

DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev.tsv"
LIVE_FEAR_FREE = "0808 80 10 800"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


def say(engine: Engine, text: str, chat: int) -> Outcome:
    return engine.respond(Incoming(text=text, chat=chat))


def test_a_welsh_emergency_gets_the_welsh_999_answer_first(engine: Engine) -> None:
    out = say(engine, "help, mae o tu allan i'r tŷ rŵan ac mae gen i ofn", chat=101)
    assert out.escalations[0] == "emergency"
    first = out.replies[0]
    assert first.kind == "escalation" and first.ref == "emergency"
    assert "ffoniwch 999" in first.html and "gwasgwch 55" in first.html and "press 55" in first.html
    assert engine.conversations.get(101).language == WELSH


def test_a_welsh_crisis_gets_samaritans_in_welsh_first(engine: Engine) -> None:
    out = say(engine, "dw i wir ddim eisiau byw ddim mwy", chat=102)
    assert out.escalations == ("crisis",)
    assert "116 123" in out.replies[0].html and "Samaritans" in out.replies[0].html
    assert "ffoniwch 999" in out.replies[0].html


def test_a_welsh_person_who_cannot_talk_gets_the_silent_route(engine: Engine) -> None:
    out = say(engine, "mae o yn y gegin, alla i ddim siarad", chat=103)
    assert out.escalations[0] == "emergency"
    assert out.replies[0].html.startswith("<b>Does dim rhaid i chi siarad.</b>")


def test_cymraeg_switches_greeting_menu_and_fallback_to_welsh_and_english_switches_back(engine: Engine) -> None:
    chat = 104
    greeting = say(engine, "/cymraeg", chat)
    assert greeting.intent == "greeting" and greeting.replies[0].html.startswith("<b>Helo</b>")
    assert greeting.replies[0].buttons[0].data == LANGUAGE_PREFIX + ENGLISH
    assert engine.conversations.get(chat).language == WELSH
    menu = say(engine, "/help", chat)
    assert menu.replies[0].html.startswith("<b>Pynciau</b>")
    assert "Ydy hyn yn stelcio?" in [b.text for b in menu.replies[0].buttons]
    fallback = say(engine, "zzkq vvrp", chat)
    assert fallback.fallback and "Mae'n ddrwg gen i" in fallback.replies[-1].html
    assert "999" in fallback.replies[-1].html and "0808 802 0300" in fallback.replies[-1].html
    assert fallback.replies[-1].buttons[-1].text == "Dileu'r sgwrs"
    back = say(engine, "/english", chat)
    assert back.replies[0].html.startswith("<b>Hello</b>")
    assert engine.conversations.get(chat).language == ENGLISH


def test_the_language_button_chooses_welsh(engine: Engine) -> None:
    out = engine.respond(Incoming(button=LANGUAGE_PREFIX + WELSH, chat=105))
    assert out.intent == "greeting" and out.replies[0].html.startswith("<b>Helo</b>")
    assert engine.conversations.get(105).language == WELSH
    english = engine.respond(Incoming(text="/start", chat=106))
    assert english.replies[0].buttons[0].data == LANGUAGE_PREFIX + WELSH


def test_an_english_answer_in_a_welsh_chat_carries_the_welsh_notice_line(engine: Engine) -> None:
    chat = 107
    say(engine, "/cymraeg", chat)
    out = engine.respond(Incoming(button="i:keep_evidence", chat=chat))
    assert out.intent == "keep_evidence"
    notice, _, answer = out.replies[0].html.partition("\n\n")
    assert "Saesneg" in notice and LIVE_FEAR_FREE in notice
    english = default_engine().respond(Incoming(button="i:keep_evidence")).replies[0].html
    assert answer == english


def test_welsh_erase_confirmation_and_kept_line(engine: Engine) -> None:
    chat = 108
    say(engine, "/cymraeg", chat)
    out = say(engine, "dileu'r sgwrs", chat)
    assert out.intent == "erase_conversation" and not out.erase
    assert out.replies[0].html.startswith("<b>Dileu'r sgwrs hon nawr?</b>")
    assert [b.text for b in out.replies[0].buttons] == ["Ie, dilëwch hi", "Na"]
    kept = engine.respond(Incoming(button="keep", chat=chat))
    assert kept.replies[0].html.startswith("Chafodd dim byd ei ddileu")


def test_erase_forgets_the_chosen_language(engine: Engine) -> None:
    chat = 109
    say(engine, "/cymraeg", chat)
    engine.respond(Incoming(button="erase", chat=chat))
    assert engine.conversations.get(chat).language is None


@pytest.mark.parametrize("text", ["hi", "help", "ok", "yes", "no", "thanks", "hello there", "999"])
def test_short_english_never_flips_a_chat_to_welsh(text: str) -> None:
    assert detect(text) != WELSH


def test_a_short_english_message_keeps_a_welsh_chat_welsh(engine: Engine) -> None:
    chat = 110
    say(engine, "/cymraeg", chat)
    out = say(engine, "help", chat)
    assert engine.conversations.get(chat).language == WELSH
    assert "Os ydych chi" in out.replies[0].html or "Mae'r ateb hwn yn Saesneg" in out.replies[0].html


def test_english_dev_lines_are_not_taken_for_welsh() -> None:
    if not DEV.exists():
        pytest.skip("shared/eval/dev.tsv is not beside this worktree")
    with DEV.open(encoding="utf-8") as f:
        texts = [r[2] for r in csv.reader(f, delimiter="\t") if len(r) > 2 and not r[0].startswith("#")]
    welsh = [t for t in texts if detect(t) == WELSH]
    assert len(welsh) <= len(texts) // 100, welsh


@pytest.mark.parametrize("text", ["mae'r gath yn cysgu ar y soffa", "diolch am bopeth", "shwmai, sut mae pethau"])
def test_welsh_lines_are_detected(text: str) -> None:
    assert detect(text) == WELSH


def test_welsh_letters_fold_to_their_base_letter() -> None:
    assert normalise("Tŷ") == "ty"
    assert normalise("dilëwch y sgwrs, rŵan") == "dilewch y sgwrs rwan"
    assert normalise("Â Ê Î Ô Û Ŵ Ŷ á é") == "a e i o u w y a e"
    # an accented word is never read as English text-speak ("ty" is "thank you")
    assert normalise("ty") == "thank you"
    assert normalise("café") == "cafe"
    assert normalise("He's OUTSIDE!!") == "he is outside"


def test_the_speller_leaves_welsh_words_alone(engine: Engine) -> None:
    words = {w for w, _ in engine.matcher.match("mae'r heddlu wedi dweud nawr").corrections}
    assert "nawr" not in words and "heddlu" not in words


PLANTED = """\
    intents:
      - id: greeting
        examples: [hello, hi, hey there, good morning, hiya]
        answer: Hello. In an emergency call {emergency_number}.
        translations:
          cy:
            title: Helo
            examples: [helo, shwmai, bore da]
            answer: Helo {unknown_thing}.
          xx:
            answer: Nope.
      - id: menu
        examples: [menu, topics, options, what can you do, help me choose]
        answer: Topics.
        translations:
          cy:
            examples: [helo]
            answer: <b>Pynciau
            colour: blue
    responses:
      fallback:
        answer: Sorry. In an emergency call {emergency_number}. Helpline {helpline_number}.
        translations:
          cy:
            answer: Mae'n ddrwg gen i.
"""


def test_check_reports_planted_translation_mistakes_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(textwrap.dedent(PLANTED), encoding="utf-8")
    _, problems = load_catalog(tmp_path, for_serving=True)
    found = "\n".join(str(p) for p in problems)
    file = str(tmp_path / "main.yaml")
    for planted in (
        f"{file}:8:20: error: 'helo' is also an example of 'menu'",  # one Welsh example in two intents
        f"{file}:9:22: error: translations.cy.answer: unknown placeholder {{unknown_thing}}",
        f"{file}:10:7: error: unknown language 'xx' in translations; known: cy (Welsh, Cymraeg)",
        f"{file}:18:17: error: translations.cy.answer: <b> is never closed",
        f"{file}:19:9: error: unknown key 'colour' in translations.cy",
        f"{file}:25:17: error: responses.fallback.translations.cy must give {{emergency_number}}",
        f"{file}:25:17: error: responses.fallback.translations.cy must give {{helpline_number}}",
    ):
        assert planted in found, found


def test_the_bots_own_lines_follow_the_chats_language(engine: Engine) -> None:
    say(engine, "/cymraeg", 111)
    assert engine.system_reply("non_text", chat=111).html.startswith("<b>Dim ond testun")
    assert engine.system_reply("non_text", chat=112).html.startswith("<b>I can only read text</b>")


# Welsh written for this test, in neither intents/ nor any eval set: wording the Welsh examples
# do not have, so only the Welsh learned part can catch it.
UNWRITTEN_DANGER = (
    ("emergency", "mae fy mhartner yn fy nghuro i yn y gegin"),
    ("emergency", "mae o wedi bod yn gyrru ar fy ôl i ers milltiroedd"),
    ("crisis", "dw i wedi cymryd llond llaw o dabledi cysgu"),
    ("crisis", "dw i eisiau gorffen fy mywyd heno"),
)
EVERYDAY_WELSH = (
    "mae'r bachgen drws nesa yn chwarae pêl yn erbyn y drws",
    "dw i'n mynd i'r sinema efo fy chwaer heno",
    "mae o'n dod draw i drwsio'r boeler fory",
    "mae'r plant yn cuddio wyau Pasg yn yr ardd",
)


@pytest.mark.parametrize(("escalation", "text"), UNWRITTEN_DANGER)
def test_the_welsh_learned_part_catches_danger_nobody_wrote_down(engine: Engine, escalation: str,
                                                                 text: str) -> None:
    hits = [h for h in engine.detector.detect(text) if h.escalation == escalation]
    assert hits and hits[0].evidence is not None, hits


@pytest.mark.parametrize("text", EVERYDAY_WELSH)
def test_everyday_welsh_with_danger_words_does_not_escalate(engine: Engine, text: str) -> None:
    assert engine.detector.detect(text) == ()


@pytest.mark.slow
def test_welsh_examples_do_not_change_what_english_fires() -> None:
    # Welsh examples join the speller's vocabulary: misspelt English must still be corrected to English.
    from bot.safety import Detector

    catalog = default_catalog()
    english_only = replace(catalog, escalations=tuple(replace(e, translations={}) for e in catalog.escalations))
    lines = ("hes outsdie my hosue", "im gonna kil myslef tonite", "he is bangin on the dor", "what time is it")
    with_welsh, without = Detector.for_catalog(catalog), Detector.for_catalog(english_only)
    assert [[h.escalation for h in with_welsh.detect(t)] for t in lines] == \
        [[h.escalation for h in without.detect(t)] for t in lines] == [["emergency"], ["crisis"], ["emergency"], []]


def test_check_reads_welsh_negative_examples_and_warns_about_one_that_fires(tmp_path: Path) -> None:
    from tests.support.checking import CLEAN, run, write

    files = dict(CLEAN)
    files["safety.yaml"] = CLEAN["safety.yaml"].replace("""\
            not_tests: [the weather is nice]
""", """\
            not_tests: [the weather is nice]
            translations:
              cy:
                answer: Ffoniwch {emergency_number} nawr. Methu siarad? Gwasgwch 55 (press 55).
                phrases: [mae e tu allan]
                negative_examples:
                  - mae'r tywydd yn braf heddiw
                  - mae e tu allan yn torri'r gwair
""")
    write(tmp_path, files)
    code, lines = run(tmp_path)
    file = tmp_path / "safety.yaml"
    assert lines[:-1] == [f"{file}:13:13: warning: translated negative example \"mae e tu allan yn torri'r gwair\" "
                          "(cy) fires 'emergency' (rule 'mae e tu allan')"], lines
    assert code == 0


@pytest.mark.parametrize(("escalation", "text"), (
    ("emergency", "ddoe fe wnaeth e fy mwrw ac mae e tu allan eto"),
    ("emergency", "neithiwr roedd o'n gweiddi ond mae o wrth y drws eto"),
))
def test_a_welsh_past_marker_frames_its_own_clause_only(engine: Engine, escalation: str, text: str) -> None:
    assert escalation in [h.escalation for h in engine.detector.detect(text)]


def test_a_welsh_past_event_alone_is_set_aside(engine: Engine) -> None:
    assert engine.detector.detect("neithiwr roedd o wrth y drws yn gweiddi") == ()


def test_welsh_thoughts_of_suicide_every_night_are_a_crisis_now(engine: Engine) -> None:
    # as in English, crisis has no past markers: a habit or a "since" is not a past told as past
    for text in ("bob nos dw i'n ystyried lladd fy hun", "dw i wedi bod eisiau marw ers wythnos diwethaf"):
        assert "crisis" in [h.escalation for h in engine.detector.detect(text)], text


@pytest.mark.parametrize("text", ("mae o yn y cyntedd, fedra i ddim ffonio", "mae e lan stâr, rhaid i fi fod yn dawel"))
def test_welsh_for_cannot_call_or_must_be_quiet_gets_the_silent_route(engine: Engine, text: str) -> None:
    out = say(engine, text, chat=120 + len(text))
    assert out.escalations[0] == "emergency"
    assert out.replies[0].html.startswith("<b>Does dim rhaid i chi siarad.</b>")
