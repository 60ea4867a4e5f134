"""intents/*.yaml -> Catalog, with every problem reported as file:line:col in one pass.

Loading never raises on bad input: it returns the problems (errors and warnings) and a Catalog only
when there is no error. `check` (bot/check.py) adds the slower, matcher-based checks on top.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import htmltext, jurisdiction, placeholders, templates
from bot.catalog.files import catalog_files
from bot.catalog.read import MAX_FILE_BYTES, YMap, YNode, YScalar, YSeq, kind, parse_text, read_text
from bot.catalog.schema import (
    ESCALATION_IDS,
    LANGUAGES,
    OPTIONAL_RESPONSES,
    REQUIRED_RESPONSES,
    Button,
    Catalog,
    Escalation,
    EscalationTranslation,
    FollowUp,
    Intent,
    IntentTranslation,
    MatcherSettings,
    OpeningHours,
    Response,
    ResponseTranslation,
    Source,
)
from bot.hours import DAYS, hours_text, parse_span
from bot.patterns import PatternError, compile_pattern
from bot.turns import FOLLOW_UP_PREFIX

MAX_FILES = 500
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_PROBLEMS_PER_FILE = 200
MAX_CALLBACK_BYTES = 64  # Telegram's limit on a button's callback data ("i:<intent id>")
MENU_ROOTS = ("menu", "greeting")  # where a person starts pressing buttons
SMALL_TALK = ("thanks", "goodbye")  # typed, never looked for in a menu
TITLE_MAX = 40  # longer titles get cut off on phone-width buttons
FEW_EXAMPLES = 5
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
EMERGENCY_MARKERS = ("{emergency_number}", "999")
HELPLINE_MARKERS = ("{helpline_number}", "0808 802 0300")

TOP_KEYS = ("intents", "escalations", "opening_hours", "responses", "out_of_scope", "everyday", "settings")
INTENT_KEYS = ("id", "title", "examples", "negative_examples", "keywords", "answer", "buttons", "tests",
               "variants", "follow_ups", "translations")
FOLLOW_UP_KEYS = ("id", "title", "examples", "answer", "buttons", "tests")
ESCALATION_KEYS = (
    "id", "title", "phrases", "threats", "patterns", "past_markers", "reported_markers", "present_markers",
    "examples", "negative_examples", "answer", "follow_up", "silent_phrases", "silent_answer", "buttons", "tests",
    "not_tests", "translations",
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
# A default answer naming one of these describes England and Wales law only, so a person in Scotland or
# Northern Ireland needs an answer of their own: an Act by name, "England and Wales", or an order that
# exists under that name only there (Northern Ireland's SPOs are under its own 2022 Act, told in its variant).
EW_ONLY_LAW = re.compile(
    r"England (?:and|&amp;|&) Wales|\b[A-Z][a-z]+(?: (?:[A-Z][a-z]+|from|of|and|the|on))* Act \d{4}|"
    r"(?i:\bSPOs?\b|Stalking Protection Orders?|\brestraining orders?|\bnon-molestation orders?|"
    r"Domestic Abuse Protection Orders?|\bDAPOs?\b|Clare's Law)")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``error``: the catalog cannot be used) or worth a look (``warning``)."""

    source: Source
    message: str
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, int, str]:
        """File, line, column, errors before warnings."""
        s = self.source
        return s.file, s.line, s.col, 0 if self.is_error else 1, self.message

    def __str__(self) -> str:
        where = str(self.source) if self.source.line else self.source.file
        return f"{where}: {self.severity}: {self.message}"


