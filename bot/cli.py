"""The command line: chat, run, check, classify, eval, stats, unmatched."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from bot import assembly
from bot.catalog.schema import Catalog
from bot.channels.console import chat
from bot.check import run_check
from bot.config import Config, ConfigError, load_config
from bot.engine import Engine
from bot.evaluate import evaluate, read_tsv
from bot.stats import StatsReport, format_report
from bot.store import Store


def _load(directory: str, config: Config, *, serving: bool) -> Catalog | None:
    """Load a catalog, printing every problem to stderr; None when it cannot be used."""
    if not Path(directory).is_dir():
        print(f"{directory}: no such intents folder", file=sys.stderr)
        return None
    catalog, problems = assembly.load(config, directory, serving=serving)
    errors = [p for p in problems if p.is_error]
    for p in errors:
        print(p, file=sys.stderr)
    if catalog is None:
        print(f"{len(errors)} error(s) in {directory}: run `python -m bot check` for details", file=sys.stderr)
    return catalog


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to the bot in the terminal."""
    config = load_config(args.config)
    catalog = _load(assembly.intents_dir(config, args.intents), config, serving=True)
    if catalog is None:
        return 1
    return chat(assembly.engine(config, catalog), explain=args.explain)


def cmd_run(args: argparse.Namespace) -> int:
    """Serve on Telegram."""
    from bot.channels.telegram.app import run  # python-telegram-bot is loaded only to serve

    return run(load_config(args.config))


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the intent files."""
    config = load_config(args.config)
    return run_check(assembly.intents_dir(config, args.intents), strict=args.strict, serving=not args.any_catalog,
                     service=config.answer_values())


def cmd_classify(args: argparse.Namespace) -> int:
    """One JSON line per input line: intent, score and escalation."""
    config = load_config(args.config)
    catalog = _load(assembly.intents_dir(config, args.intents), config, serving=False)
    if catalog is None:
        return 1
    engine = assembly.engine(config, catalog)
    # Piped input is scored in batches (much faster per line); a person typing gets each answer at once.
    batch = 1 if sys.stdin.isatty() else CLASSIFY_BATCH
    pending: list[str] = []
    for line in sys.stdin:
        pending.append(line.rstrip("\r\n"))
        if len(pending) >= batch:
            _classify(engine, pending)
            pending = []
    _classify(engine, pending)
    return 0


CLASSIFY_BATCH = 256


def _classify(engine: Engine, texts: list[str]) -> None:
    out = []
    for text, match in zip(texts, engine.matcher.match_many(texts), strict=True):
        hits = engine.detector.detect(text)
        out.append(json.dumps({"text": text, "intent": match.intent, "score": match.score,
                               "escalation": hits[0].escalation if hits else None}, ensure_ascii=False))
    if out:
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a labelled TSV file."""
    config = load_config(args.config)
    catalog = _load(assembly.intents_dir(config, args.intents), config, serving=False)
    if catalog is None:
        return 1
    try:
        rows = read_tsv(args.file)
    except (OSError, ValueError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    return evaluate(assembly.engine(config, catalog), rows, out=sys.stdout, show_all=args.all)


async def _stats_report(config: Config) -> StatsReport | None:
    if not config.path(config.storage.path).exists():
        return None
    store = await Store.open(config)
    try:
        return await store.stats(datetime.now(config.tz).date())
    finally:
        await store.close()


def stats_command(config: Config, *, out: TextIO | None = None) -> int:
    """`python -m bot stats`: print the 7- and 30-day report; 1 when there is no readable database."""
    out = out or sys.stdout
    report = asyncio.run(_stats_report(config))
    if report is None:
        print(f"No database at {config.path(config.storage.path)} yet: nothing has been counted.", file=out)
        return 1
    print(format_report(report), file=out)
    return 0 if report.available else 1


async def _unmatched(config: Config, limit: int) -> list[tuple[date, str]] | None:
    if not config.path(config.storage.path).exists():
        return None
    store = await Store.open(config)
    try:
        return await store.unmatched(limit)
    finally:
        await store.close()


def unmatched_command(config: Config, limit: int, *, out: TextIO | None = None) -> int:
    """`python -m bot unmatched`: list the newest redacted unmatched messages, one per line."""
    out = out or sys.stdout
    rows = asyncio.run(_unmatched(config, limit))
    if not config.privacy.log_unmatched:
        off = "The unmatched-message log is off (privacy.log_unmatched: false)"
        if rows:
            print(f"{off}, but these redacted messages are still kept from when it was on; the bot deletes "
                  "them at its next hourly clean-up:", file=out)
        else:
            print(f"{off}; nothing is kept.", file=out)
    if rows is None:
        print(f"No database at {config.path(config.storage.path)} yet.", file=out)
        return 1
    for day, text in rows:
        print(f"{day.isoformat()}  {text}", file=out)
    if not rows and config.privacy.log_unmatched:
        print("No unmatched messages kept.", file=out)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print counts for the last 7 and 30 days."""
    return stats_command(load_config(args.config))


def cmd_unmatched(args: argparse.Namespace) -> int:
    """List redacted unmatched messages (only kept when privacy.log_unmatched is on)."""
    return unmatched_command(load_config(args.config), args.limit)


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: object, help_text: str, *, intents: bool = False) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(func=func)
        sp.add_argument("--config", metavar="FILE", help="config file (default: built-in settings)")
        if intents:
            sp.add_argument("--intents", metavar="DIR", help="intents folder (default: intents_dir from config)")
        return sp

    sp = add("chat", cmd_chat, "talk to the bot in the terminal (no token, no network)", intents=True)
    sp.add_argument("--explain", action="store_true", help="show why each answer was chosen")
    add("run", cmd_run, "serve the bot on Telegram (token from TELEGRAM_BOT_TOKEN)")
    sp = add("check", cmd_check, "validate the intent files; every problem as file:line:col", intents=True)
    sp.add_argument("--strict", action="store_true", help="fail on warnings too")
    sp.add_argument("--any-catalog", action="store_true",
                    help="do not require what serving needs (escalations, responses)")
    add("classify", cmd_classify, "one message per stdin line -> one JSON object per line", intents=True)
    sp = add("eval", cmd_eval, "score a labelled TSV file (see INTENTS.md for the format)", intents=True)
    sp.add_argument("file", help="the .tsv file")
    sp.add_argument("--all", action="store_true", help="print every line, not only the misses")
    add("stats", cmd_stats, "counts by intent for the last 7 and 30 days")
    sp = add("unmatched", cmd_unmatched, "list redacted unmatched messages, newest first")
    sp.add_argument("--limit", type=int, default=50, help="how many to list (default 50)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bot`` and the console script."""
    args = parser().parse_args(argv)
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Bad bytes in piped input must not end the run (losing the buffered results), nor reach the
        # JSON output as raw bytes, as the C locale's surrogateescape would let them.
        sys.stdin.reconfigure(errors="replace")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
