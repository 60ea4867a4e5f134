"""Building the python-telegram-bot Application around a TelegramChannel, and serving it: one start and
one stop path, shared by `python -m bot run` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import ApplicationBuilder, Defaults

from bot import assembly
from bot.channels.telegram.delivery_log import AnsweredLog
from bot.channels.telegram.handlers import ALLOWED_UPDATES, AnyApp, TelegramChannel
from bot.channels.telegram.logs import configure_logging
from bot.channels.telegram.poll import Poller
from bot.channels.telegram.send import SendGate
from bot.channels.telegram.webhook import CannotListen, Receiver, WebhookServer
from bot.config import TOKEN_ENV, Config

log = logging.getLogger(__name__)
INFLIGHT = 64  # Bot API requests in flight at once (see SendGate)
SENDS_ENV = "TELEGRAM_SENDS_PER_SECOND"  # overrides telegram.sends_per_second (benchmarks against a fake)
BEHIND_SECONDS = 2.0  # sends queued beyond this: confirm updates on fetch so that later ones are seen
# A webhook takes in at most WEBHOOK_CONNECTIONS updates at once, so holding each 200 until its paced
# answer is sent would slow intake to the send rate, and an emergency would wait behind the whole queue
# at Telegram: let go as soon as any real queue of sends forms.
WEBHOOK_BEHIND_SECONDS = 0.5
BOOTSTRAP_RETRIES = 5  # network failures tolerated while setting the webhook at start-up
STARTUP_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # waits between tries to reach Telegram at start-up
WEBHOOK_CONNECTIONS = 40  # deliveries Telegram makes at once (its default); each waits for its answer


def sends_per_second(config: Config) -> float:
    """The send pace across chats: telegram.sends_per_second, unless the environment overrides it."""
    try:
        return max(0.0, float(os.environ.get(SENDS_ENV, config.telegram.sends_per_second)))
    except ValueError:
        return float(config.telegram.sends_per_second)


def build_application(
    config: Config, token: str, channel: TelegramChannel, per_second: float | None = None
) -> AnyApp:
    """The PTB Application with our defaults, concurrency, send gate and handlers."""
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        protect_content=config.telegram.protect_content,
        disable_notification=config.telegram.disable_notification,
    )
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.base_url)
        .defaults(defaults)
        .concurrent_updates(256)
        .rate_limiter(SendGate(INFLIGHT, sends_per_second(config) if per_second is None else per_second))
        .job_queue(None)
        .build()
    )
    channel.install(app)
    return app


def make_poller(app: AnyApp, config: Config, channel: TelegramChannel, **options: Any) -> Poller:
    """Our long polling (see poll.py): confirms updates once answered, skips ones answered before."""
    return Poller(
        app.bot,
        app.process_update,
        allowed_updates=ALLOWED_UPDATES,
        answered=answered_log(config),
        behind=_behind(app, BEHIND_SECONDS),
        on_missed=channel.ask_to_resend,
        **options,
    )


def make_webhook(app: AnyApp, config: Config, *, port: int | None = None) -> WebhookServer:
    """Our webhook server (see webhook.py): Telegram's POST gets its 200 once the update is answered."""
    tg = config.telegram
    receiver = Receiver(app.process_update, answered=answered_log(config), behind=_behind(app, WEBHOOK_BEHIND_SECONDS))
    return WebhookServer(
        receiver,
        app.bot,
        path=urlparse(tg.url).path,
        secret=config.webhook_secret() or "",
        listen=tg.listen,
        port=tg.port if port is None else port,
    )


def answered_log(config: Config) -> AnsweredLog:
    """Ids of updates answered but perhaps not yet confirmed to Telegram, beside the database."""
    return AnsweredLog(config.path(config.storage.path).with_name("answered-updates.log"))


def _behind(app: AnyApp, seconds: float) -> Callable[[], bool]:
    gate = app.bot.rate_limiter
    return lambda: isinstance(gate, SendGate) and gate.behind_seconds() > seconds


async def start(app: AnyApp, channel: TelegramChannel) -> None:
    """After ``app.initialize()``: the channel's start-up (store, menu, periodic tasks), then the app's."""
    await channel.start(app)
    await app.start()


async def stop(app: AnyApp, channel: TelegramChannel) -> None:
    """The one shutdown: the app (if it runs), then the channel (queued writes, periodic tasks, store)."""
    # Also when serving failed (a refused webhook URL): a running app cannot shut down, and an
    # unclosed store keeps its worker thread, so the process would hang instead of exiting.
    if app.running:
        await app.stop()
    try:
        await app.shutdown()
    finally:
        await channel.stop()


