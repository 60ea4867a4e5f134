"""Which files make up a catalog: the one rule the loader, the intent-folder watcher and /reload share."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".yaml", ".yml")


def catalog_files(directory: Path) -> list[Path]:
    """Every intent file under ``directory``, sorted; files in dot-folders (.git, editor backups) are not."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.rglob("*")
        if p.suffix in SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
