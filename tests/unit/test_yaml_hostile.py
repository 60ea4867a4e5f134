"""Hostile intent files: bombs, huge files, deep nesting, bad bytes. Each is refused with a position."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.catalog import entries, read
from bot.catalog.load import analyse, load_catalog
from bot.catalog.problems import MAX_PROBLEMS_PER_FILE
from bot.catalog.read import YMap, YScalar, YSeq, decode, load_file, parse_text
from tests.support.hostile import billion_laughs

VALID_INTENT = textwrap.dedent("""\
    intents:
      - id: greeting
        examples: [hello, hi there, good morning, hey, hiya]
        answer: Hello
""")


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each hostile case through libyaml and through PyYAML's pure-Python parser."""
    if request.param == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("libyaml not available")
        monkeypatch.setattr(read, "_Parser", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(read, "_Parser", yaml.SafeLoader)
    return str(request.param)


def test_billion_laughs_is_refused_at_the_alias_that_overflows(parser: str) -> None:
    root, problems = parse_text(billion_laughs())
    assert root is None
    assert len(problems) == 1
    assert "aliases" in problems[0].message and "write them out" in problems[0].message
    assert problems[0].line == 4  # d: where the expansions add up to over 10,000 values


def test_small_alias_reuse_is_allowed(parser: str) -> None:
    root, problems = parse_text("base: &b [menu, helpline]\nother: *b\n")
    assert problems == []
    assert isinstance(root, YMap)
    other = root.items["other"]
    assert isinstance(other, YSeq)
    assert [i.value for i in other.items if isinstance(i, YScalar)] == ["menu", "helpline"]


def test_recursive_alias_is_refused(parser: str) -> None:
    root, problems = parse_text("a: &r [1, *r]\n")
    assert root is None and "recursive alias" in problems[0].message
    assert (problems[0].line, problems[0].col) == (1, 11)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "a: " + "{a: " * 10_000 + "}" * 10_000 + "\n",
        "a:\n" + "- " * 10_000 + "x\n",
    ],
    ids=["flow-lists", "flow-maps", "block-lists"],
)
def test_ten_thousand_deep_nesting_is_refused(parser: str, text: str) -> None:
    root, problems = parse_text(text)
    assert root is None
    assert len(problems) == 1 and "nest" in problems[0].message
    assert problems[0].line in (1, 2)


def test_nesting_up_to_the_limit_loads(parser: str) -> None:
    depth = read.MAX_DEPTH
    root, problems = parse_text("[" * depth + "x" + "]" * depth)
    assert problems == [] and isinstance(root, YSeq)


def test_invalid_utf8_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"intents:\n  - id: greeting\n    answer: caf\xe9 \xff\n")
    root, problems = load_file(path)
    assert root is None
    assert [(p.line, p.col) for p in problems] == [(3, 16)]
    assert "UTF-8" in problems[0].message


def test_invalid_utf8_after_multibyte_text_counts_characters() -> None:
    text, problems = decode("a: é\nb: £€ ".encode() + b"\xc3")
    assert text is None and (problems[0].line, problems[0].col) == (2, 7)


def test_control_characters_are_refused() -> None:
    text, problems = decode(b"a: b\nc: x\x00y\n")
    assert text is None and (problems[0].line, problems[0].col) == (2, 5) and "U+0000" in problems[0].message


def test_byte_order_mark_is_accepted() -> None:
    text, problems = decode("\ufeffa: b\n".encode())
    assert problems == [] and text == "a: b\n"


def test_huge_file_is_refused_without_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:  # 50 MiB, sparse on most file systems
        fh.truncate(50 * 1024 * 1024)
    monkeypatch.setattr(read, "parse_text", lambda text: pytest.fail("a huge file must not be parsed"))
    root, problems = load_file(path)
    assert root is None
    assert "52,428,800 bytes" in problems[0].message and (problems[0].line, problems[0].col) == (1, 1)


def test_huge_file_in_a_catalog_is_an_error_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(VALID_INTENT)
    with (tmp_path / "huge.yaml").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    catalog, problems = load_catalog(tmp_path)
    assert catalog is None
    errors = [p for p in problems if p.is_error]
    assert len(errors) == 1 and errors[0].source.file == str(tmp_path / "huge.yaml")
    assert errors[0].source.line == 1 and "52,428,800 bytes" in errors[0].message
    assert [i.id for i in analyse(tmp_path).catalog.intents] == ["greeting"]  # ok.yaml still read


def test_total_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "MAX_TOTAL_BYTES", 2 * len(VALID_INTENT) + 10)
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(VALID_INTENT.replace("greeting", f"greeting_{name}"))
    catalog, problems = load_catalog(tmp_path)
    assert catalog is None
    assert [str(p.source.file) for p in problems if "add up to" in p.message] == [str(tmp_path / "c.yaml")]


def test_python_tags_are_refused_not_run(parser: str) -> None:
    root, problems = parse_text('a: !!python/object/apply:os.system ["echo pwned"]\n')
    assert root is None and "not allowed" in problems[0].message and problems[0].line == 1


