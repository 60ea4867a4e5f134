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
import itertools
import logging
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.throughput import TEXTS  # noqa: E402  (the same messages as the throughput benchmark)
from tests.fake_telegram import FakeTelegram  # noqa: E402

EMERGENCY = "he is outside my house right now"
WEBHOOK_SECRET = "load-test-secret"
ADMIN = 4242
assert EMERGENCY in TEXTS


def engine_for(config_path: Path) -> Any:
    """The engine the bot process builds from this config (same catalog, placeholders and buttons)."""
    from bot import assembly
    from bot.config import load_config

    config = load_config(config_path)
    catalog, problems = assembly.load(config)
    assert catalog is not None, problems
    return assembly.engine(config, catalog)


def answers(engine: Any, texts: Iterable[str]) -> dict[str, list[str]]:
    """The plain text of every message the engine answers each text with alone (as Telegram shows it)."""
    from bot.htmltext import to_plain
    from bot.turns import Incoming

    return {
        t: [to_plain(r.html, links=False).strip() for r in engine.respond(Incoming(text=t)).replies] for t in texts
    }


def missed_line(engine: Any) -> str:
    """The plain text of the "please send your last message again" line the bot sends after a crash."""
    from bot.htmltext import to_plain

    return str(to_plain(engine.system_reply("missed_message").html, links=False).strip())


def tally(fake: FakeTelegram, plan: dict[int, list[str]], want: dict[str, list[str]]) -> tuple[int, int]:
    """(lost, duplicated) messages over every chat in ``plan``."""
    lost = dup = 0
    for chat, texts in plan.items():
        expected = Counter(m for t in texts for m in want[t])
        got = Counter(fake.texts(chat))
        lost += sum((expected - got).values())
        dup += sum((got - expected).values())
    return lost, dup


def tally_after_restart(fake: FakeTelegram, plan: dict[int, list[str]], engine: Any) -> tuple[int, int]:
    """(lost, duplicated) messages over every chat in ``plan``, for a bot that was killed and restarted.

    A restart forgets every chat (topic, danger window) and Telegram hands the updates still pending
    back at once, so a chat's messages may be answered in any order, with its memory lost between any
    two of them. And behind a backlog the bot confirms an update before answering it, so a kill can cut
    one message per chat off for good: that person gets "please send your last message again" in place
    of its answer. A chat is compared with the closest of the answers along every such path (the order
    it wrote them in, remembered throughout, is tried first and is usually exact).
    """
    missed = missed_line(engine)
    lost = dup = 0
    for chat, texts in plan.items():
        got = Counter(fake.texts(chat))
        best: tuple[int, int] | None = None
        for want in replays(engine, texts, missed):
            here = (sum((want - got).values()), sum((got - want).values()))
            if best is None or sum(here) < sum(best):
                best = here
            if best == (0, 0):
                break
        assert best is not None
        lost, dup = lost + best[0], dup + best[1]
    return lost, dup


def replays(engine: Any, texts: list[str], missed: str) -> Iterator[Counter[str]]:
    """The answers to ``texts`` in every order, the chat forgotten at every subset of the gaps, and
    each of those again with one message answered by ``missed`` instead."""
    from bot.htmltext import to_plain
    from bot.turns import Incoming

    chat = "replay"
    for order in dict.fromkeys(itertools.permutations(texts)):
        for cuts in itertools.product((False, True), repeat=len(order) - 1):
            engine.conversations.forget(chat)
            each: list[Counter[str]] = []
            for k, text in enumerate(order):
                if k and cuts[k - 1]:
                    engine.conversations.forget(chat)
                replies = engine.respond(Incoming(text=text, chat=chat)).replies
                each.append(Counter(to_plain(r.html, links=False).strip() for r in replies))
            whole = sum(each, Counter())
            yield whole
            for one in each:
                yield whole - one + Counter([missed])


