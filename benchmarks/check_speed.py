"""How fast the catalog loads and `check` runs, and how fast hostile files are refused.

    .venv/bin/python benchmarks/check_speed.py [--intents DIR] [--clinc PATH]

Targets (exit status 1 if one is missed): `check` on the default catalog under 1 s in-process; each
hostile file (billion laughs, 10,000-deep nesting, 50 MiB, invalid UTF-8, a 2 MiB list) refused or
loaded in under 1 s. With the CLINC150 data present, the 15,000-example catalog is timed too
(reported, no target).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalog.load import load_catalog  # noqa: E402
from bot.check import run_check  # noqa: E402

TARGET_S = 1.0


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of ``repeat`` wall times, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def hostile_files(folder: Path) -> dict[str, Path]:
    """One folder per hostile case, each holding a single intent file."""
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        laughs.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    cases: dict[str, bytes | None] = {
        "billion laughs": ("\n".join(laughs) + "\n").encode(),
        "10,000-deep nesting": ("intents: " + "[" * 10_000 + "]" * 10_000 + "\n").encode(),
        "invalid UTF-8": b"intents:\n  - id: a\n    answer: caf\xe9\n",
        "2 MiB example list": (
            "intents:\n  - id: a\n    answer: x\n    examples:\n" + "      - how do i report it\n" * 80_000
        ).encode()[: 2 * 1024 * 1024 - 100],
        "50 MiB file": None,
    }
    out = {}
    for name, data in cases.items():
        case = folder / name.replace(" ", "_").replace(",", "")
        case.mkdir()
        path = case / "x.yaml"
        if data is None:
            with path.open("wb") as fh:
                fh.truncate(50 * 1024 * 1024)
        else:
            path.write_bytes(data.rsplit(b"\n", 1)[0] + b"\n")
        out[name] = case
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intents", default=str(ROOT / "intents"))
    parser.add_argument("--clinc", default=str(ROOT.parent / "shared/data/clinc150/data_full.json"))
    args = parser.parse_args()
    failed = False

    def report(name: str, seconds: float, target: float | None) -> None:
        nonlocal failed
        verdict = ""
        if target is not None:
            ok = seconds < target
            failed |= not ok
            verdict = "ok" if ok else f"MISSED (target {target:.1f} s)"
        print(f"{name:<45} {seconds * 1000:9.1f} ms  {verdict}")

    report("load_catalog(default)", timed(lambda: load_catalog(args.intents, for_serving=True)), None)
    report("check(default)", timed(lambda: run_check(args.intents, out=io.StringIO())), TARGET_S)
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in hostile_files(Path(tmp)).items():
            report(f"hostile: {name}", timed(partial(load_catalog, folder)), TARGET_S)
        clinc = Path(args.clinc)
        if clinc.is_file():
            sys.path.insert(0, str(ROOT / "benchmarks"))
            import clinc150

            catalog_dir = Path(tmp) / "clinc"
            intents = clinc150.by_intent(clinc150.load_clinc(clinc)["train"])
            clinc150.write_catalog(catalog_dir, intents)
            report("load_catalog(CLINC150 train, 15,000 examples)",
                   timed(lambda: load_catalog(catalog_dir)), None)
            report("check(CLINC150 train, 15,000 examples)",
                   timed(lambda: run_check(str(catalog_dir), out=io.StringIO()), repeat=1), None)
        else:
            print(f"(no CLINC150 data at {clinc}: 15,000-example timing skipped)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
