"""Telegram's HTML subset: validation with offsets, plain-text rendering, length and safe splitting.

Telegram rejects a whole message when its HTML is off (an unknown tag, an unescaped ``&``, an unclosed
``<b>``), so answers are checked when the catalog loads rather than discovered broken in a chat.
Rules: https://core.telegram.org/bots/api#html-style
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterator
from dataclasses import dataclass

TELEGRAM_LIMIT = 4096  # characters of a message's text after entity parsing

# Tag -> attributes Telegram accepts on it.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    **{n: frozenset() for n in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler")},
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "tg-time": frozenset({"unix", "format"}),
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[^\s=>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*(/?)>"
)
_ATTR = re.compile(r"([^\s=>/\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{0,31}));")
_TEXT = re.compile(r"[^<>&]+")


@dataclass(frozen=True)
class HtmlProblem:
    """Something Telegram would reject, at a character offset into the HTML."""

    offset: int
    message: str


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    kind: str  # open | close | text | entity | bad
    name: str = ""  # tag name (lower case)
    text: str = ""  # the plain text this token stands for
    attrs: tuple[tuple[str, str | None], ...] = ()
    self_closing: bool = False


def escape(text: str) -> str:
    """Plain text -> HTML text (escapes <, >, & and quotes)."""
    return _html.escape(text, quote=True)


def _entity_text(m: re.Match[str]) -> str | None:
    decimal, hexa, name = m.groups()
    if name is not None:
        return NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _tokens(html: str) -> Iterator[_Token]:
    pos, n = 0, len(html)
    while pos < n:
        ch = html[pos]
        if ch == "<":
            m = _TAG.match(html, pos)
            if m:
                attrs = tuple(
                    (a.group(1).lower(), next((g for g in a.groups()[1:] if g is not None), None))
                    for a in _ATTR.finditer(m.group(3))
                )
                kind = "close" if m.group(1) else "open"
                yield _Token(pos, m.end(), kind, m.group(2).lower(), "", attrs, bool(m.group(4)))
                pos = m.end()
                continue
        elif ch == "&":
            e = _ENTITY.match(html, pos)
            if e:
                decoded = _entity_text(e)
                text = decoded if decoded is not None else e.group(0)
                yield _Token(pos, e.end(), "entity", e.group(0), text)
                pos = e.end()
                continue
        elif ch != ">":
            t = _TEXT.match(html, pos)
            assert t is not None  # ch is none of <, >, &
            yield _Token(pos, t.end(), "text", text=t.group())
            pos = t.end()
            continue
        yield _Token(pos, pos + 1, "bad", text=ch)
        pos += 1


def validate(html: str, *, check_links: bool = True) -> list[HtmlProblem]:
    """Every reason Telegram would refuse this HTML (or we would: non-https links), with offsets.

    With ``check_links=False`` hrefs holding {placeholders} are left for a check after filling.
    """
    problems: list[HtmlProblem] = []
    stack: list[_Token] = []
    for tok in _tokens(html):
        if tok.kind == "bad":
            what = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}[tok.text]
            problems.append(HtmlProblem(tok.start, f"escape {tok.text} as {what} (or fix the tag)"))
        elif tok.kind == "entity":
            if tok.text == tok.name:  # not decodable
                if tok.name[1] == "#":
                    problems.append(HtmlProblem(tok.start, f"{tok.name} is not a valid character number"))
                else:
                    problems.append(HtmlProblem(
                        tok.start,
                        f"Telegram knows only &lt; &gt; &amp; &quot;: write the character for {tok.name} "
                        "itself, or escape & as &amp;",
                    ))
        elif tok.kind == "open":
            problems.extend(_check_open(tok, stack, check_links))
            if tok.name in ALLOWED_TAGS and not tok.self_closing:
                stack.append(tok)
        elif tok.kind == "close":
            problems.extend(_check_close(tok, stack))
    for tok in stack:
        problems.append(HtmlProblem(tok.start, f"<{tok.name}> is never closed: add </{tok.name}>"))
    return problems


def _check_open(tok: _Token, stack: list[_Token], check_links: bool) -> list[HtmlProblem]:
    name, at = tok.name, tok.start
    if name not in ALLOWED_TAGS:
        if name == "br":
            return [HtmlProblem(at, "Telegram does not accept <br>: start a new line instead")]
        if name in ("p", "div"):
            return [HtmlProblem(at, f"Telegram does not accept <{name}>: end paragraphs with a blank line")]
        allowed = ", ".join(sorted(ALLOWED_TAGS))
        message = f"Telegram does not accept <{name}> (allowed: {allowed}); to show <, write &lt;"
        return [HtmlProblem(at, message)]
    out: list[HtmlProblem] = []
    if tok.self_closing:
        out.append(HtmlProblem(at, f"write <{name}>...</{name}>, not a self-closing <{name}/>"))
    attrs = dict(tok.attrs)
    for attr in attrs:
        if attr not in ALLOWED_TAGS[name]:
            out.append(HtmlProblem(at, f"Telegram does not accept the attribute {attr!r} on <{name}>"))
    parents = {t.name for t in stack}
    if "code" in parents or ("pre" in parents and name != "code"):
        out.append(HtmlProblem(at, f"<{name}> inside <pre>/<code>: Telegram allows no formatting there"))
    if name == "blockquote" and "blockquote" in parents:
        out.append(HtmlProblem(at, "a <blockquote> cannot hold another <blockquote>"))
    if name == "a" and "a" in parents:
        out.append(HtmlProblem(at, "a link cannot hold another link"))
    if name == "span" and attrs.get("class") != "tg-spoiler":
        out.append(HtmlProblem(at, 'Telegram accepts <span> only as <span class="tg-spoiler">'))
    if name == "code" and "class" in attrs and not (attrs["class"] or "").startswith("language-"):
        out.append(HtmlProblem(at, 'the class of <code> must be "language-NAME"'))
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        out.append(HtmlProblem(at, "<tg-emoji> needs an emoji-id"))
    if name == "a":
        href = attrs.get("href")
        if not href:
            out.append(HtmlProblem(at, '<a> needs an href: <a href="https://...">'))
        elif check_links or "{" not in href:
            url = _html.unescape(href).strip()
            if not url.lower().startswith("https://"):
                out.append(HtmlProblem(at, f"link {url!r} must start with https://"))
    return out


def _check_close(tok: _Token, stack: list[_Token]) -> list[HtmlProblem]:
    name, at = tok.name, tok.start
    if tok.attrs or tok.self_closing:
        return [HtmlProblem(at, f"a closing </{name}> takes no attributes")]
    if name not in ALLOWED_TAGS:
        return [] if name == "br" else [HtmlProblem(at, f"Telegram does not accept </{name}>")]
    if not stack:
        return [HtmlProblem(at, f"</{name}> closes nothing: remove it or add <{name}> before it")]
    if stack[-1].name != name:
        if any(t.name == name for t in stack):
            inner = stack[-1].name
            problem = HtmlProblem(at, f"</{name}> comes before </{inner}>: close tags in reverse order")
            while stack[-1].name != name:  # resynchronise so one slip is reported once
                stack.pop()
            stack.pop()
            return [problem]
        return [HtmlProblem(at, f"</{name}> closes nothing: remove it or add <{name}> before it")]
    stack.pop()
    return []


def to_plain(html: str, *, links: bool = True) -> str:
    """HTML -> the text a reader sees; with ``links`` a link's URL follows its text in brackets.

    Works on invalid HTML too (stray characters are kept), for the plain-text fallback.
    """
    out: list[str] = []
    href_stack: list[tuple[str | None, int]] = []
    for tok in _tokens(html):
        if tok.kind in ("text", "entity", "bad"):
            out.append(tok.text)
        elif tok.name == "a" and tok.kind == "open" and not tok.self_closing:
            href = dict(tok.attrs).get("href")
            href_stack.append((_html.unescape(href) if href else None, len(out)))
        elif tok.name == "a" and tok.kind == "close" and href_stack:
            href, since = href_stack.pop()
            label = "".join(out[since:]).strip()
            if links and href and label != href:
                out.append(f" ({href})")
    return "".join(out)


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units, so an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def text_length(html: str) -> int:
    """How long this HTML is for Telegram's 4096 limit (tags removed, entities decoded)."""
    return tg_len(to_plain(html, links=False))


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split HTML into messages of at most ``limit`` visible characters each.

    Prefers paragraph breaks, then line breaks, then spaces; never cuts a tag or an entity; closes
    the tags still open at a cut and re-opens them at the start of the next part.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if text_length(html) <= limit:  # the usual case: nothing to split
        return [html]
    # Atoms: (start, end, tag token or None, visible length, character) - characters one by one.
    atoms: list[tuple[int, int, _Token | None, int, str]] = []
    for tok in _tokens(html):
        if tok.kind in ("open", "close"):
            atoms.append((tok.start, tok.end, tok, 0, ""))
        elif tok.kind == "text":
            for i, ch in enumerate(tok.text):
                atoms.append((tok.start + i, tok.start + i + 1, None, tg_len(ch), ch))
        else:
            atoms.append((tok.start, tok.end, None, tg_len(tok.text), tok.text))
    parts: list[str] = []
    stack: list[_Token] = []
    i, n = 0, len(atoms)
    while i < n:
        prefix = "".join(html[t.start:t.end] for t in stack)
        start_stack = list(stack)
        used, j = 0, i
        best: dict[int, tuple[int, int, list[_Token]]] = {}  # priority -> (cut, resume, stack at cut)
        while j < n:
            start, end, tag, length, ch = atoms[j]
            if ch in ("\n", " ") and j > i:  # the separator itself is dropped at a cut
                if ch == "\n" and j + 1 < n and atoms[j + 1][4] == "\n":
                    best[0] = (j, j + 2, list(stack))
                else:
                    best[1 if ch == "\n" else 2] = (j, j + 1, list(stack))
            if used + length > limit:
                break
            used += length
            if tag is not None:
                _track(stack, tag)
            j += 1
        if j >= n:
            parts.append(prefix + html[atoms[i][0]:])
            break
        if best:
            cut, resume, stack = best[min(best)]
        else:  # one unbroken run longer than a message: cut where the limit falls
            cut, resume = max(j, i + 1), max(j, i + 1)
            if cut != j:  # a single atom wider than the limit
                stack = list(start_stack)
                for a in atoms[i:cut]:
                    if a[2] is not None:
                        _track(stack, a[2])
        closing = "".join(f"</{t.name}>" for t in reversed(stack))
        parts.append(prefix + html[atoms[i][0]:atoms[cut][0]] + closing)
        i = resume
    return [p for p in parts if to_plain(p).strip()]


def _track(stack: list[_Token], tag: _Token) -> None:
    if tag.kind == "open" and not tag.self_closing and tag.name in ALLOWED_TAGS:
        stack.append(tag)
    elif tag.kind == "close" and any(t.name == tag.name for t in stack):
        while stack and stack.pop().name != tag.name:
            pass
