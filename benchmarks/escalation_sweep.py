"""Escalation recall and false escalations on labelled sets, for one setting of the learned part.

    .venv/bin/python benchmarks/escalation_sweep.py                      # the shipped constants
    .venv/bin/python benchmarks/escalation_sweep.py L2=1e-4 RECALL=0.85  # one variant
    .venv/bin/python benchmarks/escalation_sweep.py --sets a.tsv b.tsv   # other sets

Each run trains the default catalog's detector in this process with the constants of
bot/escalation_model.py replaced as given (before anything is trained, so the model cache, which keys
on the code and not on these values, is pointed at a fresh folder), then prints emergency recall,
crisis recall and false escalations for each set and for all but the first together. It reads the
escalation column only, so it is much faster than `python -m bot eval` for comparing settings.
MIN_WORDS is also imported by bot/safety.py, so setting it here changes only what the model scores.
Compare settings on our own sets; score a held-out set once, at the end (eval/heldout/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.escalation_model as model  # noqa: E402

DEFAULT_SETS = ("../shared/eval/dev.tsv", "eval/escalation.tsv", "eval/escalation_fresh.tsv",
                "eval/heldout/fresh_safety.tsv", "eval/heldout/fresh_safety_2.tsv",
                "eval/heldout/fresh_safety_3.tsv", "eval/heldout/fresh_crisis_3.tsv",
                "eval/heldout/fresh_safety_5.tsv", "eval/heldout/fresh_safety_6.tsv",
                "eval/heldout/fresh_safety_7.tsv", "eval/heldout/fresh_safety_8.tsv",
                "eval/heldout/fresh_safety_9.tsv", "eval/heldout/fresh_safety_10.tsv",
                "eval/heldout/fresh_safety_11.tsv", "eval/heldout/fresh_safety_12.tsv",
                "eval/heldout/fresh_safety_14.tsv", "eval/heldout/fresh_safety_15.tsv",
                "../shared/eval/real/safety.tsv",
                "eval/stories.tsv")  # all seen: sets to tune on (fresh_safety_4 and 13 never read: not here)


def labelled(path: Path) -> Iterator[tuple[set[str], str]]:
    """(escalations expected, text) for each line of an evaluation file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        escalation, _, text = line.split("\t", 2)
        yield set(escalation.split(",")), text


def main() -> None:
    """Parse the settings, train once, score every set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", help="NAME=VALUE for a constant of bot/escalation_model.py")
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS, help="evaluation files, from the repo root")
    args = parser.parse_args()
    for setting in args.settings:
        name, _, value = setting.partition("=")
        if not hasattr(model, name):
            parser.error(f"bot/escalation_model.py has no constant {name!r}")
        setattr(model, name, type(getattr(model, name))(float(value)))
    os.environ["STALKING_BOT_CACHE"] = tempfile.mkdtemp(prefix="escalation-sweep-")
    os.chdir(ROOT)

    from bot.catalog.load import load_catalog
    from bot.matcher import Matcher
    from bot.safety import Detector

    catalog, problems = load_catalog("intents")
    if catalog is None:
        sys.exit("\n".join(str(p) for p in problems if p.is_error))
    detector = Detector.for_catalog(catalog, known_words=Matcher(catalog).vocabulary())
    totals = {"emergency": [0, 0], "crisis": [0, 0], "false": [0, 0]}
    print(f"settings: {' '.join(args.settings) or 'as shipped'}")
    print(f"{'set':40} {'emergency':>10} {'crisis':>10} {'false':>10}")
    for k, name in enumerate(args.sets):
        path = Path(name)
        if not path.exists():
            print(f"{name:40} (missing, skipped)")
            continue
        counts = {"emergency": [0, 0], "crisis": [0, 0], "false": [0, 0]}
        for expected, text in labelled(path):
            fired = {h.escalation for h in detector.detect(text)}
            for escalation in ("emergency", "crisis"):
                if escalation in expected:
                    counts[escalation][0] += escalation in fired
                    counts[escalation][1] += 1
            if expected == {"none"}:
                counts["false"][0] += bool(fired)
                counts["false"][1] += 1
        if k:
            for key, (hit, n) in counts.items():
                totals[key][0] += hit
                totals[key][1] += n
        print(f"{name:40} " + " ".join(f"{hit / max(n, 1):10.3f}" for hit, n in counts.values()))
    print(f"{'all but the first':40} " + " ".join(f"{hit / max(n, 1):10.3f}" for hit, n in totals.values()))


if __name__ == "__main__":
    main()
