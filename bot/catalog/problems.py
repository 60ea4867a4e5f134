"""Problems found in a catalog, and the reporter each file gets to report them at file:line:col."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.catalog.read import YNode, YScalar
from bot.catalog.schema import Source

MAX_PROBLEMS_PER_FILE = 200


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


class FileProblems:
    """The reporter of one file (or of the folder): every problem it takes is placed in that file."""

    def __init__(self, file: str, listed: list[Problem]) -> None:
        self.file = file
        self.text = ""  # the file's text once read: places a problem inside a multi-line answer
        self._listed = listed
        self._count = 0
        self.unlisted = (0, 0)  # (errors, warnings) past the listing cap

    def error(self, node: YNode | None, message: str, line: int = 0, col: int = 0) -> None:
        """An error at ``line``/``col``, or else at the node (or at no line when there is neither)."""
        self._add(node, message, "error", line, col)

    def warn(self, node: YNode | None, message: str, line: int = 0, col: int = 0) -> None:
        """A warning, placed like `error`."""
        self._add(node, message, "warning", line, col)

    def _add(self, node: YNode | None, message: str, severity: str, line: int, col: int) -> None:
        if node is not None and not line:
            line, col = node.line, node.col
        # A hostile or badly broken file could yield a problem per line: the first ones are listed, the
        # rest only counted (see unlisted), so a big file's warnings never turn into an error.
        self._count += 1
        if self._count > MAX_PROBLEMS_PER_FILE:
            errors, warnings = self.unlisted
            self.unlisted = (errors + (severity == "error"), warnings + (severity != "error"))
            return
        self._listed.append(Problem(Source(self.file, line, col), message, severity))

    def at(self, node: YScalar, offset: int) -> tuple[int, int]:
        """File line and column of a character of a scalar, exact for one-line and literal (|) text."""
        value: str = node.value
        before = value[:offset]
        if node.style in ("", "'", '"') and node.end_line == node.line:
            return node.line, node.col + offset + (1 if node.style else 0)
        if node.style == "|":
            content = self.text.split("\n")[node.line:]  # node.line is the "|" line (1-based): starts below it
            indent = next((len(ln) - len(ln.lstrip(" ")) for ln in content if ln.strip()), 0)
            row = before.count("\n")
            return node.line + 1 + row, indent + 1 + offset - (before.rfind("\n") + 1)
        return node.line, node.col


class Problems:
    """Every problem of one load, each reported through its file's own `FileProblems`."""

    def __init__(self) -> None:
        self._listed: list[Problem] = []
        self._files: dict[str, FileProblems] = {}

    def file(self, name: str) -> FileProblems:
        """The reporter of the file ``name``: the same one each time, so its listing cap counts every problem."""
        report = self._files.get(name)
        if report is None:
            report = self._files[name] = FileProblems(name, self._listed)
        return report

    def listed(self) -> list[Problem]:
        """Every problem sorted, and one line per file whose problems were cut short (an error if any was)."""
        out = list(self._listed)
        for report in self._files.values():
            errors, warnings = report.unlisted
            if not errors and not warnings:
                continue
            counts = ", ".join(f"{n} {word}{'s' if n != 1 else ''}"
                               for n, word in ((errors, "error"), (warnings, "warning")) if n)
            hint = "fix the ones above first" if errors else "the file can be served"
            out.append(Problem(Source(report.file, 0, 0), f"{counts} more in this file, not listed: {hint}",
                               "error" if errors else "warning"))
        return sorted(out, key=Problem.sort_key)