def test_binary_and_set_tags_are_refused(parser: str) -> None:
    for text in ("a: !!binary aGVsbG8=\n", "a: !!set {x: null}\n"):
        root, problems = parse_text(text)
        assert root is None and "not allowed" in problems[0].message


def test_second_document_is_refused(parser: str) -> None:
    root, problems = parse_text("a: 1\n---\nb: 2\n")
    assert root is None and problems[0].line == 2 and "second YAML document" in problems[0].message


def test_duplicate_keys_are_reported_at_the_second_with_the_first_line(parser: str) -> None:
    root, problems = parse_text("a: 1\nb: 2\na: 3\n")
    assert isinstance(root, YMap)
    assert [(p.line, p.col) for p in problems] == [(3, 1)]
    assert "duplicate key 'a'" in problems[0].message and "line 1" in problems[0].message
    assert isinstance(root.items["a"], YScalar) and root.items["a"].value == 1  # the first is kept


def test_merge_keys_are_refused(parser: str) -> None:
    root, problems = parse_text("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert root is None and "merge keys" in problems[0].message and problems[0].line == 3


def test_non_text_keys_say_quote_it(parser: str) -> None:
    root, problems = parse_text("yes: 1\n2: x\n")
    assert [(p.line, "quote it" in p.message) for p in problems] == [(1, True), (2, True)]


def test_syntax_error_has_a_position(parser: str) -> None:
    root, problems = parse_text("intents:\n  - id: x\n    examples: [a, b\n    answer: y\n")
    assert root is None and problems[0].message.startswith("YAML syntax error")
    assert problems[0].line >= 3


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("a:\n\t- x\n", 2, "a tab; indent with spaces"),
        ("a: @x\n", 1, "put the text in quotes"),
        ("a: b: c\n", 1, "needs the text in quotes"),
        ("a: [b, c\nd: 1\n", 2, "a list opened with [ on line 1 is not closed"),
        ('a: "x\n', 2, "the quote opened on line 1 is not closed"),
        ("a:\n  - b\n - c\n", 3, "check the indentation"),
    ],
)
def test_syntax_errors_say_what_to_do(parser: str, text: str, line: int, hint: str) -> None:
    root, problems = parse_text(text)
    assert root is None and len(problems) == 1
    assert problems[0].line == line and hint in problems[0].message, problems[0]


def test_huge_integer_is_refused_cleanly(parser: str) -> None:
    root, problems = parse_text("a: " + "9" * 5000 + "\n")
    assert root is None and problems[0].line == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    text, problems = decode(data)
    if text is not None:
        root, problems = parse_text(text)
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"# \n\t,?%@`é")), max_size=200))
def test_arbitrary_yaml_like_text_never_crashes(text: str) -> None:
    root, problems = parse_text(text)
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_catalog_loader_never_crashes_on_arbitrary_files(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.yaml").write_bytes(data)
    catalog, problems = load_catalog(folder)
    # whatever the bytes, every problem points at a line of the file (or at the folder: a catalog-wide one),
    # and the catalog is refused exactly when one is an error
    in_file = [p for p in problems if p.source.file != str(folder)]
    assert all(p.source.file == str(folder / "x.yaml") and p.source.line >= 1 for p in in_file), problems
    assert (catalog is None) == any(p.is_error for p in problems)


def test_a_file_of_endless_problems_is_cut_short(tmp_path: Path) -> None:
    lines = ["intents:", "  - id: a", "    answer: x", "    examples:"] + ["      - yes"] * 50_000
    lines += ["    examples: again"] * 3
    (tmp_path / "many.yaml").write_text("\n".join(lines) + "\n")
    catalog, problems = load_catalog(tmp_path)
    assert catalog is None
    in_file = [p for p in problems if p.source.file == str(tmp_path / "many.yaml")]
    assert len(in_file) == MAX_PROBLEMS_PER_FILE + 1
    summary = [p for p in in_file if "more in this file, not listed" in p.message]
    assert len(summary) == 1 and summary[0].is_error


_KEYS = sorted({*entries.TOP_KEYS, *entries.INTENT_KEYS, *entries.ESCALATION_KEYS,
                *entries.HOURS_KEYS, *entries.BUTTON_KEYS, *entries.SETTINGS_KEYS,
                "fallback", "none_of_these", "monday", "friday"})
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["x", "hello there", "09:30-16:00", "2026-12-25", "<b>x", "{emergency_number}", "a & b",
                     "https://x.org", "http://x.org", "(", "menu", "emergency", "Europe/London", ""]),
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(entries.TOP_KEYS), _documents, max_size=4))
def test_catalog_loader_never_crashes_on_odd_structures(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, object]
) -> None:
    folder = tmp_path_factory.mktemp("shapes")
    (folder / "x.yaml").write_text(yaml.safe_dump(document))
    catalog, problems = load_catalog(folder, for_serving=True)
    assert all(p.source.line >= 1 or p.source.file == str(folder) for p in problems)
