"""Reliability under load and faults: the real bot process against the strict fake Bot API.

The bot runs as ``python -m bot run --config`` with telegram.base_url on the fake, which this process
serves on 127.0.0.1. An answer is the exact list of messages the engine gives for a text (computed
in-process with the same catalog and placeholders); each chat's received messages are compared with
what it should have got, as multisets: a missing message is *lost*, an extra one *duplicated*.

Scenarios (``--scenario NAME``; default all):

- burst: 1,000 chats x 5 messages at once; throughput, reply latency p50/p99/max, peak RSS.
- sustained: a fixed rate for 60 s, every message from a new person; RSS sampled each second from
  /proc/<pid>/status (start vs end), latency, errors.
- flood: the fake enforces Telegram's limits (about 30 sends a second overall, about 1 a second per
  chat, 429 + retry_after beyond), the bot paces itself at 30 a second; a 1,000-message backlog, then an
  emergency from someone else: its latency, and how many backlog replies were still waiting then.
- faults: every Nth sendMessage/getUpdates fails (500, 429 retry_after, connection dropped before the
  server acted, no answer within the client's 5 s timeout and nothing done); then (lost-answer) sends
  the server carries out but whose answer never arrives: the connection drops, or the answer comes
  after the client's 5 s timeout.
- kill9: SIGKILL in the middle of a burst, then a restart: lost and duplicated answers.
- flood-kill9: SIGKILL while a flood-limited backlog drains. Behind a backlog the bot confirms updates
  before answering them (so an emergency behind them is seen), so a kill cuts some off for good: after
  the restart those people get "please send your last message again" (with 999) instead of silence.
- reload: an admin's /reload of a 30,000-example catalog (the default intents plus generated ones),
  and while it runs an emergency from someone new every 2 s: how soon each one's 999 line arrives,
  beside how long the reload took, and how many were answered while the reload still ran.

What "exactly once" can mean here: a 500, a 429, a connection dropped before the request reached
Telegram and a timeout in which Telegram did nothing are safe to retry, and the bot does. A timeout or
a drop *after* Telegram carried out a send cannot be told apart from one before by any Bot API client
(sendMessage takes no idempotency key); the bot retries it, because a duplicate safety answer is better
than a lost one. The "lost-answer" row counts those duplicates honestly.

    .venv/bin/python benchmarks/load.py [--scenario NAME] [--mode polling|webhook] [--quick]
    .venv/bin/python benchmarks/load.py --write-catalog DIR    # the reload scenario's catalog, for check
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.fake_telegram import FakeTelegram  # noqa: E402
from tests.support.load import (  # noqa: E402  (the harness the reliability tests use too)
    EMERGENCY,
    TEXTS,
    Bot,
    Load,
    add_generated,
    answers,
    engine_for,
    missed_line,
    plan_for,
    tally,
    tally_after_restart,
)

ADMIN = 4242  # may /reload in the reload scenario


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A process's resident memory (or VmHWM, its peak) in KiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Row:
    """One line of the report."""

    scenario: str
    messages: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    dup: int = 0
    errors: int = 0
    notes: str = ""

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def line(self) -> str:
        rate = self.messages / self.seconds if self.seconds else 0.0
        return (
            f"{self.scenario:11s} {self.messages:6d} {rate:8.1f} {self.pct(0.5):8.0f} {self.pct(0.99):8.0f} "
            f"{max(self.latencies, default=0) * 1000:8.0f} {self.lost:5d} {self.dup:5d} {self.errors:6d}  {self.notes}"
        )


HEADER = (
    f"{'scenario':11s} {'msgs':>6s} {'msg/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} "
    f"{'lost':>5s} {'dup':>5s} {'errors':>6s}  notes"
)


@asynccontextmanager
async def served_bot(
    per_second: float = 0.0, webhook: bool = False, intents: bool = False
) -> AsyncIterator[tuple[FakeTelegram, Bot, Load]]:
    """A fake Bot API and the bot process serving it; both stopped, and their folder removed, after.

    With ``intents`` the bot serves a copy of the default intents in ``bot.folder / "intents"``, which
    the scenario may change and reload (ADMIN may use /reload).
    """
    fake = FakeTelegram()
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        copy = None
        if intents:
            copy = Path(folder) / "intents"
            shutil.copytree(REPO / "intents", copy)
        bot = Bot(fake, Path(folder), per_second, webhook, copy, (ADMIN,) if intents else ())
        try:
            engine = engine_for(bot.config)
            load = Load(fake, answers(engine, TEXTS), engine)
            await bot.start()
            yield fake, bot, load
        finally:
            await bot.stop()
            await fake.stop()


async def burst(chats: int, per_chat: int, webhook: bool = False) -> Row:
    async with served_bot(webhook=webhook) as (fake, bot, load):
        plan = plan_for(chats, per_chat)
        start = time.perf_counter()
        for k in range(per_chat):
            for chat, texts in plan.items():
                load.send(chat, texts[k])
        ok = await load.settle(plan, 110)
        end = max((t[-1] for t in load.sends.values()), default=time.perf_counter())
        lost, dup = tally(fake, plan, load.want)
        assert bot.proc is not None
        peak = rss_kib(bot.proc.pid, "VmHWM")
        row = Row("burst", chats * per_chat, end - start, load.latencies(plan), lost, dup, bot.error_lines())
        row.notes = f"{chats}x{per_chat}; peak RSS {peak / 1024:.0f} MiB" + ("" if ok else "; TIMED OUT")
        return row


async def sustained(rate: float, seconds: float, webhook: bool = False) -> Row:
    async with served_bot(webhook=webhook) as (fake, bot, load):
        assert bot.proc is not None
        samples: list[int] = []
        plan: dict[int, list[str]] = {}
        start = time.perf_counter()
        sent = 0
        next_sample = start
        chat = 1
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate)
            while sent < due:
                text = TEXTS[chat % len(TEXTS)]
                plan[chat] = [text]
                load.send(chat, text)  # every message from someone new
                chat += 1
                sent += 1
            if now >= next_sample:
                samples.append(rss_kib(bot.proc.pid))
                next_sample += 1.0
            await asyncio.sleep(0.01)
        ok = await load.settle(plan, 60)
        lost, dup = tally(fake, plan, load.want)
        row = Row("sustained", sent, seconds, load.latencies(plan), lost, dup, bot.error_lines())
        head = sorted(samples[2:7])[len(samples[2:7]) // 2] if len(samples) > 8 else samples[0]
        tail = sorted(samples[-5:])[2] if len(samples) >= 5 else samples[-1]
        row.notes = (
            f"{rate:.0f} msg/s for {seconds:.0f}s, {sent} distinct people; RSS start {head / 1024:.1f} MiB "
            f"(median of s 2-6), end {tail / 1024:.1f} MiB (median of last 5), max {max(samples) / 1024:.1f} MiB"
            + ("" if ok else "; TIMED OUT")
        )
        return row


def flood_backlog(fake: FakeTelegram, load: Load, backlog: int) -> tuple[str, dict[int, list[str]], float]:
    """Telegram's flood limits on, then one question from each of ``backlog`` people at once."""
    fake.enforce_limits()
    question = TEXTS[0]
    plan = {chat: [question] for chat in range(1, backlog + 1)}
    start = time.perf_counter()
    for chat in plan:
        load.send(chat, question)
    return question, plan, start


