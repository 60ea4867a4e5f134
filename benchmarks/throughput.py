"""End-to-end throughput: the bot against a bare PTB echo bot, same fake Bot API, same load.

Each bot runs as its own process and long-polls the strict fake Bot API (tests/support/fake_telegram.py), which
this process serves on loopback. The load is ``--chats`` private chats each sending ``--messages``
messages at once. A message's latency is from the moment it was queued until the last message of its
answer arrived; throughput is messages answered per second of wall time; CPU is the bot process's own.
Both bots use PTB's concurrent update processing (256). The bot also caps Bot API requests in flight
(SendGate); ``--tuned-echo`` gives the echo bot that cap too, which isolates the bot's own work per
message from that setting.

    .venv/bin/python benchmarks/throughput.py --chats 200 --messages 5 --rounds 2 [--tuned-echo]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.channels.telegram.app import INFLIGHT  # noqa: E402
from tests.support.fake_telegram import FakeTelegram  # noqa: E402
from tests.support.load import TEXTS  # noqa: E402


@dataclass
class Result:
    """One bot's figures for one round."""

    name: str
    messages: int
    seconds: float
    latencies: list[float]
    cpu: float  # CPU seconds the bot process used while answering the load

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:5s} {self.messages} messages in {self.seconds:6.2f}s = {self.rate:7.1f} msg/s   "
            f"latency p50 {self.pct(0.50) * 1000:6.0f} ms  p99 {self.pct(0.99) * 1000:6.0f} ms   "
            f"CPU {self.cpu / self.messages * 1000:5.2f} ms/msg"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def echo_bot(base_url: str, inflight: int = 0) -> None:
    """A bare PTB echo bot: the baseline (token from TELEGRAM_BOT_TOKEN).

    With ``inflight`` it also gets the bot's cap on requests in flight, so that the comparison shows
    only what the bot does per message (matching, safety, storage, bigger answers with buttons).
    """
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    from bot.channels.telegram.send import SendGate

    builder = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(base_url).concurrent_updates(256)
    app = builder.rate_limiter(SendGate(inflight)).build() if inflight else builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(drop_pending_updates=False)


def bot_config(fake: FakeTelegram, folder: Path, intents: Path) -> Path:
    """A config file for the real bot pointing at the fake, with its database in ``folder``."""
    path = folder / "config.yaml"
    path.write_text(
        f"telegram:\n  base_url: {fake.base_url}\n"
        f"intents_dir: {intents}\n"
        f"storage:\n  path: {folder / 'bot.sqlite3'}\n"
        "log_level: WARNING\n",
        encoding="utf-8",
    )
    return path


