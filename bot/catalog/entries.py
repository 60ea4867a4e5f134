"""What each intent file says, as written: its entries with their positions, and every problem of shape.

Reading turns each file's YAML (bot/catalog/read.py) into records (`Entry`, `Text`) that keep where each
value was written; unknown keys, wrong types, bad ids and impossible hours are reported here, through the
reporter of the file they are in. Checks across files (bot/catalog/rules.py) come after.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import jurisdiction
from bot.catalog.files import catalog_files
from bot.catalog.problems import FileProblems, Problems
from bot.catalog.read import MAX_FILE_BYTES, YMap, YNode, YScalar, YSeq, kind, parse_text, read_text
from bot.catalog.schema import (
    LANGUAGES,
    OPTIONAL_RESPONSES,
    REQUIRED_RESPONSES,
    MatcherSettings,
    OpeningHours,
    Source,
)
from bot.hours import DAYS, parse_span
from bot.patterns import PatternError, compile_pattern
from bot.text import normalise
from bot.turns import FOLLOW_UP_PREFIX

MAX_FILES = 500
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_CALLBACK_BYTES = 64  # Telegram's limit on a button's callback data ("i:<intent id>")
TITLE_MAX = 40  # longer titles get cut off on phone-width buttons
FEW_EXAMPLES = 5
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

TOP_KEYS = ("intents", "escalations", "opening_hours", "responses", "out_of_scope", "everyday", "settings",
            "synonyms")
INTENT_KEYS = ("id", "title", "examples", "negative_examples", "keywords", "answer", "buttons", "tests",
               "variants", "follow_ups", "translations")
FOLLOW_UP_KEYS = ("id", "title", "examples", "answer", "buttons", "tests")
ESCALATION_KEYS = (
    "id", "title", "phrases", "threats", "patterns", "past_markers", "reported_markers", "present_markers",
    "examples", "negative_examples", "answer", "follow_up", "silent_phrases", "silent_answer", "buttons", "tests",
    "not_tests", "translations", "reported_frames_learned", "learned_reads_whole",
)
HOURS_KEYS = ("id", "name", "timezone", "weekly", "closed_dates", "open_text", "closed_text", "closed_variants")
RESPONSE_KEYS = ("answer", "buttons", "variants", "translations")
# What a translation (translations: {<language code>: {...}}) may give, per kind of entry.
TRANSLATION_KEYS = {
    "intent": ("title", "answer", "examples"),
    "response": ("answer",),
    "escalation": ("answer", "follow_up", "silent_answer", "phrases", "silent_phrases", "past_markers",
                   "present_markers", "examples", "negative_examples"),
}
TRANSLATED_LISTS = ("examples", "negative_examples", "phrases", "silent_phrases", "past_markers", "present_markers")
BUTTON_KEYS = ("text", "intent", "url")
SETTINGS_KEYS = ("threshold", "margin", "suggest", "max_suggestions", "unknown_words")
AUTO_SETTINGS = ("threshold", "margin", "suggest")  # left out, the matcher chooses them (bot/calibration.py)


def _empty(node: YNode) -> bool:
    """An empty list (``[]``) or no value at all."""
    return (isinstance(node, YSeq) and not node.items) or (isinstance(node, YScalar) and node.value is None)


def suggest(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest choice, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def title_from_id(intent_id: str) -> str:
    """how_to_report -> "How to report"."""
    return intent_id.replace("_", " ").strip().capitalize()


@dataclass
class Text:
    """A string from a file with the node it came from (for positions)."""

    value: str
    node: YScalar
    file: str = ""


@dataclass
class ButtonEntry:
    """A button as read: an intent to show, or a link, with an optional label."""

    node: YNode
    text: Text | None = None
    intent: Text | None = None
    url: Text | None = None


@dataclass
class Entry:
    """An intent, follow-up, escalation or response as read, before the checks across files."""

    kind: str  # intent | follow_up | escalation | response
    id: Text
    node: YMap
    file: str
    fields: dict[str, Any] = field(default_factory=dict)
    buttons: list[ButtonEntry] = field(default_factory=list)
    follow_ups: list[Entry] = field(default_factory=list)

    def source(self) -> Source:
        """Where the entry starts."""
        return Source(self.file, self.node.line, self.node.col)


@dataclass
class Found:
    """Everything the files of one folder say, as read: entries in file order, with their positions."""

    directory: Path
    service: Mapping[str, str]
    texts: dict[str, str] = field(default_factory=dict)  # file -> its text, for each file read
    intents: list[Entry] = field(default_factory=list)
    escalations: list[Entry] = field(default_factory=list)
    responses: list[Entry] = field(default_factory=list)
    hours: list[tuple[OpeningHours, YMap, dict[str, Text]]] = field(default_factory=list)
    hours_texts: list[tuple[str, Text]] = field(default_factory=list)  # open_text / closed_text of every entry
    out_of_scope: list[Text] = field(default_factory=list)
    everyday: list[Text] = field(default_factory=list)
    synonyms: list[tuple[Text, list[Text]]] = field(default_factory=list)  # (canonical words, what people say)
    settings: MatcherSettings | None = None
    settings_file: str | None = None


def read_folder(directory: Path, problems: Problems, service: Mapping[str, str]) -> Found:
    """Read every intent file of ``directory``; each problem goes to its file's reporter, never raised."""
    found = Found(directory, dict(service))
    folder = problems.file(str(directory))
    if not directory.is_dir():
        folder.error(None, "no such folder of intent files")
        return found
    files = catalog_files(directory)
    if not files:
        folder.error(None, "no intent files (*.yaml) in this folder")
        return found
    if len(files) > MAX_FILES:
        folder.error(None, f"{len(files)} intent files; the limit is {MAX_FILES}")
        return found
    total = 0
    for path in files:
        report = problems.file(str(path))
        with contextlib.suppress(OSError):  # read_text reports unreadable and oversized files
            size = path.stat().st_size
            total += size if size <= MAX_FILE_BYTES else 0
        if total > MAX_TOTAL_BYTES:
            report.error(None, f"the intent files add up to over {MAX_TOTAL_BYTES:,} bytes: not read", 1, 1)
            break
        text, yaml_problems = read_text(path, MAX_FILE_BYTES)
        root = None
        if text is not None:
            found.texts[report.file] = report.text = text
            root, yaml_problems = parse_text(text)
        for p in yaml_problems:
            report.error(None, p.message, p.line, p.col)
        if root is not None and not _empty(root):
            _FileReader(report, found).read_file(root)
        elif text is not None and not yaml_problems:
            report.warn(None, "empty file", 1, 1)
    return found


