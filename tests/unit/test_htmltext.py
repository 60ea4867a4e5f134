"""Telegram HTML: what Telegram would reject, plain-text rendering and tag-safe splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.htmltext import escape, split_html, text_length, tg_len, to_plain, validate


def messages(html: str, **kwargs: bool) -> list[tuple[int, str]]:
    return [(p.offset, p.message) for p in validate(html, **kwargs)]


@pytest.mark.parametrize(
    "html",
    [
        "<b>b</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins> <s>s</s> <strike>k</strike>",
        "<del>d</del> <tg-spoiler>x</tg-spoiler> <span class=\"tg-spoiler\">y</span>",
        '<a href="https://example.org/?a=1&amp;b=2">link</a>',
        '<pre><code class="language-python">x = 1 &lt; 2</code></pre>',
        "<blockquote>q</blockquote> <blockquote expandable>long</blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "5 &gt; 3 &amp;&amp; 2 &lt; 4 &quot;quoted&quot; &#128512; &#x1F600;",
        "line one\nline two\n\nparagraph {placeholder}",
        "<b><i>nested</i></b>",
    ],
)
def test_valid_telegram_html(html: str) -> None:
    assert validate(html) == []


@pytest.mark.parametrize(
    ("html", "offset", "fragment"),
    [
        ("fish & chips", 5, "escape & as &amp;"),
        ("a < b", 2, "escape < as &lt;"),
        ("a -> b", 3, "escape > as &gt;"),
        ("<p>x</p>", 0, "blank line"),
        ("a<br>b", 1, "new line"),
        ("<div>x</div>", 0, "<div>"),
        ("<h1>x</h1>", 0, "to show <, write &lt;"),
        ("<b>open", 0, "<b> is never closed: add </b>"),
        ("close</b>", 5, "</b> closes nothing"),
        ("<b><i>x</b></i>", 7, "close tags in reverse order"),
        ("&nbsp;", 0, "&lt; &gt; &amp; &quot;"),
        ("&#0;", 0, "not a valid character number"),
        ('<a href="http://example.org">x</a>', 0, "must start with https://"),
        ("<a>x</a>", 0, "needs an href"),
        ("<span>x</span>", 0, 'class="tg-spoiler"'),
        ("<pre><b>x</b></pre>", 5, "no formatting"),
        ("<blockquote><blockquote>x</blockquote></blockquote>", 12, "another <blockquote>"),
        ('<a href="https://a.b"><a href="https://c.d">x</a></a>', 22, "another link"),
        ('<b class="x">y</b>', 0, "attribute 'class'"),
        ("<b/>", 0, "self-closing"),
        ('<code class="py">x</code>', 0, "language-"),
        ("<tg-emoji>x</tg-emoji>", 0, "emoji-id"),
    ],
)
def test_invalid_html_is_reported_with_offset(html: str, offset: int, fragment: str) -> None:
    found = messages(html)
    assert any(o == offset and fragment in m for o, m in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = messages("a & b <p>c</p> <b>d")
    assert [o for o, _ in found] == [2, 6, 10, 15]


def test_placeholder_hrefs_wait_for_filling() -> None:
    html = '<a href="{report_url}">report</a>'
    assert validate(html, check_links=False) == []
    assert "https://" in messages(html)[0][1]


def test_to_plain_strips_tags_decodes_entities_and_shows_links() -> None:
    html = '<b>Call</b> 999 &amp; <a href="https://x.org/a?b=1&amp;c=2">report online</a> &lt;now&gt;'
    assert to_plain(html) == "Call 999 & report online (https://x.org/a?b=1&c=2) <now>"
    assert to_plain(html, links=False) == "Call 999 & report online <now>"
    assert to_plain('<a href="https://x.org">https://x.org</a>') == "https://x.org"


def test_to_plain_survives_broken_html() -> None:
    assert to_plain("fish & chips <b>x") == "fish & chips x"


def test_length_counts_text_after_entities_in_utf16_units() -> None:
    assert text_length("<b>a&amp;b</b>") == 3
    assert text_length("😀") == 2 and tg_len("é") == 1


def test_escape_makes_text_safe() -> None:
    assert escape('<b> & "x"') == "&lt;b&gt; &amp; &quot;x&quot;"
    assert validate(escape("<script>alert('x') & co</script>")) == []


def test_short_text_is_not_split() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def test_split_prefers_paragraphs_and_reopens_tags() -> None:
    paras = [f"<i>paragraph {n} " + "word " * 20 + "end</i>" for n in range(4)]
    html = "<b>" + "\n\n".join(paras) + "</b>"
    parts = split_html(html, limit=150)  # a paragraph is 115 characters: one per part
    assert len(parts) == 4
    for n, part in enumerate(parts):
        assert validate(part) == []
        assert part.startswith(f"<b><i>paragraph {n} ") and part.endswith("end</i></b>")
    two_per_part = split_html(html, limit=250)
    assert len(two_per_part) == 2 and two_per_part[1].startswith("<b><i>paragraph 2 ")


def test_split_falls_back_to_lines_then_spaces_then_hard_cuts() -> None:
    assert split_html("aaa\nbbb ccc", limit=7) == ["aaa", "bbb ccc"]
    assert split_html("aaa bbb ccc", limit=7) == ["aaa bbb", "ccc"]
    assert split_html("<b>" + "x" * 10 + "</b>", limit=4) == ["<b>xxxx</b>", "<b>xxxx</b>", "<b>xx</b>"]


def test_split_never_cuts_an_entity() -> None:
    parts = split_html("&amp;" * 5, limit=2)
    assert parts == ["&amp;&amp;", "&amp;&amp;", "&amp;"]


def test_split_keeps_link_targets_when_reopening() -> None:
    html = '<a href="https://x.org">' + "word " * 10 + "</a>"
    parts = split_html(html, limit=20)
    assert len(parts) > 1 and all(p.startswith('<a href="https://x.org">') for p in parts)


def test_split_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError):
        split_html("x", limit=0)


_words = st.sampled_from(["stalking", "help", "999", "&amp;", "&lt;", "😀", "call", "now", "é"])


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    paragraphs = []
    for _ in range(draw(st.integers(1, 6))):
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            text = " ".join(draw(st.lists(_words, min_size=1, max_size=30)))
            tag = draw(st.sampled_from(["", "b", "i", "u", "blockquote"]))
            lines.append(f"<{tag}>{text}</{tag}>" if tag else text)
        paragraphs.append("\n".join(lines))
    outer = draw(st.sampled_from(["", "b", "i"]))
    body = "\n\n".join(paragraphs)
    return f"<{outer}>{body}</{outer}>" if outer else body


@settings(max_examples=200, deadline=None)
@given(html_documents(), st.integers(min_value=12, max_value=400))
def test_split_parts_are_valid_short_and_lose_only_separators(html: str, limit: int) -> None:
    assert validate(html) == []
    parts = split_html(html, limit)
    assert all(validate(p) == [] for p in parts)
    assert all(text_length(p) <= limit for p in parts)
    original = "".join(to_plain(html, links=False).split())
    assert "".join("".join(to_plain(p, links=False).split()) for p in parts) == original
