"""Pages a new login manages that are not sources yet, offered to the person who signed in.

The offer is written with the connect that found it (and its DM, through the outbox), holds
the login's and the pages' tokens encrypted, and lasts :data:`OFFER_LIFETIME`. Choosing adds
the ticked pages, each with the token that fits it (:class:`bot.services.logins.Handout`),
and deletes the offer with its tokens; the scan deletes offers nobody took up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.pages import PageChoice, offer_dm
from bot.delivery import outbox
from bot.domain import Identity, Page, SourceInfo, TokenSet
from bot.services.attempts import ConnectRefused, configured_network
from bot.services.context import Context
from bot.services.logins import Handout, Login, save_login
from bot.services.sources import upsert_source
from bot.store.models import ConnectAttempt, PageOffer, Source

OFFER_LIFETIME = timedelta(days=1)
OFFER_GONE = (
    "This choice was already made or has expired. Connect the account again with "
    "`/sources connect` to be offered its pages again."
)


class OfferGone(Exception):
    """No such offer for this person any more; the message says what to do."""


class PageOfferService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def offer(
        self, session: AsyncSession, attempt: ConnectAttempt, login: Login, now: datetime
    ) -> int:
        """In ``session``'s transaction: offer the login's pages that are not sources of the
        workspace yet to the person who signed in, by DM; return how many were offered."""
        if attempt.user_id is None or not login.pages:
            return 0
        known = set(
            (
                await session.scalars(
                    select(Source.account_id).where(
                        Source.workspace_id == attempt.workspace_id,
                        Source.network == login.network.name,
                    )
                )
            ).all()
        )
        fresh = [page for page in login.pages if page.account_id not in known]
        if not fresh:
            return 0
        row = PageOffer(
            workspace_id=attempt.workspace_id,
            user_id=attempt.user_id,
            network=login.network.name,
            login_name=login.identity.name[:255],
            pages=[{"account_id": page.account_id, "name": page.name} for page in fresh],
            tokens=self.ctx.cipher.encrypt(json.dumps(_secrets(login.tokens, fresh))),
            created_at=now,
            expires_at=now + OFFER_LIFETIME,
        )
        session.add(row)
        await session.flush()
        message = offer_dm(self._choice(row))
        outbox.enqueue(
            session,
            workspace_id=attempt.workspace_id,
            kind=outbox.MESSAGE,
            key=f"page-offer:{row.id}",
            order_key=f"dm:{attempt.user_id}",  # after the DM that confirms the connect
            target=attempt.user_id,
            payload={"channel": attempt.user_id, **message.to_dict()},
            now=now,
        )
        return len(fresh)

    async def choice(self, workspace_id: str, user_id: str, offer_id: int) -> PageChoice:
        """What ``user_id`` may choose from; OfferGone when it is not (or no longer) theirs."""
        async with self.ctx.read() as session:
            row = await session.get(PageOffer, offer_id)
            return self._choice(self._live(row, workspace_id, user_id))

    async def add(
        self, workspace_id: str, user_id: str, offer_id: int, chosen: Sequence[int]
    ) -> tuple[PageChoice, list[SourceInfo]]:
        """Add the chosen pages as sources, with their events, and forget the offer."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            row = self._live(
                await session.get(PageOffer, offer_id, with_for_update=True), workspace_id, user_id
            )
            choice = self._choice(row)
            try:
                network = configured_network(self.ctx.catalogue, row.network)
            except ConnectRefused as refused:
                raise OfferGone(str(refused)) from None
            secrets = json.loads(self.ctx.cipher.decrypt(row.tokens))
            pages = tuple(
                Page(page["account_id"], page["name"], secrets["pages"].get(page["account_id"]))
                for page in row.pages
            )
            login = Login(network, Identity("", row.login_name), _tokens(secrets["login"]), pages)
            # The connect that made the offer gave the login's own source the refresh token.
            handout = Handout(login, refresh_taken=True)
            kind = network.page_kind or "account"
            added = []
            for index in chosen:
                if not 0 <= index < len(pages):
                    continue
                page = pages[index]
                source, _ = await upsert_source(
                    session,
                    workspace_id,
                    network.name,
                    Identity(page.account_id, page.name),
                    now,
                    kind,
                )
                tokens = handout.tokens_for(kind, page.account_id)
                added.append(
                    await save_login(
                        session, self.ctx, source, network, tokens, now, user_id, row.login_name
                    )
                )
            await session.execute(delete(PageOffer).where(PageOffer.id == offer_id))
        return choice, added

    def _live(self, row: PageOffer | None, workspace_id: str, user_id: str) -> PageOffer:
        if row is None or row.workspace_id != workspace_id or row.user_id != user_id:
            raise OfferGone(OFFER_GONE)
        if row.expires_at <= self.ctx.clock.now():
            raise OfferGone(OFFER_GONE)
        return row

    def _choice(self, row: PageOffer) -> PageChoice:
        network = self.ctx.catalogue.get(row.network)
        return PageChoice(
            offer_id=row.id,
            network_title=self.ctx.catalogue.title(row.network),
            noun=(network.page_kind if network else None) or "page",
            login_name=row.login_name,
            names=[str(page["name"]) for page in row.pages],
        )


async def forget_offers(session: AsyncSession, now: datetime) -> None:
    """Delete offers nobody took up in time, with the tokens they hold."""
    await session.execute(delete(PageOffer).where(PageOffer.expires_at < now))


def _secrets(tokens: TokenSet, pages: Sequence[Page]) -> dict[str, Any]:
    return {
        "login": {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": _iso(tokens.expires_at),
            "refresh_expires_at": _iso(tokens.refresh_expires_at),
            "scopes": tokens.scopes,
        },
        "pages": {page.account_id: page.access_token for page in pages if page.access_token},
    }


def _tokens(data: dict[str, Any]) -> TokenSet:
    return TokenSet(
        access_token=data["access_token"],
        refresh_token=data.get("refresh_token"),
        expires_at=_moment(data.get("expires_at")),
        scopes=data.get("scopes"),
        refresh_expires_at=_moment(data.get("refresh_expires_at")),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