class CatalogError(Exception):
    """A catalog that cannot be used, with every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error]
        first = f": {errors[0]}" if errors else ""
        super().__init__(f"{len(errors)} error(s) in the catalog{first}")


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
class _Text:
    """A string from a file with the node it came from (for positions)."""

    value: str
    node: YScalar
    file: str = ""


@dataclass
class _ButtonRec:
    node: YNode
    text: _Text | None = None
    intent: _Text | None = None
    url: _Text | None = None


@dataclass
class _Entry:
    """An intent, escalation or response as read, before cross-file checks."""

    kind: str  # intent | escalation | response
    id: _Text
    node: YMap
    file: str
    fields: dict[str, Any] = field(default_factory=dict)
    buttons: list[_ButtonRec] = field(default_factory=list)
    follow_ups: list[_Entry] = field(default_factory=list)

    def source(self) -> Source:
        return Source(self.file, self.node.line, self.node.col)


class _Loader:
    def __init__(self, directory: Path, service: Mapping[str, str]) -> None:
        self.directory = directory
        self.service = dict(service)
        self.problems: list[Problem] = []
        self.texts: dict[str, str] = {}
        self.intents: list[_Entry] = []
        self.escalations: list[_Entry] = []
        self.responses: list[_Entry] = []
        self.hours: list[tuple[OpeningHours, YMap, dict[str, _Text]]] = []
        self.hours_texts: list[tuple[str, _Text]] = []  # open_text / closed_text of every entry
        self.out_of_scope: list[_Text] = []
        self.everyday: list[_Text] = []
        self.settings: MatcherSettings | None = None
        self.settings_file: str | None = None
        self.file = ""
        self.per_file: dict[str, int] = {}
        self.unlisted: dict[str, tuple[int, int]] = {}  # per file: (errors, warnings) past the listing cap

    # -- reporting -------------------------------------------------------------------------------

    def error(self, node: YNode | None, message: str, line: int = 0, col: int = 0) -> None:
        self._add(node, message, "error", line, col)

    def warn(self, node: YNode | None, message: str, line: int = 0, col: int = 0) -> None:
        self._add(node, message, "warning", line, col)

    def _add(self, node: YNode | None, message: str, severity: str, line: int, col: int) -> None:
        if node is not None and not line:
            line, col = node.line, node.col
        # A hostile or badly broken file could yield a problem per line: the first ones are listed, the
        # rest only counted (see unlisted), so a big file's warnings never turn into an error.
        count = self.per_file[self.file] = self.per_file.get(self.file, 0) + 1
        if count > MAX_PROBLEMS_PER_FILE:
            errors, warnings = self.unlisted.get(self.file, (0, 0))
            self.unlisted[self.file] = (errors + (severity == "error"), warnings + (severity != "error"))
            return
        self.problems.append(Problem(Source(self.file, line, col), message, severity))

    def close_listings(self) -> None:
        """One line per file whose problems were cut short: an error if any unlisted one is an error."""
        for file, (errors, warnings) in self.unlisted.items():
            counts = ", ".join(f"{n} {word}{'s' if n != 1 else ''}"
                               for n, word in ((errors, "error"), (warnings, "warning")) if n)
            hint = "fix the ones above first" if errors else "the file can be served"
            self.problems.append(Problem(Source(file, 0, 0), f"{counts} more in this file, not listed: {hint}",
                                         "error" if errors else "warning"))

    def at(self, text: _Text, offset: int) -> tuple[int, int]:
        """File line and column of a character of a scalar, exact for one-line and literal (|) text."""
        node, value = text.node, text.value
        before = value[:offset]
        if node.style in ("", "'", '"') and node.end_line == node.line:
            return node.line, node.col + offset + (1 if node.style else 0)
        if node.style == "|":
            lines = self.texts.get(self.file, "").split("\n")
            content = lines[node.line:]  # node.line is the "|" line (1-based), so this starts below it
            indent = next((len(ln) - len(ln.lstrip(" ")) for ln in content if ln.strip()), 0)
            row = before.count("\n")
            return node.line + 1 + row, indent + 1 + offset - (before.rfind("\n") + 1)
        return node.line, node.col

    # -- reading ---------------------------------------------------------------------------------

    def load(self) -> None:
        if not self.directory.is_dir():
            self.file = str(self.directory)
            self.error(None, "no such folder of intent files")
            return
        files = catalog_files(self.directory)
        if not files:
            self.file = str(self.directory)
            self.error(None, "no intent files (*.yaml) in this folder")
            return
        if len(files) > MAX_FILES:
            self.file = str(self.directory)
            self.error(None, f"{len(files)} intent files; the limit is {MAX_FILES}")
            return
        total = 0
        for path in files:
            self.file = str(path)
            with contextlib.suppress(OSError):  # read_text reports unreadable and oversized files
                size = path.stat().st_size
                total += size if size <= MAX_FILE_BYTES else 0
            if total > MAX_TOTAL_BYTES:
                self.error(None, f"the intent files add up to over {MAX_TOTAL_BYTES:,} bytes: not read", 1, 1)
                break
            text, problems = read_text(path, MAX_FILE_BYTES)
            root = None
            if text is not None:
                self.texts[self.file] = text
                root, problems = parse_text(text)
            for p in problems:
                self.error(None, p.message, p.line, p.col)
            if root is not None and not _empty(root):
                self.read_file(root)
            elif text is not None and not problems:
                self.warn(None, "empty file", 1, 1)

    def read_file(self, root: YNode) -> None:
        if not isinstance(root, YMap):
            self.error(root, f"expected keys ({', '.join(TOP_KEYS)}) at the top, found {kind(root)}")
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
                self.error(node, f"{name}: expected a list (items starting with '- '), found {kind(node)}")
                continue
            for item in node.items:
                if isinstance(item, YMap):
                    reader(item)
                else:
                    self.error(item, f"each entry of {name} must be a mapping (id: ...), found {kind(item)}")
        if "responses" in root.items:
            self.read_responses(root.items["responses"])
        if "out_of_scope" in root.items:
            self.out_of_scope.extend(self.text_list(root.items["out_of_scope"], "out_of_scope"))
        if "everyday" in root.items:
            self.everyday.extend(self.text_list(root.items["everyday"], "everyday"))
        if "settings" in root.items:
            self.read_settings(root.items["settings"])

    def keys(self, node: YMap, allowed: tuple[str, ...], where: str) -> None:
        for key, key_node in node.keys.items():
            if key in allowed:
                continue
            if allowed is TOP_KEYS and key in INTENT_KEYS + ESCALATION_KEYS:
                self.error(key_node, f"{key!r} is at the top of the file, but it belongs to an intent or "
                                     "escalation: indent it to line up with the 'id:' above")
                continue
            self.error(key_node, f"unknown key {key!r} {where}{suggest(key, allowed)}; "
                                 f"known keys: {', '.join(allowed)}")

    def text(
        self, node: YNode | None, what: str, *, required: bool = False, parent: YNode | None = None
    ) -> _Text | None:
        if node is None:
            if required:
                self.error(parent, f"missing {what}: add a line '{what.split()[-1]}: ...'")
            return None
        if isinstance(node, YScalar) and isinstance(node.value, str):
            if not node.value.strip():
                self.error(node, f"{what} is empty")
                return None
            return _Text(node.value, node, self.file)
        if isinstance(node, YScalar) and node.value is not None:
            self.error(node, f"{what} must be text, but {node.raw!r} reads as {kind(node)}: quote it "
                             f"(\"{node.raw}\")")
        elif isinstance(node, YScalar):
            self.error(node, f"{what} is empty: write it after the colon")
        else:
            self.error(node, f"{what} must be text, found {kind(node)}")
        return None

    def text_list(self, node: YNode, what: str) -> list[_Text]:
        if isinstance(node, YScalar) and node.value is None:
            return []
        if not isinstance(node, YSeq):
            self.error(node, f"{what}: expected a list of phrases (each on a line starting with '- '), "
                             f"found {kind(node)}")
            return []
        out: list[_Text] = []
        for item in node.items:
            if isinstance(item, YScalar) and isinstance(item.value, str):
                if item.value.strip():
                    out.append(_Text(item.value, item, self.file))
                else:
                    self.error(item, f"empty phrase in {what}: remove it")
            elif isinstance(item, YScalar) and item.value is not None:
                self.error(item, f"{what}: {item.raw!r} reads as {kind(item)}, not text: quote it "
                                 f"(\"{item.raw}\")")
            else:
                self.error(item, f"{what}: expected a phrase, found {kind(item)}")
        return out

    def read_entry(self, node: YMap, entry_kind: str, allowed: tuple[str, ...]) -> _Entry | None:
        what = "intent" if entry_kind == "intent" else "escalation"
        self.keys(node, allowed, f"in an {what}")
        id_text = self.text(node.items.get("id"), f"{what} id", required=True, parent=node)
        if id_text is None:
            return None
        if not ID_PATTERN.match(id_text.value):
            better = re.sub(r"[^a-z0-9_]+", "_", id_text.value.lower()).strip("_")
            if not ID_PATTERN.match(better):  # "100 nights" -> "intent_100_nights", never the same bad id
                better = f"{what}_{better}".rstrip("_")
            self.error(id_text.node, f"{what} id {id_text.value!r} must be lower_snake_case "
                                     f"(a-z, 0-9 and _, starting with a letter), e.g. {better!r}")
        elif len(id_text.value.encode()) > MAX_CALLBACK_BYTES - 2:
            self.error(id_text.node, f"{what} id is too long for a Telegram button: use at most "
                                     f"{MAX_CALLBACK_BYTES - 2} characters")
        entry = _Entry(entry_kind, id_text, node, self.file)
        title = self.text(node.items.get("title"), "title")
        if title is not None and len(title.value) > TITLE_MAX:
            self.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
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
            self.error(node, f"translations: expected language codes ({codes}), found {kind(node)}")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for code, value in node.items.items():
            if code not in LANGUAGES:
                self.error(node.keys[code], f"unknown language {code!r} in translations{suggest(code, LANGUAGES)}; "
                                            f"known: {codes}")
                continue
            where = f"translations.{code}"
            if not isinstance(value, YMap):
                self.error(value, f"{where}: expected {', '.join(allowed)}, found {kind(value)}")
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
                self.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
                                      f"{TITLE_MAX} on phones; shorten it")
            out[code] = texts
        return out

    def read_intent(self, node: YMap) -> None:
        entry = self.read_entry(node, "intent", INTENT_KEYS)
        if entry is None:
            return
        for name in ("examples", "negative_examples", "keywords", "tests"):
            entry.fields[name] = self.text_list(node.items[name], name) if name in node.items else []
        entry.fields["variants"] = self.read_variants(node.items.get("variants"), "variants")
        if "examples" not in node.items:
            self.error(node, f"intent {entry.id.value!r} has no examples: add examples: with what people say")
        elif not entry.fields["examples"] and _empty(node.items["examples"]):
            self.error(node.items["examples"], "examples is empty: add what people say")
        elif 0 < len(entry.fields["examples"]) < FEW_EXAMPLES:
            self.warn(node.items["examples"], f"only {len(entry.fields['examples'])} examples: "
                                              f"{FEW_EXAMPLES} or more make matching reliable")
        if "follow_ups" in node.items:
            entry.follow_ups = self.read_follow_ups(node.items["follow_ups"], entry.id.value)
        self.intents.append(entry)

    def read_follow_ups(self, node: YNode, intent_id: str) -> list[_Entry]:
        """An intent's follow_ups: each a small intent of its own, answered within the topic."""
        if _empty(node):
            return []
        if not isinstance(node, YSeq):
            self.error(node, f"follow_ups: expected a list (items starting with '- '), found {kind(node)}")
            return []
        out: list[_Entry] = []
        seen: dict[str, _Entry] = {}
        owner: dict[str, tuple[str, _Text]] = {}  # normalised example -> (follow-up id, where)
        from bot.text import normalise

        for item in node.items:
            if not isinstance(item, YMap):
                self.error(item, f"each follow-up must be a mapping (id: ...), found {kind(item)}")
                continue
            self.keys(item, FOLLOW_UP_KEYS, "in a follow-up")
            fid = self.text(item.items.get("id"), "follow-up id", required=True, parent=item)
            if fid is None:
                continue
            if not ID_PATTERN.match(fid.value):
                self.error(fid.node, f"follow-up id {fid.value!r} must be lower_snake_case (a-z, 0-9 and _)")
                continue
            data = f"{FOLLOW_UP_PREFIX}{intent_id}/{fid.value}"
            if len(data.encode()) > MAX_CALLBACK_BYTES:
                self.error(fid.node, f"follow-up id is too long for a Telegram button: {intent_id!r} and "
                                     f"{fid.value!r} together may have at most {MAX_CALLBACK_BYTES - 3} characters")
            if fid.value in seen:
                self.error(fid.node, f"follow-up id {fid.value!r} is already used in {intent_id!r} at line "
                                     f"{seen[fid.value].id.node.line}: ids must be unique within an intent")
                continue
            entry = _Entry("follow_up", fid, item, self.file)
            seen[fid.value] = entry
            title = self.text(item.items.get("title"), "follow-up title", required=True, parent=item)
            if title is not None and len(title.value) > TITLE_MAX:
                self.warn(title.node, f"title is {len(title.value)} characters: buttons cut off titles over "
                                      f"{TITLE_MAX} on phones; shorten it")
            entry.fields["title"] = title
            entry.fields["answer"] = self.text(item.items.get("answer"), "answer", required=True, parent=item)
            for name in ("examples", "tests"):
                entry.fields[name] = self.text_list(item.items[name], name) if name in item.items else []
            if not entry.fields["examples"]:
                where = item.items.get("examples") or item
                self.error(where, f"follow-up {fid.value!r} has no examples: add the short questions people ask")
            for t in entry.fields["examples"]:
                norm = normalise(t.value)
                first = owner.setdefault(norm, (fid.value, t))
                if first[0] != fid.value:
                    self.error(t.node, f"{t.value!r} is also an example of follow-up {first[0]!r} "
                                       f"(line {first[1].node.line}): keep it in one")
            if "buttons" in item.items:
                entry.buttons = self.read_buttons(item.items["buttons"])
            out.append(entry)
        return out

    def read_escalation(self, node: YMap) -> None:
        entry = self.read_entry(node, "escalation", ESCALATION_KEYS)
        if entry is None:
            return
        for name in ("phrases", "threats", "patterns", "past_markers", "reported_markers",
                     "present_markers", "examples", "negative_examples", "silent_phrases", "tests", "not_tests"):
            entry.fields[name] = self.text_list(node.items[name], name) if name in node.items else []
        for name in ("follow_up", "silent_answer"):
            entry.fields[name] = self.text(node.items.get(name), name)
        if bool(entry.fields["silent_phrases"]) != bool(entry.fields["silent_answer"]):
            self.error(node, f"escalation {entry.id.value!r}: silent_phrases and silent_answer go together")
        if not any(entry.fields[k] for k in ("phrases", "threats", "patterns", "examples")):
            self.error(node, f"escalation {entry.id.value!r} has no phrases, threats, patterns or examples")
        if bool(entry.fields["examples"]) != bool(entry.fields["negative_examples"]):
            have, lack = ("examples", "negative_examples") if entry.fields["examples"] else (
                "negative_examples", "examples")
            self.error(node.items[have], f"escalation {entry.id.value!r} has {have} but no {lack}: the learned "
                                         "check needs both sides to learn what tells them apart")
        for pattern in entry.fields["patterns"]:
            try:
                compile_pattern(pattern.value)
            except PatternError as exc:
                self.error(pattern.node, f"invalid pattern for RE2: {exc}")
        self.escalations.append(entry)

    def read_variants(self, node: YNode | None, what: str) -> dict[str, _Text]:
        """``variants:`` (or ``closed_variants:``): a jurisdiction id -> that nation's own text."""
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return {}
        if not isinstance(node, YMap):
            self.error(node, f"{what}: expected jurisdictions ({', '.join(jurisdiction.VARIANTS)}), each with "
                             f"its own text, found {kind(node)}")
            return {}
        out: dict[str, _Text] = {}
        for name, value in node.items.items():
            key = node.keys[name]
            if name == jurisdiction.DEFAULT or name == "england":
                self.error(key, f"{what}: {name!r} is the default text: write it in answer: (or closed_text:) "
                                f"and give variants only for {', '.join(jurisdiction.VARIANTS)}")
                continue
            if name not in jurisdiction.VARIANTS:
                hint = suggest(name, jurisdiction.VARIANTS) or (" (did you mean 'northern_ireland'?)"
                                                               if name.casefold() in ("ni", "n_ireland") else "")
                self.error(key, f"{what}: unknown jurisdiction {name!r}{hint}; known: "
                                f"{', '.join(jurisdiction.VARIANTS)}")
                continue
            text = self.text(value, f"{what}.{name}")
            if text is not None:
                out[name] = text
        return out

    def read_buttons(self, node: YNode) -> list[_ButtonRec]:
        if not isinstance(node, YSeq):
            self.error(node, f"buttons: expected a list, found {kind(node)}")
            return []
        out: list[_ButtonRec] = []
        for item in node.items:
            if isinstance(item, YScalar):
                target = self.text(item, "button (an intent id)")
                if target is not None:
                    out.append(_ButtonRec(item, intent=target))
                continue
            if isinstance(item, YSeq):
                self.error(item, "a button is an intent id, {text: .., intent: ..} or {text: .., url: ..}")
                continue
            self.keys(item, BUTTON_KEYS, "in a button")
            rec = _ButtonRec(item)
            rec.text = self.text(item.items.get("text"), "button text")
            rec.intent = self.text(item.items.get("intent"), "button intent")
            rec.url = self.text(item.items.get("url"), "button url")
            if (rec.intent is None) == (rec.url is None):
                if "intent" not in item.items and "url" not in item.items:
                    self.error(item, "a button needs intent: (an intent id) or url: (an https:// link)")
                elif rec.intent is not None:
                    self.error(item, "a button has either intent: or url:, not both")
                continue
            if rec.url is not None and rec.text is None and "text" not in item.items:
                self.error(item, "a link button needs text: (its label)")
                continue
            out.append(rec)
        return out

    def read_hours(self, node: YMap) -> None:
        self.keys(node, HOURS_KEYS, "in opening_hours")
        hid = self.text(node.items.get("id"), "opening_hours id", required=True, parent=node)
        name = self.text(node.items.get("name"), "name")
        tz_text = self.text(node.items.get("timezone"), "timezone")
        tz = tz_text.value if tz_text else self.service.get("timezone", "Europe/London")
        tz_ok = True
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(tz_text.node if tz_text else node, f"unknown time zone {tz!r} (e.g. Europe/London)")
            tz_ok = False
        texts: dict[str, _Text] = {}
        for key in ("open_text", "closed_text"):
            t = self.text(node.items.get(key), key, required=True, parent=node)
            if t is not None:
                texts[key] = t
                self.hours_texts.append((key, t))
        closed_variants = self.read_variants(node.items.get("closed_variants"), "closed_variants")
        for nation, variant in closed_variants.items():
            self.hours_texts.append((f"closed_variants.{nation}", variant))
        weekly = self.read_weekly(node.items.get("weekly"), node)
        closed = self.read_dates(node.items.get("closed_dates"))
        if hid is None or not tz_ok or weekly is None or closed is None or len(texts) < 2:
            return
        if not ID_PATTERN.match(hid.value):
            self.error(hid.node, f"opening_hours id {hid.value!r} must be lower_snake_case")
            return
        hours = OpeningHours(
            hid.value, name.value if name else title_from_id(hid.value), tz, MappingProxyType(weekly),
            frozenset(closed), texts["open_text"].value, texts["closed_text"].value,
            Source(self.file, node.line, node.col),
            closed_variants=MappingProxyType({n: t.value for n, t in closed_variants.items()}),
        )
        self.hours.append((hours, node, texts))

    def read_weekly(self, node: YNode | None, parent: YMap) -> dict[int, tuple[Any, ...]] | None:
        if node is None:
            self.error(parent, "missing weekly: (e.g. weekly: {monday: [\"09:30-16:00\"]})")
            return None
        if not isinstance(node, YMap):
            self.error(node, f"weekly: expected day names with time spans, found {kind(node)}")
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
                    self.error(span.node, str(exc))
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    ok = False
                    self.error(spans_node, f"weekly.{day}: the time spans overlap")
            if spans:
                weekly[DAYS.index(day)] = tuple(spans)
        if ok and not weekly:
            self.error(node, "weekly lists no opening times")
            ok = False
        return weekly if ok else None

    def read_dates(self, node: YNode | None) -> set[str] | None:
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return set()
        if not isinstance(node, YSeq):
            self.error(node, f"closed_dates: expected a list of dates (YYYY-MM-DD), found {kind(node)}")
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
                self.error(item, f"closed_dates: {value!r} is not a date like 2026-12-25")
                return None
        return out

    def read_responses(self, node: YNode) -> None:
        known = REQUIRED_RESPONSES + OPTIONAL_RESPONSES
        if not isinstance(node, YMap):
            self.error(node, f"responses: expected names ({', '.join(known)}), found {kind(node)}")
            return
        for name, value in node.items.items():
            key = node.keys[name]
            if name not in known:
                self.error(key, f"unknown response {name!r}{suggest(name, known)}; known: {', '.join(known)}")
                continue
            if isinstance(value, YScalar) and isinstance(value.value, str):
                value = YMap({"answer": value}, {"answer": key}, value.line, value.col)
            if not isinstance(value, YMap):
                self.error(value, f"responses.{name}: expected answer: (and buttons:), found {kind(value)}")
                continue
            self.keys(value, RESPONSE_KEYS, f"in responses.{name}")
            entry = _Entry("response", _Text(name, key), value, self.file)
            answer = self.text(value.items.get("answer"), "answer", required=True, parent=value)
            entry.fields["answer"] = answer
            entry.fields["variants"] = self.read_variants(value.items.get("variants"), "variants")
            if "buttons" in value.items:
                entry.buttons = self.read_buttons(value.items["buttons"])
            if "translations" in value.items:
                entry.fields["translations"] = self.read_translations(value.items["translations"], "response")
            self.responses.append(entry)

    def read_settings(self, node: YNode) -> None:
        if self.settings_file is not None:
            self.error(node, f"settings are already given in {self.settings_file}: keep them in one file")
            return
        self.settings_file = self.file
        if not isinstance(node, YMap):
            self.error(node, f"settings: expected {', '.join(SETTINGS_KEYS)}, found {kind(node)}")
            return
        self.keys(node, SETTINGS_KEYS, "in settings")
        values: dict[str, Any] = {}
        for key, value in node.items.items():
            if key not in SETTINGS_KEYS or not isinstance(value, YScalar):
                continue
            v = value.value
            if key == "max_suggestions":
                if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 8:
                    self.error(value, "max_suggestions must be a whole number from 1 to 8")
                    continue
            elif key == "unknown_words":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 10:
                    self.error(value, "unknown_words must be a number from 0 (off) to 10")
                    continue
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
                self.error(value, f"{key} must be a number from 0 to 100 (the matcher's score scale)")
                continue
            values[key] = v
        auto = frozenset(AUTO_SETTINGS) - values.keys()
        settings = MatcherSettings(**values, auto=auto)
        if "threshold" not in auto and settings.suggest > settings.threshold:
            self.error(node, "settings: suggest must not be above threshold")
        self.settings = settings


