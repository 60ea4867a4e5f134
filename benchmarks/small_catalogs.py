"""Small catalogs: our matcher with self-chosen settings beside a TF-IDF + linear SVM at its best threshold.

An admin's catalog is small (a few hundred examples) and comes with no tuning split, so the matcher
chooses its own threshold and margin at load (bot/calibration.py). This benchmark builds small catalogs
from CLINC150 and scores them on messages they never saw:

- each catalog: ``--intents`` intents drawn at random, ``--examples`` train examples each, and
  ``--out-of-scope`` oos_train lines as ``out_of_scope``;
- its test set: those intents' test lines, oos_test lines, and test lines of intents left out of the
  catalog (out of scope too: the near-topic messages people send);
- ours: the catalog as written, no settings: the threshold and margin are the matcher's own choice;
- the anchor (benchmarks/clinc150.py's): trained on the same lines (out_of_scope as a class of its own)
  and given its best threshold **on the test set itself**, an advantage no admin has.

    .venv/bin/python benchmarks/small_catalogs.py            # 6 catalogs, about a minute
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.clinc150 import DEFAULT_DATA, by_intent, load_clinc, train_anchor  # noqa: E402
from tests.support.clinc import OOS, Pairs, score, tune_threshold, write_catalog  # noqa: E402


def build(data: dict[str, Pairs], rng: random.Random, n_intents: int, n_examples: int,
          n_oos: int) -> tuple[dict[str, list[str]], list[str], Pairs]:
    """(intent -> examples, out_of_scope lines, test pairs) for one small catalog."""
    train = by_intent(data["train"])
    chosen = sorted(rng.sample(sorted(train), n_intents))
    catalog = {i: rng.sample(train[i], n_examples) for i in chosen}
    out_of_scope = [t for t, _ in rng.sample(data["oos_train"], n_oos)]
    inside = [(t, label) for t, label in data["test"] if label in catalog]
    left_out = [(t, OOS) for t, label in data["test"] if label not in catalog]
    oos = [(t, OOS) for t, _ in data["oos_test"]]
    # as many out-of-scope lines as in-scope ones, half never-seen topics, half left-out intents
    half = len(inside) // 2
    test = inside + rng.sample(oos, min(half, len(oos))) + rng.sample(left_out, half)
    return catalog, out_of_scope, test


def ours(catalog: dict[str, list[str]], out_of_scope: list[str], test: Pairs, work: Path) -> dict[str, Any]:
    """Balanced accuracy of the matcher with the settings it chose itself."""
    from bot.catalog.load import load_catalog
    from bot.matcher import Matcher

    write_catalog(work, catalog, out_of_scope=out_of_scope)
    loaded, problems = load_catalog(work)
    assert loaded is not None, [str(p) for p in problems if p.is_error]
    matcher = Matcher(loaded)
    preds = [m.intent for m in matcher.match_many([t for t, _ in test])]
    s = score([g for _, g in test], preds)
    return {"balanced": s.balanced, "in_scope": s.in_scope_accuracy, "oos_recall": s.oos_recall,
            "threshold": matcher.settings.threshold, "margin": matcher.settings.margin}


def anchor(catalog: dict[str, list[str]], out_of_scope: list[str], test: Pairs) -> dict[str, Any]:
    """Balanced accuracy of the anchor at the threshold that is best on ``test``."""
    model = train_anchor([(e, i) for i, es in catalog.items() for e in es] + [(t, OOS) for t in out_of_scope])
    scores = model.decision_function([t for t, _ in test])
    labels = [str(model.classes_[k]) for k in scores.argmax(axis=1)]
    tops = scores.max(axis=1).tolist()
    golds = [g for _, g in test]
    threshold = tune_threshold(tops, labels, golds)
    s = score(golds, [label if top >= threshold else OOS for label, top in zip(labels, tops, strict=True)])
    return {"balanced": s.balanced, "in_scope": s.in_scope_accuracy, "oos_recall": s.oos_recall}


def main(argv: Sequence[str] | None = None) -> int:
    """Build the catalogs, score both sides, print a table and the verdict."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--catalogs", type=int, default=6)
    p.add_argument("--intents", type=int, default=15)
    p.add_argument("--examples", type=int, default=20, help="train examples per intent")
    p.add_argument("--out-of-scope", type=int, default=30, help="oos_train lines in each catalog")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found")
        return 0
    data = load_clinc(args.data)
    rows = []
    with tempfile.TemporaryDirectory(prefix="small-catalogs-") as tmp:
        for k in range(args.catalogs):
            rng = random.Random(f"{args.seed}:{k}")
            catalog, out_of_scope, test = build(data, rng, args.intents, args.examples, args.out_of_scope)
            work = Path(tmp) / str(k)
            work.mkdir()
            a, b = ours(catalog, out_of_scope, test, work), anchor(catalog, out_of_scope, test)
            rows.append((k, a, b))
            print(f"catalog {k}: {args.intents} intents x {args.examples} + {args.out_of_scope} out_of_scope; "
                  f"test {len(test)}: ours {a['balanced']:.3f} (in {a['in_scope']:.3f}, oos {a['oos_recall']:.3f}, "
                  f"threshold {a['threshold']:g}, margin {a['margin']:g}); anchor at its best threshold "
                  f"{b['balanced']:.3f} (in {b['in_scope']:.3f}, oos {b['oos_recall']:.3f}); "
                  f"ratio {a['balanced'] / b['balanced']:.3f}")
    mean_ours = sum(a["balanced"] for _, a, _ in rows) / len(rows)
    mean_anchor = sum(b["balanced"] for _, _, b in rows) / len(rows)
    wins = sum(a["balanced"] >= b["balanced"] for _, a, b in rows)
    print(f"mean balanced accuracy: ours (self-calibrated) {mean_ours:.3f}, anchor (best threshold on test) "
          f"{mean_anchor:.3f}, ratio {mean_ours / mean_anchor:.3f}; ours >= anchor on {wins} of {len(rows)}")
    verdict = "PASS" if mean_ours >= mean_anchor else "FAIL"
    print(f"{verdict}  self-calibrated balanced accuracy >= the anchor's at its best threshold (mean over catalogs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
