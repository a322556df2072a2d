"""One sign-in and what it reaches: the account it is, the pages (organizations, channels) it
manages, and which of a workspace's sources those are.

A login that manages several sources restores every one that needs a person, and each gets
the token that fits it: a Facebook page its own page token, anything else the login's own
tokens. A refresh token that a refresh spends (single use, ``refresh_token_rotates``) goes to
one source only, since two sources refreshing one such token would kill it for the second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Identity, Page, SourceInfo, Status, TokenSet
from bot.networks import Network
from bot.oauth.client import OAuthClient
from bot.oauth.errors import NetworkError
from bot.services.context import Context
from bot.services.events import EventType
from bot.services.sources import (
    add_credential,
    describe,
    mark_connected,
    record_event,
    source_info,
    warning_days,
)
from bot.store.models import Source

log = logging.getLogger(__name__)

ACCOUNT = "account"


@dataclass(frozen=True)
class Login:
    """Who signed in, with which tokens, managing which pages."""

    network: Network
    identity: Identity
    tokens: TokenSet
    pages: tuple[Page, ...] = ()

    def reaches(self, kind: str, account_id: str) -> bool:
        """Whether this login can stand for a source of ``kind`` and ``account_id``."""
        if kind == ACCOUNT:
            return account_id == self.identity.account_id
        return any(page.account_id == account_id for page in self.pages)

    @property
    def page_names(self) -> tuple[str, ...]:
        return tuple(page.name for page in self.pages)

    def page(self, account_id: str) -> Page | None:
        return next((page for page in self.pages if page.account_id == account_id), None)


def lists_pages(network: Network, asked_page_scopes: bool) -> bool:
    """Whether a login's pages can be listed: the network has pages, and the sign-in asked
    for whatever scopes listing them needs (LinkedIn's organizations need their own)."""
    return network.page_kind is not None and (not network.page_scopes or asked_page_scopes)


async def sign_in(
    client: OAuthClient, identity: Identity, tokens: TokenSet, *, pages: bool, required: bool
) -> Login:
    """The login with its pages (when ``pages``). A page list that fails is an error only
    when ``required`` (reconnecting a page); otherwise the login simply reaches no pages."""
    found: Sequence[Page] = ()
    if pages:
        try:
            found = await client.pages(tokens.access_token)
        except NetworkError as err:
            if required:
                raise
            log.warning("could not list the %s pages of a login: %s", client.network.name, err)
    return Login(client.network, identity, tokens, tuple(found))


class Handout:
    """Hands each source of one sign-in its tokens (see the module docstring)."""

    def __init__(self, login: Login, refresh_taken: bool = False) -> None:
        self.login = login
        self._refresh_taken = refresh_taken

    def tokens_for(self, kind: str, account_id: str) -> TokenSet:
        page = self.login.page(account_id) if kind != ACCOUNT else None
        if page is not None and page.access_token:
            return TokenSet(page.access_token, None, None, self.login.tokens.scopes)
        tokens = self.login.tokens
        if tokens.refresh_token and self.login.network.refresh_token_rotates:
            if self._refresh_taken:
                return replace(tokens, refresh_token=None, refresh_expires_at=None)
            self._refresh_taken = True
        return tokens


async def needing_a_person(
    session: AsyncSession,
    ctx: Context,
    workspace_id: str,
    login: Login,
    now: datetime,
) -> list[Source]:
    """The workspace's sources on the login's network that it reaches and that need a person
    (expired, revoked, or expiring without renewing).

    Every source the login reaches is locked for the transaction, in id order: call this
    before touching any of them, and two sign-ins that reach the same sources wait for each
    other rather than deadlock.
    """
    reached = {login.identity.account_id, *(page.account_id for page in login.pages)}
    rows = (
        await session.scalars(
            select(Source)
            .where(
                Source.workspace_id == workspace_id,
                Source.network == login.network.name,
                Source.account_id.in_(sorted(reached)),
            )
            .order_by(Source.id)
            .with_for_update()
        )
    ).all()
    days = await warning_days(session, ctx, workspace_id)
    return [
        source
        for source in rows
        if login.reaches(source.kind, source.account_id)
        and source_info(ctx, source, now, days).status is not Status.ACTIVE
    ]


async def save_login(
    session: AsyncSession,
    ctx: Context,
    source: Source,
    network: Network,
    tokens: TokenSet,
    now: datetime,
    by: str,
    login_name: str,
) -> SourceInfo:
    """Store ``tokens`` for ``source`` and append the event: restored if it was down, else
    connected, by ``by`` as ``login_name``. The source as it is now."""
    was_down = source.status != Status.ACTIVE or (
        source.expires_at is not None and source.expires_at <= now
    )
    add_credential(session, ctx, source, tokens, now)
    mark_connected(source, network, tokens, now, by, login_name)
    source.checked_at = now
    kind = EventType.RESTORED if was_down else EventType.CONNECTED
    await record_event(session, ctx, kind, source, by, now, by=by, **{"as": login_name})
    return await describe(session, ctx, source, now)
