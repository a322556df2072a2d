"""The small HTML pages a person sees in the browser during a connect."""

from __future__ import annotations

from html import escape

from bot.services.attempts import Outcome, Result
from bot.status import long_date

RETRY = (
    "Go back to Slack and click <b>Reconnect</b> (or run <code>/sources connect</code>) "
    "for a new link."
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · sources-bot</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f6f7;color:#1d1c1d;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
main{{background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12);padding:2rem 2.5rem;
max-width:32rem}}
h1{{font-size:1.4rem;margin:0 0 .75rem}} p{{line-height:1.5;margin:.5rem 0}}
.icon{{font-size:2rem}}
</style></head>
<body><main><div class="icon">{icon}</div><h1>{title}</h1>{body}</main></body></html>
"""


def render(icon: str, title: str, *paragraphs: str) -> str:
    """``paragraphs`` are trusted HTML; callers escape anything that came from outside."""
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return _PAGE.format(icon=icon, title=escape(title), body=body)


def page_for(result: Result) -> tuple[int, str]:
    """(HTTP status, HTML) for what happened to a connect attempt."""
    network = escape(result.network_title or "the network")
    source = result.source
    if result.outcome in (Outcome.CONNECTED, Outcome.RECONNECTED) and source is not None:
        until = (
            f" It is valid until {escape(long_date(source.expires_at))}."
            if source.expires_at
            else ""
        )
        verb = "connected" if result.outcome is Outcome.CONNECTED else "reconnected"
        more = []
        if result.also:
            names = ", ".join(f"<b>{escape(also.label)}</b>" for also in result.also)
            more.append(f"The same sign-in also reconnected {names}.")
        if result.offered:
            more.append(
                f"It also manages {result.offered} more that "
                f"{'is' if result.offered == 1 else 'are'} not a source yet: choose which to "
                "add in Slack, where I've sent you a message."
            )
        return 200, render(
            "✅",
            f"{source.label} is {verb}",
            f"Thanks! <b>{escape(source.label)}</b> is {verb}.{until}",
            *more,
            "You can close this tab; Slack has been told.",
        )
    if result.outcome is Outcome.WRONG_ACCOUNT and source is None and result.connected:
        reaches = ", ".join(f"<b>{escape(name)}</b>" for name in result.reaches) or "none"
        return 409, render(
            "⚠️",
            "That login manages none of them",
            f"You signed in to {network} as <b>{escape(result.connected.name)}</b>, which "
            f"reaches none of the {network} sources that need reconnecting. It manages: "
            f"{reaches}.",
            f"Nothing was changed. Sign out of {network} (or switch accounts), then click "
            "<b>Reconnect all</b> in Slack again and sign in as a person who manages them.",
        )
    if result.outcome is Outcome.WRONG_ACCOUNT and source is not None and result.connected:
        signed_in = f"You signed in to {network} as <b>{escape(result.connected.name)}</b>"
        if source.kind == "account":
            problem = f"{signed_in}, but this link was for <b>{escape(source.name)}</b>."
            who = f"<b>{escape(source.name)}</b>"
        else:
            reaches = ", ".join(f"<b>{escape(name)}</b>" for name in result.reaches) or "none"
            problem = (
                f"{signed_in}, and that login doesn't manage <b>{escape(source.name)}</b>. "
                f"It manages: {reaches}."
            )
            who = f"a person who manages <b>{escape(source.name)}</b>"
        return 409, render(
            "⚠️",
            "That was a different account",
            problem,
            f"Nothing was changed. Sign out of {network} (or switch accounts), then click "
            f"<b>Reconnect</b> in Slack again and sign in as {who}.",
        )
    if result.outcome is Outcome.DENIED:
        return 200, render(
            "✋",
            "Connection cancelled",
            f"{network} says access was not granted, so nothing was changed.",
            RETRY,
        )
    if result.outcome is Outcome.LINK_USED:
        return 410, render("🔁", "This link was already used", "Each link works once.", RETRY)
    if result.outcome is Outcome.LINK_EXPIRED:
        return 410, render(
            "⌛", "This link has expired", "Links work for 10 minutes after they are made.", RETRY
        )
    if result.outcome is Outcome.OTHER_BROWSER:
        return 403, render(
            "🔒",
            "This sign-in started in another browser",
            "For your safety a connection can only finish in the browser that opened the link.",
            RETRY,
        )
    if result.outcome is Outcome.NETWORK_ERROR:
        reason = escape(result.reason or f"{network} did not answer as expected")
        if not reason.endswith((".", "!", "?")):
            reason += "."
        return 502, render(
            "⚠️",
            f"The sign-in with {result.network_title or 'the network'} did not finish",
            f"{reason} Nothing was changed.",
            "Please try again in a few minutes. " + RETRY,
        )
    return 400, render(
        "❓",
        "This link is not valid",
        "It may be incomplete or was not made by sources-bot.",
        RETRY,
    )
