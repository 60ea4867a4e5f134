"""A line-aware, hostile-input-proof YAML reader for intent files.

PyYAML's own loaders lose positions, silently keep the last of two duplicate keys and expand aliases
without limit (the "billion laughs" bomb). Here libyaml (or PyYAML's pure-Python parser when libyaml is
missing) only produces *events*; this module composes them iteratively into small node objects that
keep the 1-based line and column of every value, and refuses what an intent file never needs:
duplicate keys, deep nesting, large alias expansions, custom tags, several documents, invalid UTF-8,
control characters and oversized files. Every refusal is a `YamlProblem` with a position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

MAX_FILE_BYTES = 2 * 1024 * 1024  # one intent file
MAX_DEPTH = 32  # intent files need about 6 levels
MAX_ALIAS_EXPANSION = 10_000  # values an alias may stand for, summed over the file

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
# The plain scalar tags an intent file may hold; anything else (binary, sets, python objects) is refused.
_SCALAR_TAGS = {
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "timestamp")
}
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
# Characters YAML forbids in a stream (C0/C1 controls other than tab/newline, surrogates, U+FFFE/F).
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class YamlProblem:
    """Something wrong in a YAML file, at a 1-based line and column."""

    line: int
    col: int
    message: str


class _Abort(Exception):
    """Stops composing: the file cannot be read further."""

    def __init__(self, problem: YamlProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class YScalar:
    """A scalar: ``value`` is str, int, float, bool, None or a date; ``style`` is '', "'", '"', '|' or '>'."""

    value: Any
    line: int
    col: int
    style: str = ""
    raw: str = ""  # the scalar's text before typing (for "quote it" hints)
    anchor: str | None = None
    end_line: int = 0  # where the scalar ends in the file (a multi-line scalar ends below ``line``)


@dataclass
class YSeq:
    """A list, with the position of its first character."""

    items: list[YNode]
    line: int
    col: int
    anchor: str | None = None


@dataclass
class YMap:
    """A mapping with text keys; ``keys`` keeps each key's own node for positions."""

    items: dict[str, YNode]
    keys: dict[str, YScalar]
    line: int
    col: int
    anchor: str | None = None


YNode = Union[YScalar, YSeq, YMap]  # noqa: UP007 - a runtime alias, Python 3.10 too


def kind(node: YNode) -> str:
    """What a node is, in an admin's words ("text", "a list", "a mapping", "true/false" ...)."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    v = node.value
    if v is None:
        return "nothing (an empty value)"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "text"
    return "a date"


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _bad_tag(tag: str) -> str:
    return f"the tag {_short(tag)} is not allowed in intent files; remove it"


def _pos(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _scalar(event: Any) -> YScalar:
    line, col = _pos(event.start_mark)
    tag = event.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == "tag:yaml.org,2002:merge":
        raise _Abort(YamlProblem(line, col, "merge keys (<<) are not supported; write the keys out"))
    if tag not in _SCALAR_TAGS:
        raise _Abort(YamlProblem(line, col, _bad_tag(tag)))
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
    except (ConstructorError, ValueError) as exc:
        problem = YamlProblem(line, col, f"cannot read {event.value!r} as {_short(tag)}: {exc}")
        raise _Abort(problem) from None
    return YScalar(value, line, col, event.style or "", event.value, event.anchor, event.end_mark.line + 1)


class _Composer:
    """Turns parser events into Y nodes without recursion, checking every limit as it goes."""

    def __init__(self, text: str) -> None:
        self.parser = _Parser(text)
        self.problems: list[YamlProblem] = []
        self.anchors: dict[str, tuple[YNode, int]] = {}
        self.alias_budget = MAX_ALIAS_EXPANSION

    def compose(self) -> YNode | None:
        try:
            return self._document()
        finally:
            self.parser.dispose()

    def _document(self) -> YNode | None:
        p = self.parser
        p.get_event()  # stream start
        if p.check_event(yaml.StreamEndEvent):
            return None
        p.get_event()  # document start
        root = self._node()
        p.get_event()  # document end
        if not p.check_event(yaml.StreamEndEvent):
            line, col = _pos(p.peek_event().start_mark)
            message = "a second YAML document (---): put everything in one document"
            raise _Abort(YamlProblem(line, col, message))
        return root

    def _node(self) -> YNode:
        # Each stack frame: [container, size, pending_key or None]; sizes count expanded values.
        p = self.parser
        stack: list[list[Any]] = []
        while True:
            event = p.get_event()
            node: YNode | None = None
            size = 1
            if isinstance(event, yaml.AliasEvent):
                line, col = _pos(event.start_mark)
                found = self.anchors.get(event.anchor or "")
                if found is None:
                    raise _Abort(YamlProblem(line, col, f"unknown or recursive alias *{event.anchor}"))
                node, size = found
                self.alias_budget -= size
                if self.alias_budget < 0:
                    message = f"aliases (*name) expand to over {MAX_ALIAS_EXPANSION} values: write them out"
                    raise _Abort(YamlProblem(line, col, message))
            elif isinstance(event, yaml.ScalarEvent):
                node = _scalar(event)
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                line, col = _pos(event.start_mark)
                self._check_collection_tag(event, line, col)
                if len(stack) >= MAX_DEPTH:
                    raise _Abort(YamlProblem(line, col, f"nested more than {MAX_DEPTH} levels deep"))
                container: YNode
                if isinstance(event, yaml.SequenceStartEvent):
                    container = YSeq([], line, col, event.anchor)
                else:
                    container = YMap({}, {}, line, col, event.anchor)
                stack.append([container, 1, None])
                continue
            else:  # sequence or mapping end
                container, size, _ = stack.pop()
                node = container
            if node.anchor is not None and not isinstance(event, yaml.AliasEvent):
                self.anchors[node.anchor] = (node, size)
            if not stack:
                return node
            self._add(stack[-1], node, size)

    @staticmethod
    def _check_collection_tag(event: Any, line: int, col: int) -> None:
        tag = event.tag
        expected = _SEQ_TAG if isinstance(event, yaml.SequenceStartEvent) else _MAP_TAG
        if tag not in (None, "!", expected):
            raise _Abort(YamlProblem(line, col, _bad_tag(tag)))

    def _add(self, frame: list[Any], node: YNode, size: int) -> None:
        container = frame[0]
        frame[1] += size
        if isinstance(container, YSeq):
            container.items.append(node)
            return
        key = frame[2]
        if key is None:
            frame[2] = node
            return
        frame[2] = None
        if not isinstance(key, YScalar):
            self.problems.append(YamlProblem(key.line, key.col, "a key must be text, not a list or mapping"))
            return
        if not isinstance(key.value, str):
            self.problems.append(YamlProblem(
                key.line, key.col, f"the key {key.raw!r} reads as {kind(key)}, not text: quote it",
            ))
            return
        first = container.keys.get(key.value)
        if first is not None:
            self.problems.append(YamlProblem(
                key.line, key.col,
                f"duplicate key {key.value!r} (first at line {first.line}); YAML would silently keep only "
                "the last one: remove or rename one of them",
            ))
            return
        container.keys[key.value] = key
        container.items[key.value] = node


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(data: bytes) -> tuple[str | None, list[YamlProblem]]:
    """UTF-8 bytes -> text, or the position of the first invalid byte or forbidden character."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x}): save the file as UTF-8"
        return None, [YamlProblem(line, col, message)]
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, col = _line_col(text, bad.start())
        message = f"control character U+{ord(bad.group()):04X} is not allowed: remove it"
        return None, [YamlProblem(line, col, message)]
    return text, []


