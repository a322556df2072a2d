"""Logging set-up: one line per event, and no OAuth secrets in uvicorn's access log."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

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


# The id of the HTTP request being handled (set by bot.web.request_id), for log lines.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonLines(logging.Formatter):
    """``LOG_FORMAT=json``: one JSON object per line, with the request id when there is one.

    It formats the same message as the text format, after the redaction filters ran, so it
    holds nothing that the text lines would not.
    """

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "INFO", *, json_lines: bool = False) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if json_lines:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
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
