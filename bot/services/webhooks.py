"""Webhook endpoints: where a workspace's events are delivered, and what became of each try.

The event log queues one delivery per event and subscribed endpoint (in the event's
transaction); the webhook sender delivers it and reports each attempt here. An endpoint
that answers 410 Gone, or keeps failing for :data:`DISABLE_AFTER`, is disabled: its pending
deliveries stop, the App Home shows it, and the workspace's notice channel is told once.
"""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.webhooks import webhook_disabled_message
from bot.delivery import outbox
from bot.delivery.outbox import Claimed
from bot.delivery.webhooks import Attempt, Endpoint
from bot.domain import WebhookEndpointInfo
from bot.services.admin import AdminError, require_workspace
from bot.services.context import Context
from bot.services.events import EVENT_TYPES
from bot.services.workspaces import WorkspaceService
from bot.store.models import OutboxMessage, WebhookAttempt, WebhookEndpoint, Workspace

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SECRET_BYTES = 32
URL_LIMIT = 2000
DISABLE_AFTER = timedelta(days=3)
GONE = "it answered 410 Gone"


@dataclass(frozen=True)
class NewEndpoint:
    info: WebhookEndpointInfo
    secret: str = field(repr=False)  # shown once; stored encrypted


@dataclass(frozen=True)
class DeliveryInfo:
    """One delivery (an outbox row) of one event to one endpoint, and its latest attempt."""

    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str  # pending, retrying, delivered, failed, dropped
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    last_status_code: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": _iso(self.next_attempt_at),
            "delivered_at": _iso(self.delivered_at),
            "last_error": self.last_error,
            "last_status_code": self.last_status_code,
        }


