"""config.yaml + environment -> Config, validated with messages an admin can act on."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot import jurisdiction
from bot.catalog.read import YamlProblem, YMap, YSeq, parse_text, read_text

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
HMAC_SECRET_ENV = "BOT_HMAC_SECRET"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class TelegramConfig:
    """How to reach Telegram and who may use admin commands."""

    base_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"  # polling | webhook
    admins: tuple[int, ...] = ()
    url: str = ""  # webhook: the public https URL Telegram posts to
    listen: str = "127.0.0.1"  # webhook: address the local server binds
    port: int = 8443  # webhook: port the local server binds
    secret_token: str = ""  # webhook: also read from TELEGRAM_WEBHOOK_SECRET
    stale_after_seconds: int = 180  # older updates get a "sorry for the slow reply" line
    sends_per_second: int = 30  # pace of sends across chats (Telegram's limit); 0 = unpaced
    protect_content: bool = True  # replies cannot be forwarded or saved
    disable_notification: bool = False


@dataclass(frozen=True)
class StorageConfig:
    """Where counts and short-lived message ids are kept, and for how long."""

    path: str = "data/bot.sqlite3"
    secret_path: str = ""  # HMAC key file; default: next to the database, never inside it
    retention_days: int = 400  # daily counts older than this are deleted
    unmatched_retention_days: int = 30


@dataclass(frozen=True)
class PrivacyConfig:
    """Quick exit and what may be kept."""

    erase_button: bool = True  # a small "Erase chat" button under every answer
    auto_erase_after_minutes: int = 720  # wipe a quiet conversation; 0 turns it off
    log_unmatched: bool = False  # keep redacted unmatched messages for admins


@dataclass(frozen=True)
class ConversationConfig:
    """What the bot remembers of a chat between messages (in memory only, never text)."""

    danger_minutes: int = 30  # after an escalation, short follow-ups get the short danger answer first
    quiet_minutes: int = 120  # a chat's remembered state is forgotten after this long without messages


@dataclass(frozen=True)
class LocalService:
    """A local service the operator lists (service.local_services), shown by the {local_services} placeholder."""

    name: str
    helps_with: str
    area: str
    phone: str = ""
    url: str = ""
    hours: str = ""

    def line(self) -> str:
        """One plain-text bullet: name (area): what it helps with. Phone · link · hours."""
        # no full stop after a link: some apps would take it as part of the address
        contact = " · ".join(part for part in (self.phone, self.url, self.hours) if part)
        return f"• {self.name} ({self.area}): {self.helps_with.rstrip('.')}. {contact}"


LOCAL_SERVICE_KEYS = ("name", "helps_with", "area", "phone", "url", "hours")
LOCAL_SERVICES_HEADING = "Local services in your area:"


DEFAULT_SERVICE: Mapping[str, str] = {
    "organisation": "",
    "emergency_number": "999",
    "non_emergency_number": "101",
    "helpline_number": "0808 802 0300",
    "report_url": "",
    "timezone": "Europe/London",
    "jurisdiction": jurisdiction.DEFAULT,  # whose law and services answers describe until a person says otherwise
}


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    intents_dir: str = "intents"
    watch_intents: bool = True  # reload intent files when they change on disk
    storage: StorageConfig = field(default_factory=StorageConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    service: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SERVICE))
    local_services: tuple[LocalService, ...] = ()  # service.local_services, in the order written
    log_level: str = "INFO"
    base_dir: str = "."  # relative paths in the file are resolved against its folder

    def path(self, value: str) -> Path:
        """A path from the config, resolved against the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def tz(self) -> ZoneInfo:
        """The service's time zone."""
        return ZoneInfo(self.service["timezone"])

    @property
    def hmac_secret_path(self) -> Path:
        """Where the pseudonymisation key lives: outside the database file."""
        if self.storage.secret_path:
            return self.path(self.storage.secret_path)
        db = self.path(self.storage.path)
        return db.with_name(db.name + ".key")

    def answer_values(self) -> dict[str, str]:
        """What answers may use as {placeholders}: the service settings, and the sentences built from the
        privacy, conversation and local-service settings (the engine's ``service``)."""
        minutes = self.privacy.auto_erase_after_minutes
        if not minutes:
            sentence = "Conversations are not erased automatically: use /erase or the Erase chat button."
        elif minutes % 60:
            sentence = f"Conversations are erased automatically after {minutes} minutes without messages."
        else:
            hours = minutes // 60
            unit = "hour" if hours == 1 else "hours"
            sentence = f"Conversations are erased automatically after {hours} {unit} without messages."
        minutes = self.conversation.danger_minutes
        memory = (f"If a message sounds like an emergency or a crisis, the bot remembers that (not your words) "
                  f"for {minutes} minutes, in memory only, so that what you send next is answered in that light; "
                  f"it also remembers which topic it last answered (not your words), for up to "
                  f"{self.conversation.quiet_minutes} minutes without messages, so a short question like "
                  "\"is it free\" is answered in that topic. If you say where in the UK you are, it remembers the "
                  "nation, in memory only, until the chat goes quiet. /erase forgets all of it.")
        return {**self.service, "auto_erase": sentence, "message_storage": self._message_storage(),
                "conversation_memory": memory, "local_services": self._local_services()}

    def _local_services(self) -> str:
        """The {local_services} text: empty when none are configured, so it ends a paragraph with nothing."""
        if not self.local_services:
            return ""
        return "\n\n" + "\n".join((LOCAL_SERVICES_HEADING, *(s.line() for s in self.local_services)))

    def _message_storage(self) -> str:
        """What /privacy says is kept of what people write: true for privacy.log_unmatched either way."""
        counts = (
            "Daily counts of which topics were asked about are kept, and, until the day is over, a keyed code "
            "of your Telegram id so that you count once as active that day; then only the count is kept."
        )
        if not self.privacy.log_unmatched:
            return "the text is not stored. " + counts
        days = self.storage.unmatched_retention_days
        return (
            f"the text is not stored, except messages the bot could not answer: those are kept for up to {days} "
            f"day{'' if days == 1 else 's'} so the service can improve its answers, with the phone numbers, "
            "emails, addresses and names it recognises removed. " + counts
        )

    def webhook_secret(self) -> str:
        """The webhook secret token: environment first, then the file."""
        return os.environ.get(WEBHOOK_SECRET_ENV, "") or self.telegram.secret_token


