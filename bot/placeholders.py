"""{placeholders} in answers: find them, fill them strictly, and build their values.

Syntax: ``{name}`` with name made of letters, digits and _; ``{{`` and ``}}`` are literal braces.
Nothing else (no ``{a.b}``, ``{0}``, ``{x:>5}``): str.format would run attribute lookups on admin text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.model import OpeningHours

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
REPORT_ONLINE_FALLBACK = "report online through your local police force's website"


class PlaceholderError(ValueError):
    """A template is malformed or names a placeholder without a value."""


def scan(template: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(offset, name) of every placeholder, and (offset, message) of every stray brace."""
    found: list[tuple[int, str]] = []
    problems: list[tuple[int, str]] = []
    skip: set[int] = set()  # the } of a malformed {...} already reported with its {
    for m in _PLACEHOLDER.finditer(template):
        token, at = m.group(), m.start()
        if m.group(1) is not None:
            found.append((at, m.group(1)))
        elif token == "{":
            close = template.find("}", at)
            inner = template[at + 1 : close] if close != -1 else ""
            if close != -1 and "{" not in inner and len(inner) <= 40:
                skip.add(close)
                problems.append((at, f"{{{inner}}} is not a placeholder: write {{name}} with letters, digits "
                                     "and _ only, or {{ }} for literal braces"))
            else:
                problems.append((at, "a lone {: write {{ for a literal brace"))
        elif token == "}" and at not in skip:
            problems.append((at, "a lone }: write }} for a literal brace"))
    return found, problems


def names(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return {name for _, name in scan(template)[0]}


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every {name} with ``values[name]`` as given; PlaceholderError if one is missing."""

    def replace(m: re.Match[str]) -> str:
        token, name = m.group(), m.group(1)
        if name is not None:
            try:
                return values[name]
            except KeyError:
                raise PlaceholderError(f"unknown placeholder {{{name}}}") from None
        if token in ("{{", "}}"):
            return token[0]
        raise PlaceholderError(f"a lone {token} in the template: write {token}{token} for a literal brace")

    return _PLACEHOLDER.sub(replace, template)


def report_online(report_url: str, *, as_html: bool = True) -> str:
    """The {report_online} phrase: a link to the force's page when known, else a pointer to find it."""
    if not report_url:
        return REPORT_ONLINE_FALLBACK
    if as_html:
        return f'<a href="{html.escape(report_url, quote=True)}">report online</a>'
    return f"report online at {report_url}"


def values(
    service: Mapping[str, str],
    hours: Iterable[OpeningHours],
    now: datetime,
    *,
    as_html: bool = True,
    nation: str | None = None,
) -> dict[str, str]:
    """Every placeholder's value: the ``service`` settings, {report_online}, each {<id>_status} and {<id>_hours}.

    With ``as_html`` (answers) the admin's plain-text service values are HTML-escaped; without it (URLs
    of link buttons) they are inserted as written. ``nation`` (a jurisdiction id) picks each line's
    closed text for that nation.
    """
    from bot.hours import hours_text, status_text
    from bot.htmltext import to_plain

    url = str(service.get("report_url", ""))
    escaped = {key: html.escape(str(value)) for key, value in service.items()}
    escaped["report_online"] = report_online(url, as_html=True)
    out = dict(escaped)
    if not as_html:
        out = {key: str(value) for key, value in service.items()}
        out["report_online"] = report_online(url, as_html=False)
    out.setdefault("local_services", "")  # {local_services} reads as nothing when none are configured
    for h in hours:
        # status texts are HTML and may use the service placeholders (but not another status)
        text = status_text(h, now, escaped, nation)
        out[f"{h.id}_status"] = text if as_html else to_plain(text)
        out[f"{h.id}_hours"] = hours_text(h)
    return out