async def flood(backlog: int, webhook: bool = False) -> Row:
    async with served_bot(per_second=30.0, webhook=webhook) as (fake, bot, load):
        question, plan, start = flood_backlog(fake, load, backlog)
        urgent = backlog + 1
        load.send(urgent, EMERGENCY)
        await fake.wait_until(lambda: bool(load.sends.get(urgent)), 110)
        first = load.sends[urgent][0]
        pending = sum(len(load.want[question]) for _ in plan) - sum(len(load.sends.get(c, ())) for c in plan)
        full = {**plan, urgent: [EMERGENCY]}
        ok = await load.settle(full, 110)
        end = max(t[-1] for t in load.sends.values())
        lost, dup = tally(fake, full, load.want)
        row = Row("flood", backlog + 1, end - start, load.latencies(plan), lost, dup, bot.error_lines())
        escalation_first = fake.texts(urgent)[:1] == load.want[EMERGENCY][:1]
        row.notes = (
            f"emergency answered in {(first - load.queued[urgent][0]) * 1000:.0f} ms with {pending} backlog "
            f"replies still waiting (backlog cleared after {end - start:.1f}s); escalation first in its chat: "
            f"{escalation_first}; 429s from the fake: {fake.floods}" + ("" if ok else "; TIMED OUT")
        )
        return row


