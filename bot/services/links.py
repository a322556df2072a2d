"""The private link into a network's sign-in: made for one person and one source, opened once.

An attempt expires after ``LINK_LIFETIME`` and is bound to whom it is for (a Slack user, or an
API key's holder), the source and notice it is about, and once opened, the browser that opened
it. Opening it creates the state and PKCE verifier; the callback checks both
(:mod:`bot.services.connect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.blocks.texts import SOURCE_GONE
from bot.domain import SourceInfo
from bot.networks import Network
from bot.oauth.client import OAuthClient
from bot.oauth.secrets import digest, new_code_verifier, new_secret
from bot.services.attempts import (
    LINK_LIFETIME,
    ConnectRefused,
    LinkProblem,
    Outcome,
    Result,
    configured_network,
    for_page,
)
from bot.services.context import Context
from bot.services.notices import NoticeService, OpenNotice
from bot.services.sources import SourceService
from bot.store.models import ConnectAttempt

MIN_SECRET_LENGTH = 43  # what new_secret() makes: 32 random bytes


@dataclass(frozen=True)
class ConnectLink:
    url: str
    network: Network
    minutes: int
    source: SourceInfo | None
    expires_at: datetime


class LinkService:
    def __init__(self, ctx: Context, sources: SourceService, notices: NoticeService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.notices = notices

    def network(self, name: str) -> Network:
        return configured_network(self.ctx.catalogue, name)

    async def start(
        self,
        workspace_id: str,
        user_id: str | None,
        network_name: str,
        source_id: int | None = None,
        notice: OpenNotice | None = None,
        actor: str | None = None,
    ) -> ConnectLink:
        """Create an attempt and return the private link that starts it.

        ``user_id`` is the Slack user it is for (confirmations go to them when no notice
        lists the source); ``actor`` names who asked when it is not that user (an API key).
        """
        source = await self.sources.get(workspace_id, source_id) if source_id is not None else None
        if source_id is not None and source is None:
            raise ConnectRefused(SOURCE_GONE)
        network = self.network(source.network if source else network_name)
        if source is not None and notice is None:
            notice = await self.notices.open_notice_for(source.id)
        link_token = new_secret()
        now = self.ctx.clock.now()
        expires_at = now + LINK_LIFETIME
        async with self.ctx.db.begin() as session:
            session.add(
                ConnectAttempt(
                    link_hash=digest(link_token),
                    network=network.name,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    actor=actor,
                    source_id=source.id if source else None,
                    notice_id=notice.id if notice else None,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        url = f"{self.ctx.settings.public_url}/oauth/start/{link_token}"
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        return ConnectLink(url, network, minutes, source, expires_at)

    async def begin(self, link_token: str, browser: str | None = None) -> tuple[str, str]:
        """Open a link once: (URL of the network's sign-in page, browser secret for a cookie).

        A browser that already holds a secret keeps it, so that two sign-ins started in one
        browser can both finish.
        """
        now = self.ctx.clock.now()
        if not browser or len(browser) < MIN_SECRET_LENGTH:
            browser = new_secret()
        state = new_secret()
        async with self.ctx.db.begin() as session:
            attempt = await session.scalar(
                select(ConnectAttempt).where(ConnectAttempt.link_hash == digest(link_token))
            )
            if attempt is None:
                raise LinkProblem(Result(Outcome.BAD_LINK))
            title = self.ctx.catalogue.title(attempt.network)
            if attempt.started_at is not None or attempt.consumed_at is not None:
                raise LinkProblem(Result(Outcome.LINK_USED, title))
            if attempt.expires_at <= now:
                raise LinkProblem(Result(Outcome.LINK_EXPIRED, title))
            network = self.network(attempt.network)
            pages = await for_page(session, attempt)
            verifier = new_code_verifier() if network.pkce else None
            claimed = await session.execute(
                update(ConnectAttempt)
                .where(ConnectAttempt.id == attempt.id, ConnectAttempt.started_at.is_(None))
                .values(
                    started_at=now,
                    state_hash=digest(state),
                    browser_hash=digest(browser),
                    code_verifier=self.ctx.cipher.encrypt(verifier) if verifier else None,
                )
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                raise LinkProblem(Result(Outcome.LINK_USED, title))
        client = OAuthClient(network, self.ctx.settings.redirect_uri(network.name), pages)
        return client.authorization_url(state, verifier), browser