def endpoint_json(info: WebhookEndpointInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "workspace": info.workspace_id,
        "url": info.url,
        "events": list(info.event_types) if info.event_types is not None else None,
        "created_at": info.created_at.isoformat(),
        "failing_since": _iso(info.failing_since),
        "disabled_at": _iso(info.disabled_at),
        "disabled_reason": info.disabled_reason,
    }


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials in it; AdminError says what is wrong."""
    url = url.strip()
    if len(url) > URL_LIMIT:
        raise AdminError(f"the URL is longer than {URL_LIMIT} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as err:
        raise AdminError("the URL is not a valid URL") from err
    if parts.scheme not in ("http", "https"):
        raise AdminError("only http:// and https:// URLs can receive webhooks")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise AdminError(
            "the URL has credentials in it; webhooks are signed instead (verify "
            "webhook-signature with the secret printed by `webhooks add`)"
        )
    if not parts.hostname:
        raise AdminError("the URL has no host")
    if any(c.isspace() for c in url):
        raise AdminError("the URL contains spaces")
    return url


def check_event_types(names: list[str] | None) -> tuple[str, ...] | None:
    """The event types asked for (None: all); AdminError names any unknown one."""
    if names is None:
        return None
    wanted = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise AdminError("--events lists no event type; leave it out to receive every event")
    unknown = [name for name in wanted if name not in EVENT_TYPES]
    if unknown:
        raise AdminError(
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return wanted


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class WebhookService:
    def __init__(self, ctx: Context, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.workspaces = workspaces

    # --- what operators do -------------------------------------------------------------------

    async def add(
        self, workspace_id: str, url: str, event_types: list[str] | None = None
    ) -> NewEndpoint:
        """A new endpoint; its signing secret is in the result and stored only encrypted."""
        url = check_url(url)
        types = check_event_types(event_types)
        secret = new_secret()
        async with self.ctx.db.begin() as session:
            await require_workspace(session, workspace_id)
            row = WebhookEndpoint(
                workspace_id=workspace_id,
                url=url,
                secret=self.ctx.cipher.encrypt(secret),
                event_types=list(types) if types is not None else None,
                created_at=self.ctx.clock.now(),
            )
            session.add(row)
            await session.flush()
            info = _info(row)
        return NewEndpoint(info=info, secret=secret)

    async def endpoints(self, workspace_id: str | None = None) -> list[WebhookEndpointInfo]:
        """Endpoints not removed, oldest first."""
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.removed_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
        if workspace_id is not None:
            query = query.where(WebhookEndpoint.workspace_id == workspace_id)
        async with self.ctx.read() as session:
            return [_info(row) for row in (await session.scalars(query)).all()]

    async def disabled_endpoints(self, workspace_id: str) -> list[WebhookEndpointInfo]:
        """The workspace's endpoints that no longer receive events, each with the reason
        (``disabled_reason``) and time (``disabled_at``): for the App Home."""
        async with self.ctx.read() as session:
            rows = (
                await session.scalars(
                    select(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.workspace_id == workspace_id,
                        WebhookEndpoint.removed_at.is_(None),
                        WebhookEndpoint.disabled_at.is_not(None),
                    )
                    .order_by(WebhookEndpoint.id)
                )
            ).all()
        return [_info(row) for row in rows]

    async def remove(self, endpoint_id: int) -> WebhookEndpointInfo:
        """Stop delivering to an endpoint; its pending deliveries are dropped."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            row = await self._existing(session, endpoint_id)
            row.removed_at = now
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.target == _target(endpoint_id),
                    OutboxMessage.status == outbox.PENDING,
                )
                .values(status=outbox.DROPPED, last_error="the endpoint was removed")
            )
            return _info(row)

    async def enable(self, endpoint_id: int) -> WebhookEndpointInfo:
        """Deliver to a disabled endpoint again (new events; redeliver what it missed)."""
        async with self.ctx.db.begin() as session:
            row = await self._existing(session, endpoint_id)
            row.disabled_at = None
            row.disabled_reason = None
            row.failing_since = None
            return _info(row)

    async def deliveries(
        self, *, failed: bool = False, limit: int = 20, workspace_id: str | None = None
    ) -> list[DeliveryInfo]:
        """Webhook deliveries, newest first; ``failed``: given up, or retrying after a failure."""
        last_status = (
            select(WebhookAttempt.status_code)
            .where(WebhookAttempt.outbox_id == OutboxMessage.id)
            .order_by(WebhookAttempt.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (
            select(OutboxMessage, last_status)
            .where(OutboxMessage.kind == outbox.WEBHOOK)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        if failed:
            query = query.where(
                or_(
                    OutboxMessage.status == outbox.FAILED,
                    and_(
                        OutboxMessage.status == outbox.PENDING,
                        OutboxMessage.last_error.is_not(None),
                    ),
                )
            )
        if workspace_id is not None:
            query = query.where(OutboxMessage.workspace_id == workspace_id)
        async with self.ctx.read() as session:
            rows = (await session.execute(query)).all()
        return [_delivery(row, status) for row, status in rows]

    async def attempts(self, delivery_id: int) -> list[Attempt]:
        async with self.ctx.read() as session:
            rows = (
                await session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.outbox_id == delivery_id)
                    .order_by(WebhookAttempt.id)
                )
            ).all()
        return [
            Attempt(
                at=row.attempted_at,
                duration_ms=row.duration_ms,
                status_code=row.status_code,
                response=row.response,
                error=row.error,
            )
            for row in rows
        ]

    async def redeliver(self, delivery_id: int) -> DeliveryInfo:
        """Queue the delivery's event again, with the same ``webhook-id`` (the event's id)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            original = await session.get(OutboxMessage, delivery_id)
            if original is None or original.kind != outbox.WEBHOOK:
                raise AdminError(f"there is no webhook delivery with id {delivery_id}")
            endpoint_id = int(original.payload["endpoint_id"])
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint.removed_at is not None:
                raise AdminError(f"webhook endpoint {endpoint_id} was removed")
            if endpoint.disabled_at is not None:
                raise AdminError(
                    f"webhook endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); "
                    f"run `sources-bot webhooks enable {endpoint_id}` first"
                )
            row = outbox.enqueue(
                session,
                workspace_id=original.workspace_id,
                kind=outbox.WEBHOOK,
                key=f"{original.key}:again:{uuid.uuid4().hex}",
                order_key=original.order_key,
                target=original.target,
                payload=dict(original.payload),
                now=now,
            )
            await session.flush()
            return _delivery(row, None)

    async def _existing(self, session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
        row = await session.get(WebhookEndpoint, endpoint_id)
        if row is None or row.removed_at is not None:
            raise AdminError(f"there is no webhook endpoint with id {endpoint_id}")
        return row

    # --- what the sender reports (bot.delivery.webhooks.WebhookBook) -------------------------

    async def endpoint(self, endpoint_id: int) -> Endpoint | None:
        async with self.ctx.read() as session:
            row = await session.get(WebhookEndpoint, endpoint_id)
        if row is None:
            return None
        stopped = None
        if row.removed_at is not None:
            stopped = "the endpoint was removed"
        elif row.disabled_at is not None:
            stopped = f"the endpoint is disabled: {row.disabled_reason}"
        return Endpoint(
            id=row.id, url=row.url, secret=self.ctx.cipher.decrypt(row.secret), stopped=stopped
        )

    async def succeeded(self, row: Claimed, attempt: Attempt) -> None:
        async with self.ctx.db.begin() as session:
            session.add(_attempt_row(row, attempt))
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == int(row.payload["endpoint_id"]),
                    WebhookEndpoint.failing_since.is_not(None),
                )
                .values(failing_since=None)
            )
            if not await self.ctx.outbox.delivered(session, row, {"status": attempt.status_code}):
                log.warning("webhook delivery %s finished after its lease ran out", row.id)

    async def failed(self, row: Claimed, attempt: Attempt) -> str | None:
        endpoint_id = int(row.payload["endpoint_id"])
        async with self.ctx.db.begin() as session:
            session.add(_attempt_row(row, attempt))
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, attempt.at))
            )
            failing_since = await session.scalar(
                select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id)
            )
            reason = None
            if attempt.status_code == 410:
                reason = GONE
            elif failing_since is not None and attempt.at - failing_since >= DISABLE_AFTER:
                reason = f"it kept failing for {DISABLE_AFTER.days} days ({attempt.reason})"
            if reason is None:
                return None
            await self._disable(session, endpoint_id, reason, attempt.at)
            return reason

    async def _disable(
        self, session: AsyncSession, endpoint_id: int, reason: str, now: datetime
    ) -> None:
        """Disable the endpoint and stop its pending deliveries; the first to disable it
        (concurrent failures may race) tells the workspace, once."""
        done = await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
            .values(disabled_at=now, disabled_reason=reason)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.target == _target(endpoint_id),
                OutboxMessage.status == outbox.PENDING,
            )
            .values(status=outbox.FAILED, last_error=f"the endpoint was disabled: {reason}"[:500])
        )
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        log.warning(
            "webhook endpoint %s of workspace %s disabled: %s",
            endpoint_id,
            endpoint.workspace_id,
            reason,
        )
        workspace = await session.get(Workspace, endpoint.workspace_id)
        channel = self.workspaces.settings(workspace).notify_channel if workspace else None
        if channel is None:
            return  # the App Home still shows it
        message = webhook_disabled_message(_info(endpoint))
        outbox.enqueue(
            session,
            workspace_id=endpoint.workspace_id,
            kind=outbox.MESSAGE,
            key=f"webhook-disabled:{endpoint_id}:{now.isoformat()}",
            order_key=f"webhook-disabled:{endpoint_id}",
            target=channel,
            payload={"channel": channel, **message.to_dict()},
            now=now,
        )


def _target(endpoint_id: int) -> str:
    return f"webhook:{endpoint_id}"  # as the event log sets it


def _info(row: WebhookEndpoint) -> WebhookEndpointInfo:
    return WebhookEndpointInfo(
        id=row.id,
        workspace_id=row.workspace_id,
        url=row.url,
        event_types=tuple(row.event_types) if row.event_types is not None else None,
        created_at=row.created_at,
        failing_since=row.failing_since,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
    )


def _attempt_row(row: Claimed, attempt: Attempt) -> WebhookAttempt:
    return WebhookAttempt(
        outbox_id=row.id,
        attempted_at=attempt.at,
        status_code=attempt.status_code,
        duration_ms=attempt.duration_ms,
        response=attempt.response,
        error=attempt.error[:300] if attempt.error else None,
    )


def _delivery(row: OutboxMessage, last_status: int | None) -> DeliveryInfo:
    status = row.status
    if status == outbox.PENDING and row.last_error is not None:
        status = "retrying"
    return DeliveryInfo(
        id=row.id,
        endpoint_id=int(row.payload["endpoint_id"]),
        event_id=str(row.payload["event_id"]),
        event_type=str(row.payload["body"]["type"]),
        status=status,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.status == outbox.PENDING else None,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        last_status_code=last_status,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
