"""The load harness shared by the reliability tests and benchmarks/load.py: the bot as a process, what
each chat sends, and counting the answers lost or duplicated (see benchmarks/load.py for what that means).

No pytest here: the benchmarks import it with only the bench extra installed."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.support.chat import EMERGENCY
from tests.support.default import REPO
from tests.support.fake_telegram import FakeTelegram

WEBHOOK_SECRET = "load-test-secret"

# What people ask, including one message that escalates (its answer has two messages). The load
# benchmark sends a chat consecutive ones, and expects each its own answer: two in a row asking for the
# same card would get "That is the answer I just sent" the second time, so neighbours differ in topic.
TEXTS = (
    "how do i report stalking to the police",
    "what counts as stalking",
    "what evidence should i keep",
    "he keeps turning up at my work",
    "is there a helpline i can call",
    "can i get a restraining order",
    "someone made fake accounts to message me",
    "hello",
    "i think he put a tracker on my car",
    "he is outside my house right now",
)


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


