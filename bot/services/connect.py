"""Connect attempts: the private link, the redirect to the network, and the callback.

An attempt is single use, expires after ``LINK_LIFETIME``, and is bound to the Slack user
who asked for it, the source and notice it is about, and (once opened) the browser that
opened it. The callback checks and consumes the state before it does anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks import Message
from bot.blocks.base import escape
from bot.blocks.notice import connected_dm, reconnected_reply, wrong_account_reply
from bot.blocks.texts import NOT_CONFIGURED, SOURCE_GONE, UNKNOWN_NETWORK
from bot.domain import Identity, SourceInfo, TokenSet
from bot.networks import Network
from bot.oauth.client import OAuthClient
from bot.oauth.errors import NetworkError
from bot.oauth.secrets import (
    digest,
    matches,
    new_code_verifier,
    new_secret,
)
from bot.services.context import Context
from bot.services.notices import NoticeService, OpenNotice
from bot.services.sources import SourceService, add_credential, mark_connected, upsert_source
from bot.slack_api import SlackUnavailable
from bot.store.models import ConnectAttempt, Source

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=10)
MIN_SECRET_LENGTH = 43  # what new_secret() makes: 32 random bytes
# What a network sends back when the person cancels (LinkedIn has its own two words for it).
DENIALS = {"access_denied", "user_cancelled_authorize", "user_cancelled_login"}


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


class ConnectRefused(Exception):
    """A link cannot be made; the message is a sentence for the person in Slack."""


class LinkProblem(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.outcome)
        self.result = result


@dataclass(frozen=True)
class ConnectLink:
    url: str
    network: Network
    minutes: int
    source: SourceInfo | None


class ConnectService:
    def __init__(self, ctx: Context, sources: SourceService, notices: NoticeService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.notices = notices

    def network(self, name: str) -> Network:
        """The configured network called ``name``, or ConnectRefused saying what is missing."""
        network = self.ctx.catalogue.get(name)
        if network is None:
            known = ", ".join(f"`{n}`" for n in self.ctx.catalogue.names())
            raise ConnectRefused(UNKNOWN_NETWORK.format(name=escape(name), known=known))
        if not network.configured:
            raise ConnectRefused(
                NOT_CONFIGURED.format(title=network.title, prefix=network.name.upper())
            )
        return network

    async def start(
        self,
        workspace_id: str,
        user_id: str,
        network_name: str,
        source_id: int | None = None,
        notice: OpenNotice | None = None,
    ) -> ConnectLink:
        """Create an attempt and return the private link that starts it."""
        source = await self.sources.get(source_id) if source_id is not None else None
        if source_id is not None and (source is None or source.workspace_id != workspace_id):
            raise ConnectRefused(SOURCE_GONE)
        network = self.network(source.network if source else network_name)
        if source is not None and notice is None:
            notice = await self.notices.open_notice_for(source.id)
        link_token = new_secret()
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            session.add(
                ConnectAttempt(
                    link_hash=digest(link_token),
                    network=network.name,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    source_id=source.id if source else None,
                    notice_id=notice.id if notice else None,
                    created_at=now,
                    expires_at=now + LINK_LIFETIME,
                )
            )
        url = f"{self.ctx.settings.public_url}/oauth/start/{link_token}"
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        return ConnectLink(url=url, network=network, minutes=minutes, source=source)

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
            pages = await self._for_page(session, attempt)
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

    @staticmethod
    async def _for_page(session: AsyncSession, attempt: ConnectAttempt) -> bool:
        """Whether the attempt reconnects a page, organization or channel (more scopes)."""
        if attempt.source_id is None:
            return False
        kind = await session.scalar(select(Source.kind).where(Source.id == attempt.source_id))
        return kind not in (None, "account")

    async def complete(
        self, network_name: str, params: dict[str, str], browser: str | None
    ) -> Result:
        """Handle the network's redirect back: check and consume the state first, then act."""
        attempt_or_result = await self._consume(network_name, params.get("state"), browser)
        if isinstance(attempt_or_result, Result):
            return attempt_or_result
        attempt = attempt_or_result
        title = self.ctx.catalogue.title(attempt.network)
        try:
            network = self.network(attempt.network)
        except ConnectRefused as refused:  # the operator removed the app's credentials meanwhile
            return Result(Outcome.NETWORK_ERROR, title, reason=str(refused))
        if "error" in params:
            if params["error"] in DENIALS:
                return Result(Outcome.DENIED, title)
            return Result(
                Outcome.NETWORK_ERROR, title, reason=f"{title} answered “{params['error']}”."
            )
        if not params.get("code"):
            return Result(
                Outcome.NETWORK_ERROR, title, reason=f"{title} sent no authorization code."
            )
        async with self.ctx.read() as session:
            pages = await self._for_page(session, attempt)
        client = OAuthClient(network, self.ctx.settings.redirect_uri(network.name), pages)
        verifier = self.ctx.cipher.decrypt(attempt.code_verifier) if attempt.code_verifier else None
        try:
            tokens = await client.exchange(params["code"], verifier, self.ctx.clock.now())
            identity = await client.identity(tokens.access_token)
            if attempt.source_id is None:
                return await self._save_new(attempt, network, identity, tokens)
            return await self._save_reconnect(attempt, network, client, identity, tokens)
        except NetworkError as err:
            log.warning("connect attempt %s: %s", attempt.id, err.reason)
            return Result(Outcome.NETWORK_ERROR, title, reason=err.reason)

    async def _consume(
        self, network_name: str, state: str | None, browser: str | None
    ) -> ConnectAttempt | Result:
        now = self.ctx.clock.now()
        title = self.ctx.catalogue.title(network_name)
        if not state:
            return Result(Outcome.BAD_LINK, title)
        async with self.ctx.db.begin() as session:
            attempt = await session.scalar(
                select(ConnectAttempt).where(ConnectAttempt.state_hash == digest(state))
            )
            if attempt is None or attempt.network != network_name or attempt.started_at is None:
                return Result(Outcome.BAD_LINK, title)
            if attempt.consumed_at is not None:
                return Result(Outcome.LINK_USED, title)
            if attempt.expires_at <= now:
                return Result(Outcome.LINK_EXPIRED, title)
            if not matches(browser, attempt.browser_hash):
                return Result(Outcome.OTHER_BROWSER, title)
            consumed = await session.execute(
                update(ConnectAttempt)
                .where(ConnectAttempt.id == attempt.id, ConnectAttempt.consumed_at.is_(None))
                .values(consumed_at=now)
            )
            if not consumed.rowcount:  # type: ignore[attr-defined]
                return Result(Outcome.LINK_USED, title)
            return attempt

    async def _save_new(
        self, attempt: ConnectAttempt, network: Network, identity: Identity, tokens: TokenSet
    ) -> Result:
        now = self.ctx.clock.now()
        kind = network.page_kind if network.page_kind == "channel" else "account"
        async with self.ctx.db.begin() as session:
            source, created = await upsert_source(
                session, attempt.workspace_id, network.name, identity, now, kind
            )
            add_credential(session, self.ctx, source, tokens, now)
            mark_connected(source, network, tokens, now, attempt.user_id, identity.name)
            source.checked_at = now
        info = self.sources.info(source, now)
        assert attempt.user_id is not None  # until API links exist
        if not await self._confirm(info, attempt.user_id, None):
            await self._dm(attempt.user_id, connected_dm(info, created))
        log.info(
            "source %s %s by %s",
            source.id,
            "connected" if created else "reconnected",
            attempt.user_id,
        )
        return Result(Outcome.CONNECTED if created else Outcome.RECONNECTED, network.title, info)

    async def _save_reconnect(
        self,
        attempt: ConnectAttempt,
        network: Network,
        client: OAuthClient,
        identity: Identity,
        tokens: TokenSet,
    ) -> Result:
        """Save only if the login reaches the source: the same account, or a page it manages."""
        expected = await self.sources.get(attempt.source_id or 0)
        if expected is None:
            return Result(Outcome.BAD_LINK, network.title)
        reaches: tuple[str, ...] = ()
        if expected.kind == "account":
            right = identity.account_id == expected.account_id
        else:
            pages = await client.pages(tokens.access_token)
            reaches = tuple(page.name for page in pages)
            page = next((p for p in pages if p.account_id == expected.account_id), None)
            right = page is not None
            if page is not None and page.access_token:  # Facebook: the page's own token
                tokens = TokenSet(page.access_token, None, None, tokens.scopes)
        if not right:
            return await self._wrong_account(attempt, expected, identity, reaches)
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            source = await session.get(Source, expected.id, with_for_update=True)
            if source is None:
                return Result(Outcome.BAD_LINK, network.title)
            add_credential(session, self.ctx, source, tokens, now)
            mark_connected(source, network, tokens, now, attempt.user_id, identity.name)
            source.checked_at = now
        info = self.sources.info(source, now)
        assert attempt.user_id is not None  # until API links exist
        if not await self._confirm(info, attempt.user_id, attempt.notice_id):
            await self._dm(attempt.user_id, connected_dm(info, created=False))
        log.info("source %s reconnected by %s", source.id, attempt.user_id)
        return Result(Outcome.RECONNECTED, info.network_title, info, identity)

    async def _wrong_account(
        self,
        attempt: ConnectAttempt,
        expected: SourceInfo,
        identity: Identity,
        reaches: tuple[str, ...],
    ) -> Result:
        log.info("connect attempt %s: login does not reach source %s", attempt.id, expected.id)
        assert attempt.user_id is not None  # until API links exist
        reply = wrong_account_reply(expected, identity, attempt.user_id, reaches)
        notice = await self._notice(attempt)
        if notice is not None:
            await self._safely(self.ctx.slack.post(notice.channel, reply, thread_ts=notice.ts))
        else:
            await self._dm(attempt.user_id, reply)
        return Result(
            Outcome.WRONG_ACCOUNT, expected.network_title, expected, identity, reaches=reaches
        )

    async def _notice(self, attempt: ConnectAttempt) -> OpenNotice | None:
        if attempt.notice_id is not None:
            notice = await self.notices.by_id(attempt.notice_id)
            if notice is not None:
                return notice
        if attempt.source_id is not None:
            return await self.notices.open_notice_for(attempt.source_id)
        return None

    async def _confirm(self, source: SourceInfo, user_id: str, preferred: int | None) -> bool:
        """Reply in the thread of the notice about the source and update every notice that
        listed it; False when no notice did."""
        notices = await self.notices.mark_restored(source.id, user_id)
        if not notices:
            return False
        thread = next((n for n in notices if n.id == preferred), notices[-1])
        await self._safely(
            self.ctx.slack.post(
                thread.channel, reconnected_reply(source, user_id), thread_ts=thread.ts
            )
        )
        for notice in notices:
            await self._safely(self.notices.refresh_message(notice))
        return True

    async def _dm(self, user_id: str, message: Message) -> None:
        await self._safely(self.ctx.slack.post(user_id, message))

    async def _safely(self, call: Awaitable[object]) -> None:
        """Slack being unavailable must not undo or hide a saved connection."""
        try:
            await call
        except SlackUnavailable as err:
            log.warning("Slack call after a connect failed: %s", err.reason)