def _hint(exc: yaml.MarkedYAMLError, text: str, mark: Any) -> str:
    """What an admin most likely did, for the syntax errors people actually make."""
    problem, context = exc.problem or "", exc.context or ""
    started = f" on line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
    if "cannot start any token" in problem and mark is not None:
        ch = text[mark.index] if mark.index < len(text) else ""
        if ch == "\t":
            return ": a tab; indent with spaces"
        return f": text cannot start with {ch!r}; put the text in quotes"
    if "mapping values are not allowed" in problem:
        return ": a ': ' inside text needs the text in quotes, or this line is indented wrongly"
    if "flow sequence" in context:
        return f": a list opened with [{started} is not closed with ] (or a comma is missing)"
    if "flow mapping" in context:
        return f": a {{ opened{started} is not closed with }} (or a comma is missing)"
    if "quoted scalar" in context:
        return f": the quote opened{started} is not closed"
    if "block collection" in context or "block mapping" in context:
        return ": check the indentation of this line against the lines above"
    return ""


def parse_text(text: str) -> tuple[YNode | None, list[YamlProblem]]:
    """Compose YAML text into Y nodes; problems are positioned, and the node is None when unreadable."""
    composer = _Composer(text)
    try:
        root = composer.compose()
    except _Abort as exc:
        return None, [*composer.problems, exc.problem]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark is not None else (1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context:
            what = f"{what} ({exc.context})"
        hint = _hint(exc, text, mark)
        return None, [*composer.problems, YamlProblem(line, col, f"YAML syntax error: {what}{hint}")]
    except yaml.YAMLError as exc:
        return None, [*composer.problems, YamlProblem(1, 1, f"YAML error: {exc}")]
    return root, composer.problems


def read_text(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, list[YamlProblem]]:
    """A file's text, refusing files over ``max_bytes`` before reading them, and bad UTF-8."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            return None, [YamlProblem(1, 1, f"file is {size:,} bytes; the limit is {max_bytes:,}: split it")]
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        return None, [YamlProblem(1, 1, f"cannot read the file: {exc.strerror or type(exc).__name__}")]
    if len(data) > max_bytes:
        return None, [YamlProblem(1, 1, f"file is over {max_bytes:,} bytes: split it")]
    return decode(data)


def load_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[YNode | None, list[YamlProblem]]:
    """Read and compose one YAML file (see `read_text` and `parse_text`)."""
    text, problems = read_text(path, max_bytes)
    if text is None:
        return None, problems
    return parse_text(text)