class _Checker:
    """Cross-file checks over everything read; builds the Catalog from what is valid."""

    def __init__(self, loader: _Loader, for_serving: bool, normalise: Callable[[str], str]) -> None:
        self.ld = loader
        self.for_serving = for_serving
        self.normalise = normalise
        self.intent_by_id: dict[str, _Entry] = {}
        self.known_placeholders: set[str] = set()
        self.status_placeholders: set[str] = set()
        self.fill_values: dict[str, str] = {}
        self.normalised: dict[str, str] = {}  # example -> normalised form, shared with check
        self.url_values = placeholders.values(loader.service, (), datetime.now(UTC), as_html=False)

    def run(self) -> Catalog:
        ld = self.ld
        self.intent_by_id = self.unique(ld.intents, "intent")
        escalation_by_id = self.unique(ld.escalations, "escalation")
        response_by_id = self.unique(ld.responses, "response")
        hours_by_id: dict[str, OpeningHours] = {}
        for hours, node, _ in ld.hours:
            if hours.id in hours_by_id:
                ld.file = hours.source.file if hours.source else ""
                first = hours_by_id[hours.id].source
                ld.error(node, f"opening_hours id {hours.id!r} is already used at {first}")
            else:
                hours_by_id[hours.id] = hours
        self.placeholder_values(hours_by_id.values())
        for key, text in ld.hours_texts:
            ld.file = text.file
            self.check_html(text, self.status_placeholders | {"closes" if key == "open_text" else "opens"}, key)
        self.examples()
        intents = [self.build_intent(e) for e in self.intent_by_id.values()]
        escalations = [self.build_escalation(e) for e in escalation_by_id.values()]
        responses = {name: self.build_response(e) for name, e in response_by_id.items()}
        self.reachability(ld.intents + ld.escalations + ld.responses)
        self.serving(escalation_by_id, response_by_id)
        return Catalog(
            intents=tuple(i for i in intents if i is not None),
            escalations=tuple(e for e in escalations if e is not None),
            hours=tuple(hours_by_id.values()),
            responses=MappingProxyType({k: v for k, v in responses.items() if v is not None}),
            out_of_scope=tuple(t.value for t in ld.out_of_scope),
            everyday=tuple(t.value for t in ld.everyday),
            settings=ld.settings or MatcherSettings(auto=frozenset(AUTO_SETTINGS)),
        )

    def unique(self, entries: list[_Entry], what: str) -> dict[str, _Entry]:
        seen: dict[str, _Entry] = {}
        for e in entries:
            first = seen.get(e.id.value)
            if first is not None:
                self.ld.file = e.file
                self.ld.error(e.id.node, f"{what} id {e.id.value!r} is already used at "
                                         f"{first.file}:{first.id.node.line}: ids must be unique")
            else:
                seen[e.id.value] = e
        return seen

    def placeholder_values(self, hours: Iterable[OpeningHours]) -> None:
        values = placeholders.values(self.ld.service, (), datetime.now(UTC))
        self.status_placeholders = set(values)  # what a status text may use besides {opens}/{closes}
        for h in hours:
            # the longer of the two texts, so the length check covers both
            opened = self.fill_or_empty(h.open_text, {**values, "closes": "16:00"})
            closed = [self.fill_or_empty(t, {**values, "opens": "on Wednesday 30 September at 09:30"})
                      for t in (h.closed_text, *h.closed_variants.values())]
            values[f"{h.id}_status"] = max(opened, *closed, key=len)
            values[f"{h.id}_hours"] = hours_text(h)
        self.fill_values = values
        self.known_placeholders = set(values)

    @staticmethod
    def fill_or_empty(template: str, values: Mapping[str, str]) -> str:
        try:
            return templates.fill(template, values)
        except templates.PlaceholderError:
            return ""  # reported by check_html

    def check_html(self, text: _Text, known: set[str], what: str) -> bool:
        """HTML and placeholder checks on one template; True when it can be served."""
        ld, ok = self.ld, True
        for p in htmltext.validate(text.value, check_links=False):
            line, col = ld.at(text, p.offset)
            ld.error(text.node, f"{what}: {p.message}", line, col)
            ok = False
        found, brace_problems = templates.scan(text.value)
        for offset, message in brace_problems:
            line, col = ld.at(text, offset)
            ld.error(text.node, f"{what}: {message}", line, col)
            ok = False
        for offset, name in found:
            if name not in known:
                line, col = ld.at(text, offset)
                ld.error(text.node, f"{what}: unknown placeholder {{{name}}}{suggest(name, known)}; "
                                    f"known: {', '.join(sorted(known))}", line, col)
                ok = False
        return ok

    def check_answer(self, entry: _Entry, name: str = "answer") -> str | None:
        return self.check_template(entry.fields.get(name), entry.file, name)

    def check_template(self, answer: _Text | None, file: str, name: str) -> str | None:
        """HTML, placeholder and length checks on one answer; its text when it can be served."""
        if answer is None:
            return None
        self.ld.file = file
        if not self.check_html(answer, self.known_placeholders, name):
            return None
        rendered = templates.fill(answer.value, self.fill_values)
        for p in htmltext.validate(rendered):
            self.ld.error(answer.node, f"{name}, once placeholders are filled: {p.message}")
        length = htmltext.text_length(rendered)
        if length > htmltext.TELEGRAM_LIMIT:
            self.ld.error(answer.node, f"{name} is {length} characters once placeholders are filled; "
                                       f"Telegram's limit is {htmltext.TELEGRAM_LIMIT}: shorten it")
        return answer.value

    def build_buttons(self, entry: _Entry) -> tuple[Button, ...]:
        ld = self.ld
        ld.file = entry.file
        out: list[Button] = []
        for b in entry.buttons:
            if b.intent is not None:
                target = self.intent_by_id.get(b.intent.value)
                if target is None:
                    ld.error(b.intent.node, f"button to unknown intent {b.intent.value!r}"
                                            f"{suggest(b.intent.value, self.intent_by_id)}")
                    continue
                title = target.fields.get("title")
                text = b.text.value if b.text else (title.value if title else title_from_id(target.id.value))
                out.append(Button(text, intent=b.intent.value))
            elif b.url is not None and b.text is not None:
                found, problems = templates.scan(b.url.value)
                unknown = [n for _, n in found if n not in self.url_values]
                if problems or unknown:
                    if problems:
                        detail = problems[0][1]
                    else:
                        detail = f"unknown placeholder {{{unknown[0]}}}{suggest(unknown[0], self.url_values)}"
                    ld.error(b.url.node, f"button url: {detail}")
                    continue
                url = templates.fill(b.url.value, self.url_values).strip()
                if url and not url.lower().startswith("https://"):
                    ld.error(b.url.node, f"button url {url!r} must start with https://")
                    continue
                out.append(Button(b.text.value, url=b.url.value))
        return tuple(out)

    def build_variants(self, e: _Entry) -> Mapping[str, str] | None:
        """Each variant checked like an answer, and every one an England-and-Wales-only answer needs; None on error."""
        ld, ok = self.ld, True
        out: dict[str, str] = {}
        default: _Text | None = e.fields.get("answer")
        for name, text in e.fields.get("variants", {}).items():
            e.fields[f"variants.{name}"] = text
            checked = self.check_answer(e, f"variants.{name}")
            if checked is None:
                ok = False
                continue
            out[name] = checked
            if default is not None and " ".join(checked.split()) == " ".join(default.value.split()):
                ld.warn(text.node, f"variants.{name} is the same as the default answer: remove it")
        law = EW_ONLY_LAW.search(default.value) if default is not None else None
        if default is not None and law is not None:
            line, col = ld.at(default, law.start())
            for name in ("scotland", "northern_ireland"):
                if name not in e.fields.get("variants", {}):
                    ld.file = e.file
                    ld.error(default.node, f"answer names {law.group()!r}, England and Wales law, but there is no "
                                           f"variants.{name}: a person in {jurisdiction.NATIONS[name]} would be "
                                           "told the wrong law; add their own answer", line, col)
                    ok = False
        return MappingProxyType(out) if ok else None

    def build_follow_up(self, e: _Entry) -> FollowUp | None:
        answer = self.check_answer(e)
        buttons = self.build_buttons(e)
        title = e.fields["title"]
        if answer is None or title is None or not e.fields["examples"]:
            return None
        return FollowUp(e.id.value, title.value, tuple(t.value for t in e.fields["examples"]), answer, buttons,
                        tuple(t.value for t in e.fields["tests"]), e.source())

    def translated(self, e: _Entry) -> dict[str, dict[str, Any]]:
        """Each language's checked texts: answers as served (or "" when broken), lists as plain strings."""
        out: dict[str, dict[str, Any]] = {}
        for code, texts in e.fields.get("translations", {}).items():
            values: dict[str, Any] = {}
            for name, text in texts.items():
                if name in TRANSLATED_LISTS:
                    values[name] = tuple(t.value for t in text)
                elif name == "title":
                    values[name] = text.value if text is not None else ""
                else:
                    values[name] = self.check_template(text, e.file, f"translations.{code}.{name}") or ""
            out[code] = values
        return out

    def build_intent(self, e: _Entry) -> Intent | None:
        answer = self.check_answer(e)
        buttons = self.build_buttons(e)
        variants = self.build_variants(e)
        follow_ups = [self.build_follow_up(f) for f in e.follow_ups]
        if answer is None or variants is None or not e.fields["examples"]:
            return None
        title = e.fields["title"]
        return Intent(
            id=e.id.value,
            title=title.value if title else title_from_id(e.id.value),
            examples=tuple(t.value for t in e.fields["examples"]),
            answer=answer,
            keywords=tuple(t.value for t in e.fields["keywords"]),
            negative_examples=tuple(t.value for t in e.fields["negative_examples"]),
            buttons=buttons,
            tests=tuple(t.value for t in e.fields["tests"]),
            source=e.source(),
            variants=variants,
            follow_ups=tuple(f for f in follow_ups if f is not None),
            translations=MappingProxyType({c: IntentTranslation(**v) for c, v in self.translated(e).items()}),
        )

    def build_escalation(self, e: _Entry) -> Escalation | None:
        answer = self.check_answer(e)
        buttons = self.build_buttons(e)
        if answer is None:
            return None
        title = e.fields["title"]

        def values(name: str) -> tuple[str, ...]:
            return tuple(t.value for t in e.fields[name])

        follow_up = self.check_answer(e, "follow_up") or ""
        silent_answer = self.check_answer(e, "silent_answer") or ""
        return Escalation(
            id=e.id.value, title=title.value if title else title_from_id(e.id.value), answer=answer,
            follow_up=follow_up, silent_phrases=values("silent_phrases"), silent_answer=silent_answer,
            phrases=values("phrases"), threats=values("threats"), patterns=values("patterns"),
            past_markers=values("past_markers"), examples=values("examples"),
            negative_examples=values("negative_examples"),
            reported_markers=values("reported_markers"), present_markers=values("present_markers"),
            buttons=buttons, tests=values("tests"), not_tests=values("not_tests"), source=e.source(),
            translations=MappingProxyType({c: EscalationTranslation(**v) for c, v in self.translated(e).items()}),
        )

    def build_response(self, e: _Entry) -> Response | None:
        answer = self.check_answer(e)
        buttons = self.build_buttons(e)
        variants = self.build_variants(e)
        if answer is None or variants is None:
            return None
        translations = MappingProxyType({c: ResponseTranslation(**v) for c, v in self.translated(e).items()})
        return Response(e.id.value, answer, buttons, e.source(), variants=variants, translations=translations)

    def examples(self) -> None:
        """The same normalised example in two intents is an error; twice in one intent a warning."""
        ld = self.ld
        owner: dict[str, tuple[_Entry, _Text]] = {}
        for e in self.intent_by_id.values():
            negatives = {self.normalise(t.value) for t in e.fields["negative_examples"]}
            translated = [t for texts in e.fields.get("translations", {}).values() for t in texts["examples"]]
            for t in e.fields["examples"] + translated:
                norm = self.normalised.get(t.value)
                if norm is None:
                    norm = self.normalised[t.value] = self.normalise(t.value)
                ld.file = e.file
                if norm in negatives:
                    ld.error(t.node, f"{t.value!r} is both an example and a negative example of "
                                     f"{e.id.value!r}: remove one")
                first = owner.get(norm)
                if first is None:
                    owner[norm] = (e, t)
                elif first[0] is e:
                    ld.warn(t.node, f"{t.value!r} normalises to the same text as {first[1].value!r} "
                                    f"(line {first[1].node.line}): remove one")
                else:
                    other, ot = first
                    ld.error(t.node, f"{t.value!r} is also an example of {other.id.value!r} "
                                     f"({other.file}:{ot.node.line}): keep it in one intent")
                    ld.file = other.file
                    ld.error(ot.node, f"{ot.value!r} is also an example of {e.id.value!r} "
                                      f"({e.file}:{t.node.line}): keep it in one intent")

    def reachability(self, entries: list[_Entry]) -> None:
        """Warn about intents no button leads to, starting from the menu, greeting and bot responses."""
        roots: list[str] = [i for i in MENU_ROOTS if i in self.intent_by_id]
        if not roots:
            return
        edges: dict[str, list[str]] = {}
        for e in entries:
            key = e.id.value if e.kind == "intent" else f"{e.kind}:{e.id.value}"
            buttons = [*e.buttons, *(b for f in e.follow_ups for b in f.buttons)]
            edges[key] = [b.intent.value for b in buttons if b.intent is not None]
        seen = set(roots)
        todo = roots + [k for k in edges if ":" in k]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for iid, e in self.intent_by_id.items():
            if iid not in seen and iid not in SMALL_TALK:
                self.ld.file = e.file
                self.ld.warn(e.id.node, f"no button leads to {iid!r} from the menu, so people reach it only "
                                        "by typing: add it to the buttons of the menu or a related intent")

    def serving(self, escalations: Mapping[str, _Entry], responses: Mapping[str, _Entry]) -> None:
        """What a catalog needs before the bot may serve it: errors when serving, warnings otherwise."""
        ld = self.ld
        if not ld.texts:  # no file could be read: that error says it all
            return
        report = ld.error if self.for_serving else ld.warn
        consequence = "" if self.for_serving else " (the bot will refuse to serve this catalog)"
        ld.file = str(ld.directory)
        for eid in ESCALATION_IDS:
            if eid not in escalations:
                report(None, f"no {eid!r} escalation{consequence}: add it (usually in safety.yaml)")
        for name in REQUIRED_RESPONSES:
            if name not in responses:
                report(None, f"no responses.{name}{consequence}: add it")
        for name in ("fallback", "none_of_these", "did_you_mean"):
            entry = responses.get(name)
            answer = entry.fields.get("answer") if entry else None
            if entry is None or answer is None:
                continue
            ld.file = entry.file
            # every nation's fallback carries them too
            texts = [(f"responses.{name}", answer)] + [(f"responses.{name} variants.{nation}", t)
                                                        for nation, t in entry.fields.get("variants", {}).items()]
            for what, text in texts:
                if not any(m in text.value for m in EMERGENCY_MARKERS):
                    report(text.node, f"{what} must give {{emergency_number}} (999){consequence}")
                if not any(m in text.value for m in HELPLINE_MARKERS):
                    report(text.node, f"{what} must give {{helpline_number}} (helpline){consequence}")
            for code, translated in entry.fields.get("translations", {}).items():
                text = translated.get("answer")
                if text is None:
                    continue
                where = f"responses.{name}.translations.{code}"
                if not any(m in text.value for m in EMERGENCY_MARKERS):
                    report(text.node, f"{where} must give {{emergency_number}} (999){consequence}")
                if not any(m in text.value for m in HELPLINE_MARKERS):
                    report(text.node, f"{where} must give {{helpline_number}} (helpline){consequence}")