async def faults(
    chats: int,
    per_chat: int,
    every: int,
    kinds: tuple[str, ...],
    name: str,
    methods: tuple[str, ...],
    webhook: bool = False,
) -> Row:
    async with served_bot(webhook=webhook) as (fake, bot, load):
        fake.fail_every(every, kinds, methods)
        plan = plan_for(chats, per_chat)
        start = time.perf_counter()
        for k in range(per_chat):
            for chat, texts in plan.items():
                load.send(chat, texts[k])
        ok = await load.settle(plan, 110)
        end = max(t[-1] for t in load.sends.values())
        lost, dup = tally(fake, plan, load.want)
        injected = sum(1 for c in fake.calls if c.status != 200)
        row = Row(name, chats * per_chat, end - start, load.latencies(plan), lost, dup, bot.error_lines())
        alive = bot.proc is not None and bot.proc.poll() is None
        row.notes = (
            f"every {every}th {'/'.join(methods)}: {'/'.join(kinds)}; {injected} faults injected; "
            f"bot still running: {alive}"
            + ("" if ok else "; TIMED OUT")
        )
        return row


async def kill_and_restart(
    fake: FakeTelegram, bot: Bot, load: Load, plan: dict[int, list[str]], after: float
) -> tuple[int, int, bool, float]:
    """SIGKILL once ``after`` reply messages have arrived, restart, wait for every answer.

    Returns the replies sent before the kill, the updates still with Telegram then, whether every chat
    got its answer in time, and when the last reply arrived.
    """
    await fake.wait_until(lambda: sum(map(len, load.sends.values())) >= after, 110)
    bot.kill9()
    killed_at = sum(map(len, load.sends.values()))
    pending = fake.pending_updates()
    await bot.start()
    ok = await load.settle(plan, 110)
    return killed_at, pending, ok, max(t[-1] for t in load.sends.values())


async def kill9(chats: int, per_chat: int, at: float = 0.4, webhook: bool = False) -> Row:
    async with served_bot(webhook=webhook) as (fake, bot, load):
        plan = plan_for(chats, per_chat)
        total = sum(load.expected(plan).values())
        start = time.perf_counter()
        for k in range(per_chat):
            for chat, texts in plan.items():
                load.send(chat, texts[k])
        killed_at, pending, ok, end = await kill_and_restart(fake, bot, load, plan, total * at)
        lost, dup = tally_after_restart(fake, plan, load.engine)
        row = Row("kill9", chats * per_chat, end - start, load.latencies(plan), lost, dup, bot.error_lines())
        row.notes = (
            f"{chats}x{per_chat}; SIGKILL after {killed_at}/{total} reply messages, {pending} updates "
            f"unconfirmed at the kill; restarted" + ("" if ok else "; TIMED OUT")
        )
        return row


async def flood_kill9(backlog: int, at: float = 0.3, webhook: bool = False) -> Row:
    """A flood-limited backlog (updates confirmed before they are answered), SIGKILL, restart."""
    async with served_bot(per_second=30.0, webhook=webhook) as (fake, bot, load):
        _, plan, start = flood_backlog(fake, load, backlog)
        killed_at, pending, ok, end = await kill_and_restart(fake, bot, load, plan, backlog * at)
        line = missed_line(load.engine)
        asked = {c for c in plan if line in fake.texts(c)}
        lost, dup = tally_after_restart(fake, plan, load.engine)
        row = Row("flood-kill9", backlog, end - start, load.latencies(plan), lost, dup, bot.error_lines())
        row.notes = (
            f"SIGKILL after {killed_at}/{backlog} replies, {pending} updates still with Telegram; restarted: "
            f"{len(asked)} people whose confirmed message was cut off were asked to send it again; lost counts "
            f"anyone left with neither" + ("" if ok else "; TIMED OUT")
        )
        return row