class _FileReader:
    """Reads one file's entries into ``found``, reporting through that file's own reporter."""

    def __init__(self, report: FileProblems, found: Found) -> None:
        self.report = report
        self.found = found

    def read_file(self, root: YNode) -> None:
        """A file's top-level keys, each read by its own reader."""
        if not isinstance(root, YMap):
            self.report.error(root, f"expected keys ({', '.join(TOP_KEYS)}) at the top, found {kind(root)}")
            return
        self.keys(root, TOP_KEYS, "at the top of a file")
        for name, reader in (
            ("intents", self.read_intent),
            ("escalations", self.read_escalation),
            ("opening_hours", self.read_hours),
        ):
            node = root.items.get(name)
            if node is None:
                continue
            if not isinstance(node, YSeq):
                self.report.error(node, f"{name}: expected a list (items starting with '- '), found {kind(node)}")
                continue
            for item in node.items:
                if isinstance(item, YMap):
                    reader(item)
                else:
                    self.report.error(item, f"each entry of {name} must be a mapping (id: ...), found {kind(item)}")
        if "responses" in root.items:
            self.read_responses(root.items["responses"])
        if "out_of_scope" in root.items:
            self.found.out_of_scope.extend(self.text_list(root.items["out_of_scope"], "out_of_scope"))
        if "everyday" in root.items:
            self.found.everyday.extend(self.text_list(root.items["everyday"], "everyday"))
        if "settings" in root.items:
            self.read_settings(root.items["settings"])
        if "synonyms" in root.items:
            self.read_synonyms(root.items["synonyms"])

    def keys(self, node: YMap, allowed: tuple[str, ...], where: str) -> None:
        """Every key of ``node`` not in ``allowed`` is an error, with the closest known key as a hint."""
        for key, key_node in node.keys.items():
            if key in allowed:
                continue
            if allowed is TOP_KEYS and key in INTENT_KEYS + ESCALATION_KEYS:
                self.report.error(key_node, f"{key!r} is at the top of the file, but it belongs to an intent or "
                                            "escalation: indent it to line up with the 'id:' above")
                continue
            self.report.error(key_node, f"unknown key {key!r} {where}{suggest(key, allowed)}; "
                                        f"known keys: {', '.join(allowed)}")

    def text(
        self, node: YNode | None, what: str, *, required: bool = False, parent: YNode | None = None
    ) -> Text | None:
        """A non-empty text value, or None (and an error unless it is optional and absent)."""
        if node is None:
            if required:
                self.report.error(parent, f"missing {what}: add a line '{what.split()[-1]}: ...'")
            return None
        if isinstance(node, YScalar) and isinstance(node.value, str):
            if not node.value.strip():
                self.report.error(node, f"{what} is empty")
                return None
            return Text(node.value, node, self.report.file)
        if isinstance(node, YScalar) and node.value is not None:
            self.report.error(node, f"{what} must be text, but {node.raw!r} reads as {kind(node)}: quote it "
                                    f"(\"{node.raw}\")")
        elif isinstance(node, YScalar):
            self.report.error(node, f"{what} is empty: write it after the colon")
        else:
            self.report.error(node, f"{what} must be text, found {kind(node)}")
        return None

    def flag(self, node: YNode | None, what: str) -> bool:
        """A true/false value; absent or empty is false, anything else an error (and false)."""
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return False
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        shown = node.raw if isinstance(node, YScalar) else kind(node)
        self.report.error(node, f"{what} must be true or false, found {shown!r}")
        return False

    def text_list(self, node: YNode, what: str) -> list[Text]:
        """A list of non-empty phrases; each item that is not one is an error, and left out."""
        if isinstance(node, YScalar) and node.value is None:
            return []
        if not isinstance(node, YSeq):
            self.report.error(node, f"{what}: expected a list of phrases (each on a line starting with '- '), "
                                    f"found {kind(node)}")
            return []
        out: list[Text] = []
        for item in node.items:
            if isinstance(item, YScalar) and isinstance(item.value, str):
                if item.value.strip():
                    out.append(Text(item.value, item, self.report.file))
                else:
                    self.report.error(item, f"empty phrase in {what}: remove it")
            elif isinstance(item, YScalar) and item.value is not None:
                self.report.error(item, f"{what}: {item.raw!r} reads as {kind(item)}, not text: quote it "
                                        f"(\"{item.raw}\")")
            else:
                self.report.error(item, f"{what}: expected a phrase, found {kind(item)}")
        return out

    def listed_once(self, texts: list[Text], what: str, exact: bool = False) -> None:
        """A warning for each phrase listed again in the same list (as the matcher reads it, or exactly)."""
        seen: dict[str, Text] = {}
        for t in texts:
            first = seen.setdefault(t.value if exact else normalise(t.value), t)
            if first is not t:
                self.report.warn(t.node, f"{what}: {t.value!r} is listed twice (also at line {first.node.line}): "
                                         "remove one")

    def read_entry(self, node: YMap, entry_kind: str, allowed: tuple[str, ...]) -> Entry | None:
        """What intents and escalations share: id, title, answer, buttons and translations."""
        what = "intent" if entry_kind == "intent" else "escalation"
        self.keys(node, allowed, f"in an {what}")
        id_text = self.text(node.items.get("id"), f"{what} id", required=True, parent=node)
        if id_text is None:
            return None
        if not ID_PATTERN.match(id_text.value):
            better = re.sub(r"[^a-z0-9_]+", "_", id_text.value.lower()).strip("_")
            if not ID_PATTERN.match(better):  # "100 nights" -> "intent_100_nights", never the same bad id
                better = f"{what}_{better}".rstrip("_")
            self.report.error(id_text.node, f"{what} id {id_text.value!r} must be lower_snake_case "
                                            f"(a-z, 0-9 and _, starting with a letter), e.g. {better!r}")
        elif len(id_text.value.encode()) > MAX_CALLBACK_BYTES - 2:
            self.report.error(id_text.node, f"{what} id is too long for a Telegram button: use at most "
                                            f"{MAX_CALLBACK_BYTES - 2} characters")
        entry = Entry(entry_kind, id_text, node, self.report.file)
        title = self.text(node.items.get("title"), "title")
        if title is not None and len(title.value) > TITLE_MAX:
            self.report.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
                                         f"{TITLE_MAX} on phones; shorten it")
        entry.fields["title"] = title
        entry.fields["answer"] = self.text(node.items.get("answer"), "answer", required=True, parent=node)
        if "buttons" in node.items:
            entry.buttons = self.read_buttons(node.items["buttons"])
        if "translations" in node.items:
            entry.fields["translations"] = self.read_translations(node.items["translations"], entry_kind)
        return entry

    def read_translations(self, node: YNode, entry_kind: str) -> dict[str, dict[str, Any]]:
        """``translations: {cy: {answer: ...}}``: each language's texts, read like the English ones."""
        allowed = TRANSLATION_KEYS[entry_kind]
        codes = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
        if not isinstance(node, YMap):
            self.report.error(node, f"translations: expected language codes ({codes}), found {kind(node)}")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for code, value in node.items.items():
            if code not in LANGUAGES:
                self.report.error(node.keys[code], f"unknown language {code!r} in translations"
                                                   f"{suggest(code, LANGUAGES)}; known: {codes}")
                continue
            where = f"translations.{code}"
            if not isinstance(value, YMap):
                self.report.error(value, f"{where}: expected {', '.join(allowed)}, found {kind(value)}")
                continue
            self.keys(value, allowed, f"in {where}")
            texts: dict[str, Any] = {}
            for name in allowed:
                if name in TRANSLATED_LISTS:
                    texts[name] = self.text_list(value.items[name], f"{where}.{name}") if name in value.items else []
                else:
                    texts[name] = self.text(value.items.get(name), f"{where}.{name}",
                                            required=name == "answer" and entry_kind != "intent", parent=value)
            title = texts.get("title")
            if title is not None and len(title.value) > TITLE_MAX:
                self.report.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
                                             f"{TITLE_MAX} on phones; shorten it")
            out[code] = texts
        return out

    def read_intent(self, node: YMap) -> None:
        """An intent, with its examples, variants and follow-ups."""
        entry = self.read_entry(node, "intent", INTENT_KEYS)
        if entry is None:
            return
        for name in ("examples", "negative_examples", "keywords", "tests"):
            entry.fields[name] = self.text_list(node.items[name], name) if name in node.items else []
        entry.fields["variants"] = self.read_variants(node.items.get("variants"), "variants")
        if "examples" not in node.items:
            self.report.error(node, f"intent {entry.id.value!r} has no examples: add examples: with what people say")
        elif not entry.fields["examples"] and _empty(node.items["examples"]):
            self.report.error(node.items["examples"], "examples is empty: add what people say")
        elif 0 < len(entry.fields["examples"]) < FEW_EXAMPLES:
            self.report.warn(node.items["examples"], f"only {len(entry.fields['examples'])} examples: "
                                                     f"{FEW_EXAMPLES} or more make matching reliable")
        if "follow_ups" in node.items:
            entry.follow_ups = self.read_follow_ups(node.items["follow_ups"], entry.id.value)
        self.found.intents.append(entry)

    def read_follow_ups(self, node: YNode, intent_id: str) -> list[Entry]:
        """An intent's follow_ups: each a small intent of its own, answered within the topic."""
        if _empty(node):
            return []
        if not isinstance(node, YSeq):
            self.report.error(node, f"follow_ups: expected a list (items starting with '- '), found {kind(node)}")
            return []
        out: list[Entry] = []
        seen: dict[str, Entry] = {}
        owner: dict[str, tuple[str, Text]] = {}  # normalised example -> (follow-up id, where)
        for item in node.items:
            if not isinstance(item, YMap):
                self.report.error(item, f"each follow-up must be a mapping (id: ...), found {kind(item)}")
                continue
            self.keys(item, FOLLOW_UP_KEYS, "in a follow-up")
            fid = self.text(item.items.get("id"), "follow-up id", required=True, parent=item)
            if fid is None:
                continue
            if not ID_PATTERN.match(fid.value):
                self.report.error(fid.node, f"follow-up id {fid.value!r} must be lower_snake_case (a-z, 0-9 and _)")
                continue
            data = f"{FOLLOW_UP_PREFIX}{intent_id}/{fid.value}"
            if len(data.encode()) > MAX_CALLBACK_BYTES:
                self.report.error(fid.node, f"follow-up id is too long for a Telegram button: {intent_id!r} and "
                                            f"{fid.value!r} together may have at most "
                                            f"{MAX_CALLBACK_BYTES - 3} characters")
            if fid.value in seen:
                self.report.error(fid.node, f"follow-up id {fid.value!r} is already used in {intent_id!r} at line "
                                            f"{seen[fid.value].id.node.line}: ids must be unique within an intent")
                continue
            entry = Entry("follow_up", fid, item, self.report.file)
            seen[fid.value] = entry
            title = self.text(item.items.get("title"), "follow-up title", required=True, parent=item)
            if title is not None and len(title.value) > TITLE_MAX:
                self.report.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
                                             f"{TITLE_MAX} on phones; shorten it")
            entry.fields["title"] = title
            entry.fields["answer"] = self.text(item.items.get("answer"), "answer", required=True, parent=item)
            for name in ("examples", "tests"):
                entry.fields[name] = self.text_list(item.items[name], name) if name in item.items else []
            if not entry.fields["examples"]:
                where = item.items.get("examples") or item
                self.report.error(where, f"follow-up {fid.value!r} has no examples: add the short questions people ask")
            for t in entry.fields["examples"]:
                norm = normalise(t.value)
                first = owner.setdefault(norm, (fid.value, t))
                if first[0] != fid.value:
                    self.report.error(t.node, f"{t.value!r} is also an example of follow-up {first[0]!r} "
                                              f"(line {first[1].node.line}): keep it in one")
            if "buttons" in item.items:
                entry.buttons = self.read_buttons(item.items["buttons"])
            out.append(entry)
        return out

    def read_escalation(self, node: YMap) -> None:
        """An escalation, with its phrases, patterns (each compiled for RE2) and learned examples."""
        entry = self.read_entry(node, "escalation", ESCALATION_KEYS)
        if entry is None:
            return
        for name in ("phrases", "threats", "patterns", "past_markers", "reported_markers",
                     "present_markers", "examples", "negative_examples", "silent_phrases", "tests", "not_tests"):
            entry.fields[name] = self.text_list(node.items[name], name) if name in node.items else []
            self.listed_once(entry.fields[name], name, exact=name == "patterns")
        for name in ("follow_up", "silent_answer"):
            entry.fields[name] = self.text(node.items.get(name), name)
        for flag in ("reported_frames_learned", "learned_reads_whole"):
            entry.fields[flag] = self.flag(node.items.get(flag), flag)
        if bool(entry.fields["silent_phrases"]) != bool(entry.fields["silent_answer"]):
            self.report.error(node, f"escalation {entry.id.value!r}: silent_phrases and silent_answer go together")
        if not any(entry.fields[k] for k in ("phrases", "threats", "patterns", "examples")):
            self.report.error(node, f"escalation {entry.id.value!r} has no phrases, threats, patterns or examples")
        if bool(entry.fields["examples"]) != bool(entry.fields["negative_examples"]):
            have, lack = ("examples", "negative_examples") if entry.fields["examples"] else (
                "negative_examples", "examples")
            self.report.error(node.items[have], f"escalation {entry.id.value!r} has {have} but no {lack}: the learned "
                                                "check needs both sides to learn what tells them apart")
        for pattern in entry.fields["patterns"]:
            try:
                compile_pattern(pattern.value)
            except PatternError as exc:
                self.report.error(pattern.node, f"invalid pattern for RE2: {exc}")
        self.found.escalations.append(entry)

    def read_variants(self, node: YNode | None, what: str) -> dict[str, Text]:
        """``variants:`` (or ``closed_variants:``): a jurisdiction id -> that nation's own text."""
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return {}
        if not isinstance(node, YMap):
            self.report.error(node, f"{what}: expected jurisdictions ({', '.join(jurisdiction.VARIANTS)}), each with "
                                    f"its own text, found {kind(node)}")
            return {}
        out: dict[str, Text] = {}
        for name, value in node.items.items():
            key = node.keys[name]
            if name == jurisdiction.DEFAULT or name == "england":
                self.report.error(key, f"{what}: {name!r} is the default text: write it in answer: (or closed_text:) "
                                       f"and give variants only for {', '.join(jurisdiction.VARIANTS)}")
                continue
            if name not in jurisdiction.VARIANTS:
                hint = suggest(name, jurisdiction.VARIANTS) or (" (did you mean 'northern_ireland'?)"
                                                               if name.casefold() in ("ni", "n_ireland") else "")
                self.report.error(key, f"{what}: unknown jurisdiction {name!r}{hint}; known: "
                                       f"{', '.join(jurisdiction.VARIANTS)}")
                continue
            text = self.text(value, f"{what}.{name}")
            if text is not None:
                out[name] = text
        return out

    def read_buttons(self, node: YNode) -> list[ButtonEntry]:
        """Buttons: an intent id, {text, intent} or {text, url}; each broken one is left out."""
        if not isinstance(node, YSeq):
            self.report.error(node, f"buttons: expected a list, found {kind(node)}")
            return []
        out: list[ButtonEntry] = []
        for item in node.items:
            if isinstance(item, YScalar):
                target = self.text(item, "button (an intent id)")
                if target is not None:
                    out.append(ButtonEntry(item, intent=target))
                continue
            if isinstance(item, YSeq):
                self.report.error(item, "a button is an intent id, {text: .., intent: ..} or {text: .., url: ..}")
                continue
            self.keys(item, BUTTON_KEYS, "in a button")
            rec = ButtonEntry(item)
            rec.text = self.text(item.items.get("text"), "button text")
            rec.intent = self.text(item.items.get("intent"), "button intent")
            rec.url = self.text(item.items.get("url"), "button url")
            if (rec.intent is None) == (rec.url is None):
                if "intent" not in item.items and "url" not in item.items:
                    self.report.error(item, "a button needs intent: (an intent id) or url: (an https:// link)")
                elif rec.intent is not None:
                    self.report.error(item, "a button has either intent: or url:, not both")
                continue
            if rec.url is not None and rec.text is None and "text" not in item.items:
                self.report.error(item, "a link button needs text: (its label)")
                continue
            out.append(rec)
        return out

    def read_hours(self, node: YMap) -> None:
        """A line's opening hours: its time zone, weekly spans, closed dates and status texts."""
        self.keys(node, HOURS_KEYS, "in opening_hours")
        hid = self.text(node.items.get("id"), "opening_hours id", required=True, parent=node)
        name = self.text(node.items.get("name"), "name")
        tz_text = self.text(node.items.get("timezone"), "timezone")
        tz = tz_text.value if tz_text else self.found.service.get("timezone", "Europe/London")
        tz_ok = True
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.report.error(tz_text.node if tz_text else node, f"unknown time zone {tz!r} (e.g. Europe/London)")
            tz_ok = False
        texts: dict[str, Text] = {}
        for key in ("open_text", "closed_text"):
            t = self.text(node.items.get(key), key, required=True, parent=node)
            if t is not None:
                texts[key] = t
                self.found.hours_texts.append((key, t))
        closed_variants = self.read_variants(node.items.get("closed_variants"), "closed_variants")
        for nation, variant in closed_variants.items():
            self.found.hours_texts.append((f"closed_variants.{nation}", variant))
        weekly = self.read_weekly(node.items.get("weekly"), node)
        closed = self.read_dates(node.items.get("closed_dates"))
        if hid is None or not tz_ok or weekly is None or closed is None or len(texts) < 2:
            return
        if not ID_PATTERN.match(hid.value):
            self.report.error(hid.node, f"opening_hours id {hid.value!r} must be lower_snake_case")
            return
        hours = OpeningHours(
            hid.value, name.value if name else title_from_id(hid.value), tz, MappingProxyType(weekly),
            frozenset(closed), texts["open_text"].value, texts["closed_text"].value,
            Source(self.report.file, node.line, node.col),
            closed_variants=MappingProxyType({n: t.value for n, t in closed_variants.items()}),
        )
        self.found.hours.append((hours, node, texts))

    def read_weekly(self, node: YNode | None, parent: YMap) -> dict[int, tuple[Any, ...]] | None:
        """``weekly:``: day -> time spans, None when a span is broken or two overlap."""
        if node is None:
            self.report.error(parent, "missing weekly: (e.g. weekly: {monday: [\"09:30-16:00\"]})")
            return None
        if not isinstance(node, YMap):
            self.report.error(node, f"weekly: expected day names with time spans, found {kind(node)}")
            return None
        self.keys(node, DAYS, "in weekly (day names in lower case)")
        weekly: dict[int, tuple[Any, ...]] = {}
        ok = True
        for day, spans_node in node.items.items():
            if day not in DAYS:
                ok = False
                continue
            spans = []
            if isinstance(spans_node, YScalar) and isinstance(spans_node.value, str):
                spans_node = YSeq([spans_node], spans_node.line, spans_node.col)  # one span, unlisted
            for span in self.text_list(spans_node, f"weekly.{day}"):
                try:
                    spans.append(parse_span(span.value))
                except ValueError as exc:
                    ok = False
                    self.report.error(span.node, str(exc))
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    ok = False
                    self.report.error(spans_node, f"weekly.{day}: the time spans overlap")
            if spans:
                weekly[DAYS.index(day)] = tuple(spans)
        if ok and not weekly:
            self.report.error(node, "weekly lists no opening times")
            ok = False
        return weekly if ok else None

    def read_dates(self, node: YNode | None) -> set[str] | None:
        """``closed_dates:`` as ISO dates, None when one is not a date."""
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return set()
        if not isinstance(node, YSeq):
            self.report.error(node, f"closed_dates: expected a list of dates (YYYY-MM-DD), found {kind(node)}")
            return None
        out: set[str] = set()
        for item in node.items:
            value = item.value if isinstance(item, YScalar) else None
            if isinstance(value, datetime):
                value = value.date()
            if isinstance(value, date):
                out.add(value.isoformat())
                continue
            try:
                out.add(date.fromisoformat(str(value)).isoformat())
            except ValueError:
                self.report.error(item, f"closed_dates: {value!r} is not a date like 2026-12-25")
                return None
        return out

    def read_responses(self, node: YNode) -> None:
        """``responses:``: the bot's own answers by name (fallback, did_you_mean ...)."""
        known = REQUIRED_RESPONSES + OPTIONAL_RESPONSES
        if not isinstance(node, YMap):
            self.report.error(node, f"responses: expected names ({', '.join(known)}), found {kind(node)}")
            return
        for name, value in node.items.items():
            key = node.keys[name]
            if name not in known:
                self.report.error(key, f"unknown response {name!r}{suggest(name, known)}; known: {', '.join(known)}")
                continue
            if isinstance(value, YScalar) and isinstance(value.value, str):
                value = YMap({"answer": value}, {"answer": key}, value.line, value.col)
            if not isinstance(value, YMap):
                self.report.error(value, f"responses.{name}: expected answer: (and buttons:), found {kind(value)}")
                continue
            self.keys(value, RESPONSE_KEYS, f"in responses.{name}")
            entry = Entry("response", Text(name, key), value, self.report.file)
            answer = self.text(value.items.get("answer"), "answer", required=True, parent=value)
            entry.fields["answer"] = answer
            entry.fields["variants"] = self.read_variants(value.items.get("variants"), "variants")
            if "buttons" in value.items:
                entry.buttons = self.read_buttons(value.items["buttons"])
            if "translations" in value.items:
                entry.fields["translations"] = self.read_translations(value.items["translations"], "response")
            self.found.responses.append(entry)

    def read_synonyms(self, node: YNode) -> None:
        """``synonyms:``: the catalog's words, each with the list of what people say instead."""
        if isinstance(node, YScalar) and node.value is None:
            return
        if not isinstance(node, YMap):
            self.report.error(node, "synonyms: expected the catalog's words as keys, each with a list of what "
                                    f"people say instead (police: [cops, the feds]), found {kind(node)}")
            return
        for key, value in node.items.items():
            key_node = node.keys[key]
            if not key.strip():
                self.report.error(key_node, "synonyms: an empty key: write the catalog's words")
                continue
            variants = self.text_list(value, f"synonyms of {key!r}")
            self.found.synonyms.append((Text(key, key_node, self.report.file), variants))

    def read_settings(self, node: YNode) -> None:
        """``settings:``: the matcher's thresholds; given in one file only."""
        if self.found.settings_file is not None:
            self.report.error(node, f"settings are already given in {self.found.settings_file}: keep them in one file")
            return
        self.found.settings_file = self.report.file
        if not isinstance(node, YMap):
            self.report.error(node, f"settings: expected {', '.join(SETTINGS_KEYS)}, found {kind(node)}")
            return
        self.keys(node, SETTINGS_KEYS, "in settings")
        values: dict[str, Any] = {}
        for key, value in node.items.items():
            if key not in SETTINGS_KEYS or not isinstance(value, YScalar):
                continue
            v = value.value
            if key == "max_suggestions":
                if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 8:
                    self.report.error(value, "max_suggestions must be a whole number from 1 to 8")
                    continue
            elif key == "unknown_words":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 10:
                    self.report.error(value, "unknown_words must be a number from 0 (off) to 10")
                    continue
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
                self.report.error(value, f"{key} must be a number from 0 to 100 (the matcher's score scale)")
                continue
            values[key] = v
        auto = frozenset(AUTO_SETTINGS) - values.keys()
        settings = MatcherSettings(**values, auto=auto)
        if "threshold" not in auto and settings.suggest > settings.threshold:
            self.report.error(node, "settings: suggest must not be above threshold")
        self.found.settings = settings