async def serve(app: AnyApp, channel: TelegramChannel, config: Config) -> None:
    """Start, serve (polling or webhook) until SIGINT/SIGTERM, then shut down gracefully."""
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)
    if not await initialize(app, stop_event):
        return
    try:
        await start(app, channel)
        if config.telegram.mode == "webhook":
            await _serve_webhook(app, config, channel, stop_event)
        else:
            await _serve_polling(app, config, channel, stop_event)
    finally:
        await stop(app, channel)


async def initialize(app: AnyApp, stop: asyncio.Event) -> bool:
    """app.initialize(), tried again with backoff while Telegram cannot be reached; False if stopped first."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await app.initialize()
            return True
        except InvalidToken:
            raise  # retrying cannot help
        except NetworkError as exc:
            delay = STARTUP_RETRY_SECONDS[min(attempt, len(STARTUP_RETRY_SECONDS)) - 1]
            # The error's own words ("httpx.ConnectError: All connection attempts failed") hold no user data.
            log.warning("start-up attempt %d: cannot reach Telegram: %s; retrying in %.1fs", attempt, exc, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                await app.bot.shutdown()  # its HTTP clients are open even though get_me failed
                return False


async def _serve_polling(app: AnyApp, config: Config, channel: TelegramChannel, stop: asyncio.Event) -> None:
    poller = make_poller(app, config, channel)
    task = asyncio.create_task(poller.run(), name="poller")
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # a bad token ends polling: raise it
    waiter.cancel()
    await poller.stop(task)


async def _serve_webhook(app: AnyApp, config: Config, channel: TelegramChannel, stop: asyncio.Event) -> None:
    server = make_webhook(app, config)
    server.start()  # listening before Telegram is told where to deliver
    try:
        await set_webhook(app.bot, config)
        missed = server.receiver.missed()
        if missed:
            await channel.ask_to_resend(missed)
            server.receiver.forget_missed()
        await stop.wait()
    finally:
        await server.stop()


async def set_webhook(bot: Any, config: Config) -> None:
    """Point Telegram at our URL, keeping what people wrote meanwhile; network trouble is retried."""
    tg = config.telegram
    for attempt in range(BOOTSTRAP_RETRIES + 1):
        try:
            await bot.set_webhook(
                url=tg.url,
                secret_token=config.webhook_secret(),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                max_connections=WEBHOOK_CONNECTIONS,
            )
            return
        except (BadRequest, InvalidToken):
            raise  # a wrong URL, port or token: retrying cannot help
        except NetworkError as exc:
            if attempt == BOOTSTRAP_RETRIES:
                raise
            log.warning("setting the webhook: %s; retrying", type(exc).__name__)
            await asyncio.sleep(1.0 + attempt)


def run(config: Config) -> int:
    """`python -m bot run`: serve on Telegram until SIGINT/SIGTERM. Returns the exit code."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(
            f"error: set {TOKEN_ENV} to the token @BotFather gave you (it is never read from a file)",
            file=sys.stderr,
        )
        return 2
    if config.telegram.mode == "webhook" and not config.webhook_secret():
        print(
            "error: webhook mode needs telegram.secret_token (or TELEGRAM_WEBHOOK_SECRET) so that "
            "requests not from Telegram are rejected",
            file=sys.stderr,
        )
        return 2
    configure_logging(config.log_level, token)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta, no warning
    catalog, problems = assembly.load(config)
    errors = [p for p in problems if p.severity == "error"]
    if catalog is None or errors:
        for problem in problems:
            print(problem, file=sys.stderr)
        print("error: the intent files have problems; fix them (see `python -m bot check`)", file=sys.stderr)
        return 1
    engine = assembly.engine(config, catalog)
    channel = TelegramChannel(engine, config, open_store=True)
    app = build_application(config, token, channel)
    try:
        asyncio.run(serve(app, channel, config))
    except InvalidToken:
        print(f"error: Telegram refused the token in {TOKEN_ENV}", file=sys.stderr)
        return 1
    except CannotListen as exc:
        print(f"error: the webhook server cannot listen on {exc} (telegram.listen / telegram.port)", file=sys.stderr)
        return 1
    except BadRequest as exc:
        # Telegram's own words (e.g. "bad webhook: An HTTPS URL must be provided"): no user data in them.
        print(f"error: Telegram refused the settings: {exc.message}", file=sys.stderr)
        return 1
    except TelegramError as exc:
        print(f"error: could not start: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0
