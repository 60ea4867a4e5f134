"""Trained learned parts kept between runs, keyed by everything that shapes them.

Training the escalations' learned parts takes seconds, and `check`, `chat`, `run`, /reload and a
restart would each train them again on files that did not change. As ruff and mypy keep their
results, this keeps each trained model's arrays (numpy ``.npz``, read with ``allow_pickle=False``)
under a key that hashes the training inputs, the bot's own source and the versions of the libraries
that read text: any change to any of them is a different key, so a stale model is never used.
What is kept is derived from the catalog alone (its examples and their feature names), never from a
message. A missing, unreadable or corrupt entry is trained again; a cache that cannot be written
costs only the time, never a reply.

Where: ``$STALKING_BOT_CACHE`` (a folder, or ``off``), else ``$XDG_CACHE_HOME/stalking-support-bot``,
else ``~/.cache/stalking-support-bot``. The newest entries stay, up to ``KEEP_BYTES`` on disk; the oldest go
first (a size, not a count: a planted test catalog's entry is a few kilobytes, the default one's ten megabytes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ENV = "STALKING_BOT_CACHE"
KEEP_BYTES = 256 * 2**20  # on disk: a few big catalogs' worth, old and new during edits, and many small ones
FORMAT = "1"  # bumped when what an entry holds changes shape
_IN_MEMORY = 12  # entries kept in this process too: a reload of unchanged files reads nothing
# Libraries whose output shapes a trained model (word list, language detector, patterns, look-alikes).
_LIBRARIES = ("numpy", "rapidfuzz", "symspellpy", "lingua-language-detector", "google-re2", "confusable-homoglyphs")

log = logging.getLogger(__name__)
_memory: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
_lock = threading.Lock()


def folder() -> Path | None:
    """Where entries are kept, or None when the cache is off."""
    chosen = os.environ.get(ENV, "")
    if chosen.strip().lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stalking-support-bot"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the bot's source files and the versions of the libraries that read text."""
    h = hashlib.sha256(FORMAT.encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    for name in _LIBRARIES:
        try:
            h.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}=-".encode())
    return h.hexdigest()


def key(parts: Iterable[str]) -> str:
    """The key for a model trained from ``parts`` (every input, as text) by this code."""
    h = hashlib.sha256(code_fingerprint().encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:40]


def cached(entry: str, build: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays kept under ``entry``, or ``build()``'s, kept for next time."""
    with _lock:  # a reload builds in a worker thread while the old catalog serves
        if entry in _memory:
            _memory.move_to_end(entry)
            return _memory[entry]
    where = folder()
    arrays = _read(where / f"{entry}.npz") if where is not None else None
    if arrays is None:
        arrays = dict(build())
        if where is not None:
            _write(where, entry, arrays)
    with _lock:
        _memory[entry] = arrays
        while len(_memory) > _IN_MEMORY:
            _memory.popitem(last=False)
    return arrays


def pack_texts(name: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Texts as one UTF-8 byte array and their lengths (a string array takes 4 bytes a letter times the longest)."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    return {name: np.frombuffer(b"".join(encoded), dtype=np.uint8),
            f"{name}_lengths": np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))}


def unpack_texts(arrays: Mapping[str, np.ndarray], name: str) -> list[str]:
    """The texts ``pack_texts`` kept under ``name``."""
    data = arrays[name].tobytes()
    ends = np.cumsum(arrays[f"{name}_lengths"]).tolist()
    return [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip([0, *ends], ends, strict=False)]


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file is trained again, never trusted
        log.info("model cache: ignoring %s (%s)", path.name, type(exc).__name__)
        return None


def _write(where: Path, entry: str, arrays: Mapping[str, np.ndarray]) -> None:
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        # written whole, then renamed: a reader never sees half an entry, and two writers race harmlessly
        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{entry}.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                save: Any = np.savez  # its **arrays would otherwise be typed as its own allow_pickle flag
                save(f, allow_pickle=False, **arrays)
            os.replace(tmp, where / f"{entry}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(where)
    except OSError as exc:  # read-only or full disk: the model is simply trained again next time
        log.info("model cache: not kept (%s)", type(exc).__name__)


def _prune(where: Path) -> None:
    entries = sorted(where.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for entry in entries:
        total += entry.stat().st_size
        if total > KEEP_BYTES and entry is not entries[0]:  # the newest always stays, however big
            entry.unlink(missing_ok=True)