def _default_service() -> Mapping[str, str]:
    # the same defaults the engine fills answers with when it is given no service settings
    from bot.config import Config

    return Config().placeholders()


@dataclass(frozen=True)
class Analysis:
    """Everything `check` needs: the valid parts as a Catalog, the problems, and where each phrase is."""

    catalog: Catalog
    problems: list[Problem]
    directory: str
    files: int
    # (owner, field, index) -> position; owner is an intent id, "<intent id>/<follow-up id>",
    # "escalation:<id>", "hours:<id>" or "";
    # field is examples, negative_examples, tests, not_tests, out_of_scope or closed_dates.
    sources: Mapping[tuple[str, str, int], Source]
    normalised: Mapping[str, str] = field(default_factory=dict)  # example -> bot.text.normalise(example)

    def source(self, owner: str, field_name: str, index: int = 0) -> Source:
        """Where a phrase was written (falls back to its owner's position, then to the folder)."""
        found = self.sources.get((owner, field_name, index)) or self.sources.get((owner, "", 0))
        return found or Source(self.directory, 0, 0)


def _sources(loader: _Loader) -> dict[tuple[str, str, int], Source]:
    out: dict[tuple[str, str, int], Source] = {}
    for prefix, entries in (("", loader.intents), ("escalation:", loader.escalations)):
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
    for hours, node, _ in loader.hours:
        file = hours.source.file if hours.source else ""
        where = node.keys.get("closed_dates") or node
        out.setdefault((f"hours:{hours.id}", "closed_dates", 0), Source(file, where.line, where.col))
    for i, t in enumerate(loader.out_of_scope):
        out[("", "out_of_scope", i)] = Source(t.file, t.node.line, t.node.col)
    for i, t in enumerate(loader.everyday):
        out[("", "everyday", i)] = Source(t.file, t.node.line, t.node.col)
    return out


