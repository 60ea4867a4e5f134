"""Logging for the Telegram channel: nothing in a log line may carry a message, a name or the token."""

from __future__ import annotations

import logging


class _RedactToken(logging.Filter):
    """Belt and braces: no log line may carry the bot token (httpx logs request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


class _NoUpdateContent(logging.Filter):
    """Belt and braces: a python-telegram-bot log line that quotes updates keeps only its exception type.

    PTB logs the whole batch (everyone's text, names and ids) when it cannot parse one update of it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] == "telegram" and "update_id" in record.getMessage():
            error = record.exc_info[1] if record.exc_info else None
            record.msg = "python-telegram-bot logged update content (withheld): %s"
            record.args = (type(error).__name__ if error else "no exception",)
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def configure_logging(level: str, token: str) -> None:
    """Log to stderr at ``level``, with nothing that could carry a message, a name or the token."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    # PTB logs API parameters and returned updates (people's messages) at DEBUG; httpx logs request
    # URLs (which hold the token) at INFO: keep both above those levels whatever log_level says.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for handler in root.handlers:
        handler.addFilter(_NoUpdateContent())
        handler.addFilter(_RedactToken(token))