@dataclass(frozen=True)
class Positions:
    """Where each phrase was written, for the checks that run on the built Catalog."""

    directory: str
    # (owner, field, index) -> position; owner is an intent id, "<intent id>/<follow-up id>",
    # "escalation:<id>", "hours:<id>" or "";
    # field is examples, negative_examples, tests, not_tests, out_of_scope or closed_dates.
    by_key: Mapping[tuple[str, str, int], Source]

    def of(self, owner: str, field_name: str, index: int = 0) -> Source:
        """Where a phrase was written (falls back to its owner's position, then to the folder)."""
        found = self.by_key.get((owner, field_name, index)) or self.by_key.get((owner, "", 0))
        return found or Source(self.directory, 0, 0)


def positions(found: Found, directory: str) -> Positions:
    """The position of every phrase `Positions` knows, from what was read."""
    out: dict[tuple[str, str, int], Source] = {}
    for prefix, entries in (("", found.intents), ("escalation:", found.escalations)):
        for e in entries:
            owner = prefix + e.id.value
            if (owner, "", 0) in out:  # a duplicate id: the first one was built
                continue
            out[(owner, "", 0)] = e.source()
            for name, texts in e.fields.items():
                if isinstance(texts, list):
                    for i, t in enumerate(texts):
                        out[(owner, name, i)] = Source(e.file, t.node.line, t.node.col)
            for f in e.follow_ups:  # owner "<intent id>/<follow-up id>"
                out.setdefault((f"{owner}/{f.id.value}", "", 0), f.source())
                for name in ("examples", "tests"):
                    for i, t in enumerate(f.fields.get(name, [])):
                        out[(f"{owner}/{f.id.value}", name, i)] = Source(f.file, t.node.line, t.node.col)
            for code, translated in e.fields.get("translations", {}).items():
                for name in TRANSLATED_LISTS:
                    for i, t in enumerate(translated.get(name, ())):
                        out[(owner, f"translations.{code}.{name}", i)] = Source(e.file, t.node.line, t.node.col)
    for hours, node, _ in found.hours:
        file = hours.source.file if hours.source else ""
        where = node.keys.get("closed_dates") or node
        out.setdefault((f"hours:{hours.id}", "closed_dates", 0), Source(file, where.line, where.col))
    for i, t in enumerate(found.out_of_scope):
        out[("", "out_of_scope", i)] = Source(t.file, t.node.line, t.node.col)
    for i, t in enumerate(found.everyday):
        out[("", "everyday", i)] = Source(t.file, t.node.line, t.node.col)
    return Positions(directory, MappingProxyType(out))
