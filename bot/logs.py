"""Logging set-up: one line per event, and no OAuth secrets in uvicorn's access log."""

from __future__ import annotations

import logging
import re

_OAUTH_PATH = re.compile(r"^(/oauth/(?:start|callback)/)([^?\s]*)(\?.*)?$")


class RedactOAuthPaths(logging.Filter):
    """Hide the single-use link token and the callback's ``code``/``state`` from access logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            match = _OAUTH_PATH.match(path)
            if match:
                prefix, rest, query = match.groups()
                rest = "…" if prefix.endswith("start/") else rest
                redacted = prefix + rest + ("?…" if query else "")
                record.args = (*args[:2], redacted, *args[3:])
        return True


class HideOAuthValues(logging.Filter):
    """slack-sdk and Bolt name a failed install's code, or a state they could not find, in
    their warnings; the rest of the line stays, the value does not."""

    _VALUE = re.compile(r"\b(code|state): \S+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = self._VALUE.sub(r"\1: …", message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def hide_oauth_values(logger: logging.Logger) -> logging.Logger:
    """``logger`` with :class:`HideOAuthValues` (added once)."""
    if not any(isinstance(f, HideOAuthValues) for f in logger.filters):
        logger.addFilter(HideOAuthValues())
    return logger


class DropBoltTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the bot's own client (or its
    authorize, which hands out the token) wins; it does."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            ("As you gave `client` as well", "As `installation_store` or `authorize` has been")
        )


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    keep_secrets_out()
    logging.getLogger("slack_bolt.AsyncApp").addFilter(DropBoltTokenNotice())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def keep_secrets_out() -> None:
    """Silence the loggers that would print secrets.

    httpx2 logs every request's full URL at INFO, and Facebook's and Instagram's token calls
    carry the client secret and the tokens in the query string.
    """
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").addFilter(RedactOAuthPaths())