async def reload_emergency(intents: int, per_intent: int, webhook: bool = False, every: float = 2.0) -> Row:
    """/reload of a big catalog from an admin; while it runs, an emergency from someone new every ``every`` s.

    A reload goes through phases (parsing, the matcher, training the learned parts, comparing examples),
    each of which could keep the event loop from the GIL differently, so emergencies come all through it.
    """
    async with served_bot(webhook=webhook, intents=True) as (fake, bot, load):
        examples = await asyncio.to_thread(add_generated, bot.folder / "intents", intents, per_intent)
        admin_sends: list[float] = []
        fake.on_send = lambda chat, at: (admin_sends if chat == ADMIN else load.sends.setdefault(chat, [])).append(at)
        started = time.perf_counter()
        fake.message(ADMIN, "/reload")
        await asyncio.sleep(1.0)  # the bot has taken /reload and is inside the load
        plan: dict[int, list[str]] = {}
        while not admin_sends and time.perf_counter() - started < 600:
            chat = ADMIN + 1 + len(plan)
            plan[chat] = [EMERGENCY]
            load.send(chat, EMERGENCY)
            with suppress(AssertionError):  # still reloading after `every` seconds: the next emergency
                await fake.wait_until(lambda: bool(admin_sends), every)
        finished = admin_sends[0] if admin_sends else math.inf
        ok = await load.settle(plan, 30) and bool(admin_sends)
        lost, dup = tally(fake, plan, load.want)
        first = {c: load.sends[c][0] for c in plan if load.sends.get(c)}
        latencies = [at - load.queued[c][0] for c, at in first.items()]
        during = sum(at < finished for at in first.values())
        escalation_first = all(fake.texts(c)[:1] == load.want[EMERGENCY][:1] for c in plan)
        verdict = fake.texts(ADMIN)[0].split(".", 1)[0] if admin_sends else "none"  # "Reloaded: N intents..."
        row = Row("reload", len(plan), finished - started, latencies, lost, dup, bot.error_lines())
        row.notes = (
            f"/reload of the default + {examples:,} generated examples took {finished - started:.1f}s; "
            f"{len(plan)} emergencies, one every {every:.0f}s from someone new, {during} answered while it still "
            f"ran; 999 line first in each chat: {escalation_first and '999' in load.want[EMERGENCY][0]}; "
            f"reload answer: {verdict}" + ("" if ok else "; TIMED OUT")
        )
        return row


async def main_async(args: argparse.Namespace) -> int:
    q = args.quick
    hook = args.mode == "webhook"
    # Long polls are Bot API calls that can fail too; a webhook's deliveries come to the bot instead.
    calls = ("sendMessage",) if hook else ("sendMessage", "getUpdates")
    scenarios: dict[str, Any] = {
        "burst": lambda: burst(100 if q else 1000, 5, hook),
        "sustained": lambda: sustained(args.rate, 10 if q else 60, hook),
        "flood": lambda: flood(150 if q else 1000, hook),
        "faults": lambda: faults(50 if q else 200, 3, 7, ("500", "429", "drop", "stall"), "faults", calls, hook),
        "lost-answer": lambda: faults(
            50 if q else 200, 3, 25, ("lost", "timeout"), "lost-answer", ("sendMessage",), hook
        ),
        "kill9": lambda: kill9(50 if q else 300, 3 if q else 5, webhook=hook),
        "flood-kill9": lambda: flood_kill9(150 if q else 1000, webhook=hook),
        "reload": lambda: reload_emergency(50 if q else 300, 100, hook),
    }
    chosen = list(scenarios) if args.scenario == "all" else [args.scenario]
    if args.scenario == "faults":
        chosen = ["faults", "lost-answer"]
    rows = []
    print(HEADER, flush=True)
    for name in chosen:
        row = await scenarios[name]()
        rows.append(row)
        print(row.line(), flush=True)
    return 1 if any(r.lost for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenario",
        default="all",
        choices=["all", "burst", "sustained", "flood", "faults", "lost-answer", "kill9", "flood-kill9", "reload"],
    )
    parser.add_argument("--rate", type=float, default=50.0, help="sustained: messages a second")
    parser.add_argument("--mode", choices=["polling", "webhook"], default="polling", help="how the bot is served")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a result)")
    parser.add_argument("--write-catalog", type=Path, metavar="DIR", help="write the reload scenario's catalog, exit")
    # A killed bot leaves half-read requests behind: the fake's server would log each with a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    args = parser.parse_args(argv)
    if args.write_catalog:
        shutil.copytree(REPO / "intents", args.write_catalog)
        print(f"{add_generated(args.write_catalog, 300, 100):,} generated examples in {args.write_catalog}")
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