async def wait_ready(fake: FakeTelegram, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until the bot is long-polling (or fail if it died)."""
    deadline = time.monotonic() + timeout
    while not any(c.method == "getUpdates" for c in fake.calls):
        if proc.poll() is not None:
            raise SystemExit(f"the bot process exited with {proc.returncode} before polling")
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not start polling in time")
        await asyncio.sleep(0.05)


async def calibrate(fake: FakeTelegram, texts: tuple[str, ...]) -> dict[str, int]:
    """How many messages the bot sends for each text (so latency can count whole answers)."""
    counts: dict[str, int] = {}
    chat = 10**9
    for text in texts:
        before = len(fake.texts(chat))
        fake.message(chat, text)
        await fake.wait_until(lambda: len(fake.texts(chat)) > before, 30)  # noqa: B023 (awaited in this turn)
        await asyncio.sleep(0.4)  # any further messages of the same answer
        counts[text] = len(fake.texts(chat)) - before
    return counts


async def one_round(name: str, command: list[str], chats: int, per_chat: int, intents: Path) -> Result:
    """Start the bot, calibrate, send the load at once, measure, stop the bot."""
    fake = FakeTelegram()
    await fake.start()
    sends: dict[int, list[float]] = {}
    fake.on_send = lambda chat_id, at: sends.setdefault(chat_id, []).append(at)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [a.replace("{base_url}", fake.base_url) for a in command]
        if name == "bot":
            cmd += ["--config", str(bot_config(fake, Path(tmp), intents))]
        # The fake enforces no flood limits here: measure the bot unpaced.
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_SENDS_PER_SECOND": "0",
            "PYTHONPATH": str(REPO),
        }
        proc = subprocess.Popen(cmd, env=env, cwd=str(REPO))
        try:
            await wait_ready(fake, proc)
            counts = await calibrate(fake, TEXTS) if name == "bot" else dict.fromkeys(TEXTS, 1)
            # the escalating message last in each chat: it changes how the chat's next messages are answered
            plan = {chat: sorted((TEXTS[(chat + k) % len(TEXTS)] for k in range(per_chat)),
                                 key=lambda t: t == TEXTS[-1])
                    for chat in range(1, chats + 1)}
            expected = {chat: sum(counts[t] for t in texts) for chat, texts in plan.items()}
            sends.clear()
            cpu_before = cpu_seconds(proc.pid)
            start = time.perf_counter()
            for k in range(per_chat):
                for chat, texts in plan.items():
                    fake.message(chat, texts[k])
            await fake.wait_until(lambda: all(len(sends.get(c, ())) >= n for c, n in expected.items()), 300)
            end = max(times[-1] for times in sends.values())
            cpu = cpu_seconds(proc.pid) - cpu_before
            latencies = []
            for chat, texts in plan.items():
                done = 0
                for text in texts:
                    done += counts[text]
                    latencies.append(sends[chat][done - 1] - start)
            if fake.rejected:
                print(f"  {name}: the fake Bot API rejected {len(fake.rejected)} requests: {fake.rejected[:3]}")
            return Result(name, chats * per_chat, end - start, latencies, cpu)
        finally:
            proc.terminate()  # SIGTERM: the graceful shutdown path
            try:
                await asyncio.to_thread(proc.wait, 15)  # the fake keeps serving the bot's last calls
            except subprocess.TimeoutExpired:
                proc.kill()
            await fake.stop()


async def compare(args: argparse.Namespace) -> int:
    py = sys.executable
    commands = {
        "echo": [py, str(Path(__file__).resolve()), "echo-bot", "--base-url", "{base_url}"]
        + (["--inflight", str(INFLIGHT)] if args.tuned_echo else []),
        "bot": [py, "-m", "bot", "run"],
    }
    names = args.bots.split(",")
    results: dict[str, list[Result]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names:
            res = await one_round(name, commands[name], args.chats, args.messages, Path(args.intents).resolve())
            results[name].append(res)
            print(f"round {r + 1}: {res.line()}", flush=True)
    best = {name: max(rs, key=lambda x: x.rate) for name, rs in results.items()}
    print("\nbest of each:")
    for res in best.values():
        print("  " + res.line())
    if len(best) == 2:
        ratio = best["bot"].rate / best["echo"].rate
        medians = {n: statistics.median(x.rate for x in rs) for n, rs in results.items()}
        median_ratio = medians["bot"] / medians["echo"]
        print(f"throughput ratio bot/echo: {ratio:.2f} (best of rounds), {median_ratio:.2f} (median of rounds)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd")
    echo = sub.add_parser("echo-bot", help="run the bare PTB echo bot (used by the benchmark)")
    echo.add_argument("--base-url", required=True)
    echo.add_argument("--inflight", type=int, default=0)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--tuned-echo", action="store_true", help="give the echo bot the same cap on requests in flight"
    )
    parser.add_argument("--bots", default="echo,bot", help="which to run: echo,bot (default both)")
    parser.add_argument("--intents", default=str(REPO / "intents"))
    args = parser.parse_args(argv)
    if args.cmd == "echo-bot":
        echo_bot(args.base_url, args.inflight)
        return 0
    # A bot process that stops drops its open long poll: the fake's server would log it with a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    return asyncio.run(compare(args))


if __name__ == "__main__":
    raise SystemExit(main())