def _section(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        default = getattr(cls(), name)
        values[name] = _coerce(value, default, f"{where}.{name}")
    return cls(**values)


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}: expected a whole number >= 0, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: expected a list of numeric Telegram user ids, got {value!r}")
        return tuple(value)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return str(value)


TOP_LEVEL = ("telegram", "intents_dir", "watch_intents", "storage", "privacy", "conversation", "service",
             "log_level")


def parse_local_services(raw: Any, where: str, lines: list[int] | None = None) -> tuple[LocalService, ...]:
    """service.local_services -> LocalService entries; ConfigError names the entry (and line) and the field."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: service.local_services: expected a list of services (items starting with "
                          f"'- '), got {type(raw).__name__}")
    out: list[LocalService] = []
    for i, item in enumerate(raw):
        line = f" (line {lines[i]})" if lines and i < len(lines) else ""
        label = f"{where}: service.local_services entry {i + 1}{line}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: expected name:, helps_with:, area: and a phone: or url:, got {item!r}")
        name = item.get("name")
        if isinstance(name, str) and name.strip():
            label += f" ({name.strip()!r})"
        unknown = sorted(str(k) for k in item if k not in LOCAL_SERVICE_KEYS)
        if unknown:
            raise ConfigError(f"{label}: unknown field(s) {', '.join(unknown)}; known: {', '.join(LOCAL_SERVICE_KEYS)}")
        values: dict[str, str] = {}
        for key in LOCAL_SERVICE_KEYS:
            value = item.get(key)
            if value is None:
                value = ""
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ConfigError(f"{label}: {key}: expected text, got {value!r}")
            values[key] = " ".join(str(value).split())  # one line: it is shown as one bullet
        for key in ("name", "helps_with", "area"):
            if not values[key]:
                raise ConfigError(f"{label}: {key}: missing or empty; every local service needs name, helps_with "
                                  "and area")
        if not values["phone"] and not values["url"]:
            raise ConfigError(f"{label}: give a phone: or a url: so people can reach it")
        if values["url"] and not values["url"].startswith("https://"):
            raise ConfigError(f"{label}: url: {values['url']!r} must start with https://")
        if isinstance(item.get("phone"), int):
            raise ConfigError(f"{label}: phone: quote it (\"0113 000 0000\"), or the leading 0 and spaces are lost")
        out.append(LocalService(**values))
    return tuple(out)


def _local_service_lines(text: str) -> list[int]:
    """The line of each service.local_services entry, for error messages (empty when not found)."""
    root, _ = parse_text(text)
    service = root.items.get("service") if isinstance(root, YMap) else None
    entries = service.items.get("local_services") if isinstance(service, YMap) else None
    return [item.line for item in entries.items] if isinstance(entries, YSeq) else []


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; None gives the defaults (console use)."""
    if path is None:
        return validate(Config())
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: no such config file (copy config.example.yaml to start)")
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder; give the config file itself (for example {p / 'config.yaml'})")
    text, problems = read_text(p)
    if text is None:
        raise ConfigError(_positioned(p, problems))
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        _, problems = parse_text(text)
        if problems:
            raise ConfigError(_positioned(p, problems)) from None
        # Composed fine but could not be built (an unknown !tag): PyYAML's own words, on one line.
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(p)
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(what).split())}") from None
    return validate(parse_config(raw or {}, str(p), _local_service_lines(text)), base_dir=str(p.parent))


