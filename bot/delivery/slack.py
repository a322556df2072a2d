"""The Slack sender: notices, their updates and thread replies, messages and DMs, digests.

Each row is sent with its workspace's own token. What a notice says is rendered when it is
sent, from the database as it is then, so a notice posted late already shows what was
restored meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Executable, and_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks import Message
from bot.delivery import outbox
from bot.delivery.dispatcher import DeliveryError, RetrySchedule
from bot.delivery.outbox import Candidate, Claimed, Outbox
from bot.delivery.pacing import Pacer
from bot.slack_api import ALL_WORKSPACES, SlackClients, SlackGateway, SlackUnavailable
from bot.store.models import DigestRun, Notice, OutboxMessage

log = logging.getLogger(__name__)

SLACK_RETRIES = RetrySchedule(
    delays=[
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
    ],
    give_up_after=timedelta(hours=24),
)


@dataclass(frozen=True)
class RenderedNotice:
    channel: str
    ts: str | None
    message: Message


NoticeRenderer = Callable[[int], Awaitable[RenderedNotice | None]]


# The Web API method each kind of row calls: a rate limit holds the rows of one method.
METHODS = {
    outbox.NOTICE_POST: "chat.postMessage",
    outbox.THREAD_REPLY: "chat.postMessage",
    outbox.MESSAGE: "chat.postMessage",
    outbox.DIGEST: "chat.postMessage",
    outbox.NOTICE_UPDATE: "chat.update",
}
# Kinds that post a message: Slack takes about one per second per channel.
POSTS = frozenset(kind for kind, method in METHODS.items() if method == "chat.postMessage")


class SlackSender:
    kinds = frozenset(
        {
            outbox.NOTICE_POST,
            outbox.NOTICE_UPDATE,
            outbox.THREAD_REPLY,
            outbox.MESSAGE,
            outbox.DIGEST,
        }
    )
    schedule = SLACK_RETRIES

    def __init__(
        self,
        clients: SlackClients,
        render_notice: NoticeRenderer,
        db: async_sessionmaker[AsyncSession],
        box: Outbox,
        channel_interval: float = 1.0,
    ) -> None:
        self.clients = clients
        self.render_notice = render_notice
        self.db = db
        self.outbox = box
        self.pacer: Pacer | None = Pacer(channel_interval) if channel_interval > 0 else None

    def lane(self, row: Candidate) -> str | None:
        """Posts to one channel (or person) with one token share a lane; edits do not."""
        if row.kind not in POSTS or row.target is None:
            return None
        return f"{self.clients.rate_scope(row.workspace_id)}:{row.target}"

    async def deliver(self, row: Claimed) -> None:
        payload = row.payload
        try:
            slack = await self.clients.for_workspace(row.workspace_id)
            if row.kind == outbox.NOTICE_POST:
                await self._post_notice(row, slack)
            elif row.kind == outbox.NOTICE_UPDATE:
                await self._update_notice(row, slack)
            elif row.kind == outbox.THREAD_REPLY:
                await self._reply(row, slack)
            elif row.kind == outbox.MESSAGE:
                ts = await slack.post(payload["channel"], _message(payload), delivery_key=row.key)
                await self._done(row, {"ts": ts}, payload["channel"])
            elif row.kind == outbox.DIGEST:
                ts = await slack.post(payload["channel"], _message(payload), delivery_key=row.key)
                posted = (
                    update(DigestRun)
                    .where(DigestRun.id == payload["run_id"])
                    .values(posted_at=self.outbox.clock.now(), channel=payload["channel"], ts=ts)
                )
                await self._done(row, {"ts": ts}, payload["channel"], posted)
        except SlackUnavailable as err:
            held = None
            if err.reason == "ratelimited" and err.retry_after is not None:
                held = self._behind_same_limit(row)
            raise DeliveryError(
                _words(err.reason),
                permanent=err.permanent,
                retry_after=err.retry_after,
                held=held,
            ) from err

    def _behind_same_limit(self, row: Claimed) -> ColumnElement[bool]:
        """The rows a rate limit on ``row``'s send holds too: the same method, with the same
        token. Slack does not say whether a channel's limit or the method's refused, so the
        wider is assumed; the pacer keeps channels within theirs."""
        method = METHODS[row.kind]
        rows = OutboxMessage.kind.in_(sorted(k for k, m in METHODS.items() if m == method))
        scope = self.clients.rate_scope(row.workspace_id)
        if scope == ALL_WORKSPACES:
            return rows
        return and_(rows, OutboxMessage.workspace_id == scope)

    async def gave_up(self, row: Claimed, error: DeliveryError) -> None:
        log.warning(
            "Slack %s for workspace %s to %s given up: %s",
            row.kind,
            row.workspace_id,
            row.target,
            error.reason,
        )

    async def _post_notice(self, row: Claimed, slack: SlackGateway) -> None:
        notice = await self._notice(row)
        if notice.ts is not None:  # posted by an earlier try whose record was lost
            await self._done(row, {"ts": notice.ts}, notice.channel)
            return
        ts = await slack.post(notice.channel, notice.message, delivery_key=row.key)
        posted = (
            update(Notice)
            .where(Notice.id == row.payload["notice_id"])
            .values(ts=ts, posted_at=self.outbox.clock.now())
        )
        await self._done(row, {"ts": ts}, notice.channel, posted)

    async def _update_notice(self, row: Claimed, slack: SlackGateway) -> None:
        notice = await self._notice(row)
        ts = _posted(notice)
        await slack.update(notice.channel, ts, notice.message)
        await self._done(row, None, notice.channel)

    async def _reply(self, row: Claimed, slack: SlackGateway) -> None:
        notice = await self._notice(row)
        ts = await slack.post(notice.channel, _message(row.payload), _posted(notice), row.key)
        await self._done(row, {"ts": ts}, notice.channel)

    async def _notice(self, row: Claimed) -> RenderedNotice:
        notice = await self.render_notice(int(row.payload["notice_id"]))
        if notice is None:
            raise DeliveryError("the notice no longer exists", permanent=True)
        return notice

    async def _done(
        self,
        row: Claimed,
        result: dict[str, str] | None,
        target: str,
        effect: Executable | None = None,
    ) -> None:
        """Record the delivery, with ``effect`` (the message's ts where it is kept), in a
        commit shared with other deliveries (:meth:`Outbox.record`)."""

        async def write(session: AsyncSession) -> None:
            if effect is not None:
                await session.execute(effect)
            if not await self.outbox.delivered(session, row, result, target):
                log.warning("delivery %s finished after its lease ran out", row.id)

        await self.outbox.record(write)


def _posted(notice: RenderedNotice) -> str:
    """The notice's ts. Rows of one notice share an order key, so its post was tried first;
    if it has no ts, the post failed for good and what belongs in its thread fails with it."""
    if notice.ts is None:
        raise DeliveryError("its notice could not be posted", permanent=True)
    return notice.ts


def _message(payload: dict[str, object]) -> Message:
    blocks = payload.get("blocks") or []
    assert isinstance(blocks, list)
    return Message(text=str(payload.get("text", "")), blocks=blocks)


# Slack's error codes in words a person can act on; the code itself stays in the log.
SLACK_REASONS = {
    "not_in_channel": "the bot is not in the channel. Invite it or choose another channel",
    "channel_not_found": "the channel was not found (deleted, or private without the bot). "
    "Choose another channel",
    "is_archived": "the channel is archived. Choose another channel",
    "invalid_auth": "Slack refused the bot's token. Reinstall the app",
    "not_authed": "Slack refused the bot's token. Reinstall the app",
    "account_inactive": "the bot's Slack account is inactive. Reinstall the app",
    "token_revoked": "the bot's token was revoked. Reinstall the app",
    "token_expired": "the bot's token expired. Reinstall the app",
    "missing_scope": "the app lacks a permission. Reinstall it from the manifest",
    "ratelimited": "Slack asked us to slow down",
    "uninstalled": "the app was uninstalled from this workspace",
    "not_installed": "the app is not installed in this workspace. Install it again",
    "invalid_refresh_token": "Slack refused to renew the bot's token. Reinstall the app",
    "invalid_grant": "Slack refused to renew the bot's token. Reinstall the app",
}


def _words(reason: str) -> str:
    return SLACK_REASONS.get(reason, f"Slack answered “{reason}”")
