"""The callback of a connect attempt: check and consume the state, then save what came back.

A new connection, a reconnection and a wrong-account attempt each commit, in one
transaction, what they change, the event that says so and the Slack messages that confirm
it (a reply in the notice's thread, or a DM when no notice lists the source). Slack being
down therefore delays a confirmation; it never loses one.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks import Message
from bot.blocks.notice import connected_dm, reconnected_reply, wrong_account_reply
from bot.delivery import outbox
from bot.domain import Identity, SourceInfo, Status, TokenSet
from bot.networks import Network
from bot.oauth.client import OAuthClient
from bot.oauth.errors import NetworkError
from bot.oauth.secrets import digest, matches
from bot.services.attempts import ConnectRefused, Outcome, Result, configured_network, for_page
from bot.services.context import Context
from bot.services.events import EventType
from bot.services.notices import NoticeService, notice_order
from bot.services.sources import (
    SourceService,
    add_credential,
    describe,
    mark_connected,
    record_event,
    upsert_source,
)
from bot.store.models import ConnectAttempt, Notice, Source

log = logging.getLogger(__name__)

# What a network sends back when the person cancels (LinkedIn has its own two words for it).
DENIALS = {"access_denied", "user_cancelled_authorize", "user_cancelled_login"}


class ConnectService:
    def __init__(self, ctx: Context, sources: SourceService, notices: NoticeService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.notices = notices

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
            network = configured_network(self.ctx.catalogue, attempt.network)
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
            pages = await for_page(session, attempt)
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
            info = await self._save(session, attempt, source, network, identity, tokens, now)
            await self._confirm(session, attempt, info, created, now)
        log.info(
            "source %s %s by %s", source.id, "connected" if created else "reconnected", who(attempt)
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
        expected = await self.sources.get(attempt.workspace_id, attempt.source_id or 0)
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
            info = await self._save(session, attempt, source, network, identity, tokens, now)
            await self._confirm(session, attempt, info, False, now)
        log.info("source %s reconnected by %s", source.id, who(attempt))
        return Result(Outcome.RECONNECTED, info.network_title, info, identity)

    async def _save(
        self,
        session: AsyncSession,
        attempt: ConnectAttempt,
        source: Source,
        network: Network,
        identity: Identity,
        tokens: TokenSet,
        now: datetime,
    ) -> SourceInfo:
        """Store the tokens and append the event: restored if it was down, else connected."""
        was_down = source.status != Status.ACTIVE or (
            source.expires_at is not None and source.expires_at <= now
        )
        add_credential(session, self.ctx, source, tokens, now)
        mark_connected(source, network, tokens, now, who(attempt), identity.name)
        source.checked_at = now
        kind = EventType.RESTORED if was_down else EventType.CONNECTED
        await record_event(
            session,
            self.ctx,
            kind,
            source,
            who(attempt),
            now,
            by=who(attempt),
            **{"as": identity.name},
        )
        return await describe(session, self.ctx, source, now)

    async def _wrong_account(
        self,
        attempt: ConnectAttempt,
        expected: SourceInfo,
        identity: Identity,
        reaches: tuple[str, ...],
    ) -> Result:
        log.info("connect attempt %s: login does not reach source %s", attempt.id, expected.id)
        now = self.ctx.clock.now()
        reply = wrong_account_reply(expected, identity, who(attempt), reaches)
        async with self.ctx.db.begin() as session:
            source = await session.get(Source, expected.id)
            if source is not None:
                await record_event(
                    session,
                    self.ctx,
                    EventType.WRONG_ACCOUNT,
                    source,
                    who(attempt),
                    now,
                    by=who(attempt),
                    account_id=identity.account_id,
                    **{"as": identity.name},
                )
            notice = await self._notice(session, attempt)
            if notice is not None:
                self._reply(session, notice, reply, now)
            elif attempt.user_id:
                self._dm(session, attempt.workspace_id, attempt.user_id, reply, now)
        return Result(
            Outcome.WRONG_ACCOUNT, expected.network_title, expected, identity, reaches=reaches
        )

    async def _notice(self, session: AsyncSession, attempt: ConnectAttempt) -> Notice | None:
        """The notice the attempt came from, or the newest one still open for its source."""
        if attempt.notice_id is not None:
            notice = await session.get(Notice, attempt.notice_id)
            if notice is not None:
                return notice
        if attempt.source_id is not None:
            found = await self.notices.open_notice_for(attempt.source_id)
            if found is not None:
                return await session.get(Notice, found.id)
        return None

    async def _confirm(
        self,
        session: AsyncSession,
        attempt: ConnectAttempt,
        info: SourceInfo,
        created: bool,
        now: datetime,
    ) -> None:
        """Reply in the thread of the notice about the source (updating every notice that
        listed it), or DM the person when no notice did."""
        notices = await self.notices.mark_restored(session, info.id, who(attempt), now)
        if notices:
            thread = next((n for n in notices if n.id == attempt.notice_id), notices[-1])
            notice = await session.get(Notice, thread.id)
            assert notice is not None
            self._reply(session, notice, reconnected_reply(info, who(attempt)), now)
        elif attempt.user_id:
            self._dm(
                session, attempt.workspace_id, attempt.user_id, connected_dm(info, created), now
            )

    def _reply(
        self, session: AsyncSession, notice: Notice, message: Message, now: datetime
    ) -> None:
        outbox.enqueue(
            session,
            workspace_id=notice.workspace_id,
            kind=outbox.THREAD_REPLY,
            key=outbox.new_key(f"notice:{notice.id}:reply"),
            order_key=notice_order(notice.id),
            target=notice.channel,
            payload={"notice_id": notice.id, **message.to_dict()},
            now=now,
        )

    def _dm(
        self,
        session: AsyncSession,
        workspace_id: str,
        user_id: str,
        message: Message,
        now: datetime,
    ) -> None:
        outbox.enqueue(
            session,
            workspace_id=workspace_id,
            kind=outbox.MESSAGE,
            key=outbox.new_key(f"dm:{user_id}"),
            order_key=f"dm:{user_id}",
            target=user_id,
            payload={"channel": user_id, **message.to_dict()},
            now=now,
        )


def who(attempt: ConnectAttempt) -> str:
    """Who is connecting: the API key that made the link (its ``user_id`` is only told), or
    the Slack user who asked for it."""
    return attempt.actor or attempt.user_id or "unknown"