def free_port() -> int:
    """A TCP port nothing listens on now (for the bot's webhook server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A process's resident memory (or VmHWM, its peak) in KiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# Neutral words only: a generated example must not read like danger, or check would (rightly) object.
_ADJ = ("blue green yellow purple early weekly monthly annual wooden paper plastic woollen spare second "
        "digital local public large small copper")
_NOUN = ("garden library bicycle kettle parcel ticket recipe ladder blanket pillow window curtain carpet bucket "
         "lantern mirror teapot bench fence hedge lawn basket pencil notebook calendar stamp envelope umbrella "
         "jacket scarf glove boot sock button zipper battery charger cable printer keyboard monitor speaker "
         "radio camera album poster puzzle marble kite sandal towel sponge")
_VERB = ("borrow renew paint repair clean order swap measure wrap label fold sort polish weigh photograph "
         "describe price donate store recycle")
_EXTRA = ("opening hours", "delivery charge", "colour options", "size chart", "spare parts", "warranty card",
          "discount code", "gift wrapping", "price list", "stock level")
INTENTS_PER_FILE = 50  # check caps its problems per file at 200, and each generated intent has a warning


def add_generated(folder: Path, intents: int, per_intent: int, seed: int = 15) -> int:
    """Write ``intents`` generated intents of ``per_intent`` distinct examples each into ``folder``.

    The folder holds a copy of the default intents, escalations included, so the big catalog has the
    same safety rules as the real one. Returns the number of examples written.
    """
    rng = random.Random(seed)
    nouns, verbs, adjectives = _NOUN.split(), _VERB.split(), _ADJ.split()
    # unordered pairs: two intents never share their two topic words, so no example is in both
    topics = [(a, b) for i, a in enumerate(nouns) for b in nouns[i + 1 :]]
    rng.shuffle(topics)
    assert intents <= len(topics)
    seen: set[frozenset[str]] = set()
    for first in range(0, intents, INTENTS_PER_FILE):
        lines = ["intents:"]
        for n in range(first, min(first + INTENTS_PER_FILE, intents)):
            a, b = topics[n]
            lines += [f"  - id: generated_{n:04d}", f"    title: {a} and {b}",
                      f"    answer: About the {a} and the {b}.", "    examples:"]
            made = 0
            while made < per_intent:
                words = [rng.choice(verbs), rng.choice(adjectives), a, b, rng.choice(_EXTRA)]
                # the same words in another order read as the same question to check (and to people)
                if (key := frozenset(words)) in seen:
                    continue
                seen.add(key)
                rng.shuffle(words)
                lines.append(f"      - {' '.join(words)}")
                made += 1
        (folder / f"generated_{first // INTENTS_PER_FILE:02d}.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    return len(seen)


class Bot:
    """The bot as a subprocess pointed at the fake."""

    def __init__(
        self,
        fake: FakeTelegram,
        folder: Path,
        per_second: float = 0.0,
        webhook: bool = False,
        intents: Path | None = None,
        admins: tuple[int, ...] = (),
    ) -> None:
        self.fake = fake
        self.folder = folder
        self.per_second = per_second
        self.webhook_port = free_port() if webhook else 0
        mode = (
            f"  mode: webhook\n  url: https://bot.example.org/hook\n  listen: 127.0.0.1\n"
            f"  port: {self.webhook_port}\n  secret_token: {WEBHOOK_SECRET}\n"
            if webhook
            else ""
        )
        # An edited folder reloads only on /reload: the watcher would start a reload of its own first.
        watch = f"intents_dir: {intents}\nwatch_intents: false\n" if intents else f"intents_dir: {REPO / 'intents'}\n"
        self.config = folder / "config.yaml"
        self.config.write_text(
            f"telegram:\n  base_url: {fake.base_url}\n  admins: {list(admins)}\n{mode}"
            f"{watch}"
            f"storage:\n  path: {folder / 'bot.sqlite3'}\n"
            "log_level: ERROR\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.errors = folder / "stderr.log"

    async def start(self) -> None:
        """Start the process and wait until it long-polls (or has set its webhook)."""
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_SENDS_PER_SECOND": str(self.per_second),
            "PYTHONPATH": str(REPO),
        }
        ready_method = "setWebhook" if self.webhook_port else "getUpdates"
        ready = len(self.fake.calls_of(ready_method))
        sends = len(self.fake.calls_of("sendMessage"))
        with self.errors.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
                env=env,
                cwd=str(REPO),
                stderr=err,
                stdout=subprocess.DEVNULL,
            )
        if self.webhook_port:
            # Where Telegram would deliver the public URL's requests: the bot's local server.
            self.fake.deliver_to(f"http://127.0.0.1:{self.webhook_port}/hook")
        deadline = time.monotonic() + 60
        while len(self.fake.calls_of(ready_method)) <= ready and len(self.fake.calls_of("sendMessage")) <= sends:
            if self.proc.poll() is not None:
                raise SystemExit(f"the bot exited with {self.proc.returncode}: see {self.errors}")
            if time.monotonic() > deadline:
                raise SystemExit("the bot did not start serving in time")
            await asyncio.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def stop(self) -> int:
        """SIGTERM, the graceful path; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return await asyncio.to_thread(self.proc.wait, 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def error_lines(self) -> int:
        """Log lines at ERROR or worse (the bot logs types and ids only)."""
        if not self.errors.exists():
            return 0
        return sum(" ERROR " in ln or "Traceback" in ln for ln in self.errors.read_text(errors="replace").splitlines())


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


class Load:
    """A fake, timing hooks and the expected answers, shared by the scenarios."""

    def __init__(self, fake: FakeTelegram, want: dict[str, list[str]], engine: Any = None) -> None:
        self.fake = fake
        self.want = want
        self.engine = engine  # the bot's engine, for replaying chats after a restart (tally_after_restart)
        self.sends: dict[int, list[float]] = {}
        self.queued: dict[int, list[float]] = {}
        fake.on_send = lambda chat, at: self.sends.setdefault(chat, []).append(at)

    def send(self, chat: int, text: str) -> None:
        """A person writes (the time is kept for latency)."""
        self.queued.setdefault(chat, []).append(time.perf_counter())
        self.fake.message(chat, text)

    def expected(self, plan: dict[int, list[str]]) -> dict[int, int]:
        return {chat: sum(len(self.want[t]) for t in texts) for chat, texts in plan.items()}

    async def settle(self, plan: dict[int, list[str]], timeout: float) -> bool:
        """Until every chat has at least its expected number of messages (False on timeout)."""
        need = self.expected(plan)
        try:
            await self.fake.wait_until(lambda: all(len(self.sends.get(c, ())) >= n for c, n in need.items()), timeout)
        except AssertionError:
            return False
        await asyncio.sleep(1.0)  # anything extra (a duplicate) has time to arrive
        return True

    def latencies(self, plan: dict[int, list[str]]) -> list[float]:
        """Per message: from the moment it was written to the last message of its answer."""
        out = []
        for chat, texts in plan.items():
            done = 0
            for k, text in enumerate(texts):
                done += len(self.want[text])
                times = self.sends.get(chat, [])
                if done <= len(times) and k < len(self.queued.get(chat, [])):
                    out.append(times[done - 1] - self.queued[chat][k])
        return out


def plan_for(chats: int, per_chat: int, first: int = 1) -> dict[int, list[str]]:
    """What each chat sends: consecutive TEXTS, the emergency (if any) last.

    An emergency colours a chat's next short messages for a while (the danger window: they get the
    short danger answer first), so it comes last: every message then gets the answer it gets alone,
    which is what ``answers`` expects.
    """
    return {c: sorted((TEXTS[(c + k) % len(TEXTS)] for k in range(per_chat)), key=lambda t: t == EMERGENCY)
            for c in range(first, first + chats)}


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
