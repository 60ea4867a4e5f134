"""The values of the {placeholders} in answers: the service settings, {report_online}, and each line's
opening hours and status now (filled by bot/templates.py)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.catalog.schema import OpeningHours
from bot.hours import hours_text, status_text
from bot.htmltext import to_plain

REPORT_ONLINE_FALLBACK = "report online through your local police force's website"


def report_online(report_url: str, *, as_html: bool = True) -> str:
    """The {report_online} phrase: a link to the force's page when known, else a pointer to find it."""
    if not report_url:
        return REPORT_ONLINE_FALLBACK
    if as_html:
        return f'<a href="{html.escape(report_url, quote=True)}">report online</a>'
    return f"report online at {report_url}"


def values(
    service: Mapping[str, str],
    hours: Iterable[OpeningHours],
    now: datetime,
    *,
    as_html: bool = True,
    nation: str | None = None,
) -> dict[str, str]:
    """Every placeholder's value: the ``service`` settings, {report_online}, each {<id>_status} and {<id>_hours}.

    With ``as_html`` (answers) the admin's plain-text service values are HTML-escaped; without it (URLs
    of link buttons) they are inserted as written. ``nation`` (a jurisdiction id) picks each line's
    closed text for that nation.
    """
    url = str(service.get("report_url", ""))
    escaped = {key: html.escape(str(value)) for key, value in service.items()}
    escaped["report_online"] = report_online(url, as_html=True)
    out = dict(escaped)
    if not as_html:
        out = {key: str(value) for key, value in service.items()}
        out["report_online"] = report_online(url, as_html=False)
    out.setdefault("local_services", "")  # {local_services} reads as nothing when none are configured
    for h in hours:
        # status texts are HTML and may use the service placeholders (but not another status)
        text = status_text(h, now, escaped, nation)
        out[f"{h.id}_status"] = text if as_html else to_plain(text)
        out[f"{h.id}_hours"] = hours_text(h)
    return out