def _positioned(path: Path, problems: list[YamlProblem]) -> str:
    """The fatal problem (the last one) as FILE:LINE:COL: message."""
    problem = problems[-1]
    return f"{path}:{problem.line}:{problem.col}: {problem.message}"


def parse_config(raw: Any, where: str = "config", local_service_lines: list[int] | None = None) -> Config:
    """Build a Config from an already-loaded mapping (``local_service_lines``: where each local service is)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(TOP_LEVEL)}")
    service_raw = raw.get("service") or {}
    if not isinstance(service_raw, dict):
        raise ConfigError(f"{where}: service: expected a mapping")
    service = dict(DEFAULT_SERVICE)
    local_services = parse_local_services(service_raw.get("local_services"), where, local_service_lines)
    for key, value in service_raw.items():
        if key == "local_services":
            continue
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{where}: service.{key}: names must be letters, digits and _")
        service[key] = _coerce(value, "", f"{where}: service.{key}")
    cfg = Config(
        telegram=_section(TelegramConfig, raw.get("telegram"), f"{where}: telegram"),
        intents_dir=_coerce(raw.get("intents_dir", "intents"), "", f"{where}: intents_dir"),
        watch_intents=_coerce(raw.get("watch_intents", True), True, f"{where}: watch_intents"),
        storage=_section(StorageConfig, raw.get("storage"), f"{where}: storage"),
        privacy=_section(PrivacyConfig, raw.get("privacy"), f"{where}: privacy"),
        conversation=_section(ConversationConfig, raw.get("conversation"), f"{where}: conversation"),
        service=service,
        local_services=local_services,
        log_level=_coerce(raw.get("log_level", "INFO"), "", f"{where}: log_level").upper(),
    )
    return cfg


def validate(cfg: Config, base_dir: str = ".") -> Config:
    """Check cross-field rules; returns the config with its base folder set."""
    tg = cfg.telegram
    if tg.mode not in ("polling", "webhook"):
        raise ConfigError(f"telegram.mode: expected polling or webhook, got {tg.mode!r}")
    if not tg.base_url.startswith(("https://", "http://")):
        raise ConfigError(f"telegram.base_url: expected an http(s) URL, got {tg.base_url!r}")
    if tg.mode == "webhook" and not tg.url.startswith("https://"):
        raise ConfigError("telegram.url: webhook mode needs the public https:// URL Telegram should call")
    if not 1 <= tg.port <= 65535:
        raise ConfigError(f"telegram.port: expected a port number from 1 to 65535, got {tg.port!r}")
    try:
        ZoneInfo(cfg.service["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"service.timezone: unknown time zone {cfg.service['timezone']!r}") from None
    nation = cfg.service.get("jurisdiction", jurisdiction.DEFAULT)
    if not jurisdiction.valid(nation):
        close = difflib.get_close_matches(str(nation).casefold(), list(jurisdiction.NATIONS), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"service.jurisdiction: unknown jurisdiction {nation!r}{hint}; expected one of "
                          f"{', '.join(jurisdiction.NATIONS)} (Wales: wales, for Live Fear Free beside the "
                          "England and Wales law)")
    if cfg.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {cfg.log_level!r}")
    if not cfg.storage.path.strip():
        # An empty path resolves to the config folder itself: the key file and answered-updates.log
        # would land beside it, in its parent.
        raise ConfigError("storage.path: must name the database file, for example data/bot.sqlite3")
    if cfg.privacy.auto_erase_after_minutes > 47 * 60:
        raise ConfigError(
            "privacy.auto_erase_after_minutes: must be under 47 hours, because Telegram lets a bot "
            "delete messages only within 48 hours"
        )
    if cfg.conversation.quiet_minutes < cfg.conversation.danger_minutes:
        raise ConfigError("conversation.quiet_minutes: must be at least conversation.danger_minutes, or the "
                          "danger would be forgotten before its time")
    return replace(cfg, base_dir=base_dir)
