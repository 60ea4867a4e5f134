"""{placeholders} in answers: find them and fill them strictly (nothing here knows what the values are).

Syntax: ``{name}`` with name made of letters, digits and _; ``{{`` and ``}}`` are literal braces.
Nothing else (no ``{a.b}``, ``{0}``, ``{x:>5}``): str.format would run attribute lookups on admin text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


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
