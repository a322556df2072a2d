"""Connect attempts: what can happen to one, and the checks both of its ends share.

An attempt is one OAuth flow: created with a private link (:mod:`bot.services.links`),
opened in a browser, and completed when the network redirects back
(:mod:`bot.services.connect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.base import escape
from bot.blocks.texts import NOT_CONFIGURED, UNKNOWN_NETWORK
from bot.domain import Identity, SourceInfo
from bot.networks import Catalogue, Network
from bot.store.models import ConnectAttempt, Source

LINK_LIFETIME = timedelta(minutes=10)


class Outcome(StrEnum):
    CONNECTED = "connected"
    RECONNECTED = "reconnected"
    WRONG_ACCOUNT = "wrong_account"
    DENIED = "denied"
    LINK_USED = "link_used"
    LINK_EXPIRED = "link_expired"
    BAD_LINK = "bad_link"
    OTHER_BROWSER = "other_browser"
    NETWORK_ERROR = "network_error"


@dataclass(frozen=True)
class Result:
    """What happened to a connect attempt, for the page the person sees."""

    outcome: Outcome
    network_title: str = ""
    source: SourceInfo | None = None
    connected: Identity | None = None
    reason: str | None = None
    reaches: tuple[str, ...] = ()
    also: tuple[SourceInfo, ...] = ()  # restored by the same login besides ``source``
    offered: int = 0  # pages the login manages that are offered to add, in Slack


class ConnectRefused(Exception):
    """A link cannot be made; the message is a sentence for the person in Slack."""


class LinkProblem(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.outcome)
        self.result = result


def configured_network(catalogue: Catalogue, name: str) -> Network:
    """The configured network called ``name``, or ConnectRefused saying what is missing."""
    network = catalogue.get(name)
    if network is None:
        known = ", ".join(f"`{n}`" for n in catalogue.names())
        raise ConnectRefused(UNKNOWN_NETWORK.format(name=escape(name), known=known))
    if not network.configured:
        raise ConnectRefused(
            NOT_CONFIGURED.format(title=network.title, prefix=network.name.upper())
        )
    return network


async def for_page(session: AsyncSession, attempt: ConnectAttempt) -> bool:
    """Whether the attempt reconnects a page, organization or channel, reconnects all that
    need it, or asked for the pages of a new connect: each needs the page scopes."""
    if attempt.restore_all or attempt.with_pages:
        return True
    if attempt.source_id is None:
        return False
    kind = await session.scalar(select(Source.kind).where(Source.id == attempt.source_id))
    return kind not in (None, "account")