def analyse(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> Analysis:
    """Load what can be loaded and report every problem: the Catalog holds only the valid parts.

    `check` uses this to run the matcher on a partly broken catalog; serving code wants `load_catalog`.
    """
    from bot.text import normalise

    loader = _Loader(Path(directory), service if service is not None else _default_service())
    loader.load()
    checker = _Checker(loader, for_serving, normalise)
    catalog = checker.run()
    loader.close_listings()
    problems = sorted(loader.problems, key=Problem.sort_key)
    return Analysis(catalog, problems, str(directory), len(loader.texts), _sources(loader),
                    MappingProxyType(checker.normalised))


def load_catalog(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> tuple[Catalog | None, list[Problem]]:
    """Load and validate every intent file in ``directory``; the Catalog is None when there are errors.

    ``service`` (config ``service:``) names the placeholders answers may use and fills them for the
    length checks; it defaults to the built-in service settings.
    """
    result = analyse(directory, for_serving=for_serving, service=service)
    if any(p.is_error for p in result.problems):
        return None, result.problems
    return result.catalog, result.problems


def require_catalog(
    directory: str | Path, *, for_serving: bool = False, service: Mapping[str, str] | None = None
) -> Catalog:
    """`load_catalog` for callers that stop on errors: raises CatalogError with every problem."""
    catalog, problems = load_catalog(directory, for_serving=for_serving, service=service)
    if catalog is None:
        raise CatalogError(problems)
    return catalog
