"""Reading sources and saving new connections to them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import status
from bot.blocks.sources import capacity
from bot.domain import Identity, LastError, Listing, SourceInfo, Status, TokenSet
from bot.networks import Network
from bot.services.context import Context
from bot.services.events import EventType
from bot.services.workspace_settings import resolve
from bot.status import (
    STANDING,
    display_order_sql,
    effective_status,
    status_params,
    status_sql,
)
from bot.store.models import Credential, Source, Workspace


class SourceFields(Protocol):
    """What :meth:`SourceService.info` reads: a Source, or a row of :data:`LISTED` columns."""

    @property
    def id(self) -> int: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def network(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> dict[str, Any] | None: ...
    @property
    def restored_at(self) -> datetime | None: ...
    @property
    def restored_by(self) -> str | None: ...
    @property
    def connected_by(self) -> str | None: ...
    @property
    def connected_as(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def renewable(self) -> bool: ...


# The columns a listing needs: rows of these cost a fraction of whole ORM objects, which
# matters for `/sources` and the App Home, read on every request.
LISTED = (
    Source.id,
    Source.workspace_id,
    Source.network,
    Source.account_id,
    Source.name,
    Source.status,
    Source.expires_at,
    Source.last_error,
    Source.restored_at,
    Source.restored_by,
    Source.connected_by,
    Source.connected_as,
    Source.kind,
    Source.renewable,
)


class SourceService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        configured = ctx.catalogue.configured()
        self._listings = {
            (by_network, only_broken): listing_statements(configured, by_network, only_broken)
            for by_network in (False, True)
            for only_broken in (False, True)
        }

    async def list(
        self, workspace_id: str, network: str | None = None, only_broken: bool = False
    ) -> list[SourceInfo]:
        """A workspace's sources, as of now (expiring by the workspace's warning days)."""
        query = (
            select(*LISTED)
            .where(Source.workspace_id == workspace_id)
            .order_by(Source.network, Source.name, Source.id)
        )
        if network is not None:
            query = query.where(Source.network == network)
        async with self.ctx.read() as session:
            rows: Sequence[SourceFields] = (await session.execute(query)).all()
            days = await warning_days(session, self.ctx, workspace_id)
        now = self.ctx.clock.now()
        infos = [source_info(self.ctx, row, now, days) for row in rows]
        if only_broken:
            infos = [info for info in infos if info.status.needs_reconnect]
        return infos

    async def everywhere(self) -> Sequence[SourceInfo]:
        """Every workspace's sources, for the operator's `sources list`."""
        async with self.ctx.read() as session:
            ids = (await session.scalars(select(Workspace.id).order_by(Workspace.id))).all()
        return [info for workspace_id in ids for info in await self.list(workspace_id)]

    async def listing(
        self,
        workspace_id: str,
        max_blocks: int,
        network: str | None = None,
        only_broken: bool = False,
    ) -> Listing:
        """What a view of ``max_blocks`` blocks shows of a workspace's sources: the head of
        the display order, as many as it can show at most, and counts of them all.

        The database applies the status rule, counts and orders; only the head is read (a
        second read follows when few sources need someone and healthy ones, several to a
        block, may fill the view).
        """
        now = self.ctx.clock.now()
        counts, head = self._listings[(network is not None, only_broken)]
        params: dict[str, Any] = {"workspace_id": workspace_id, "network": network}
        async with self.ctx.read() as session:
            days = await warning_days(session, self.ctx, workspace_id)
            # Core rows, not ORM objects: this is read on every /sources and App Home.
            connection = await session.connection()
            params |= status_params(now, days)
            found = (await connection.execute(counts, params)).all()
            by_status = {Status(status): count for status, count in found}
            broken = sum(n for status, n in by_status.items() if status.needs_reconnect)
            expiring = by_status.get(Status.EXPIRING, 0)
            total = sum(by_status.values())
            wanted = min(total, capacity(max_blocks, broken, expiring))
            rows = (await connection.execute(head, {**params, "limit": wanted})).all()
        first = [source_info(self.ctx, row, now, days, Status(row.shown)) for row in rows]
        return Listing(first=first, total=total, broken=broken)

    async def remove(self, source_id: int, actor: str) -> SourceInfo | None:
        """Delete a source with its tokens; its events stay. None when there is no such source."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            source = await session.get(Source, source_id)
            if source is None:
                return None
            info = await describe(session, self.ctx, source, now)
            await record_event(session, self.ctx, EventType.REMOVED, source, actor, now)
            # The database's ON DELETE CASCADE takes its credentials, notice items, attempts.
            await session.execute(delete(Source).where(Source.id == source_id))
        return info

    async def get(self, workspace_id: str, source_id: int) -> SourceInfo | None:
        """The workspace's source ``source_id``; None if there is none in that workspace."""
        async with self.ctx.read() as session:
            source = await session.get(Source, source_id)
            if source is None or source.workspace_id != workspace_id:
                return None
            return await describe(session, self.ctx, source, self.ctx.clock.now())


def listing_statements(
    configured: Collection[str], by_network: bool, only_broken: bool
) -> tuple[Select[str, int], Select[Any]]:
    """The counts by status and the head of a listing, built once: the workspace, network,
    time, warning days and how many to read are parameters."""
    status = status_sql(Source, configured)
    matching = [Source.workspace_id == bindparam("workspace_id")]
    if by_network:
        matching.append(Source.network == bindparam("network"))
    if only_broken:
        matching.append(status.in_(STANDING))
    shown = status.label("shown")
    counts = select(shown, func.count()).where(*matching).group_by(shown)
    head: Select[Any] = (
        select(*LISTED, shown)
        .where(*matching)
        .order_by(*display_order_sql(Source, status))
        .limit(bindparam("limit"))
    )
    return counts, head


async def warning_days(session: AsyncSession, ctx: Context, workspace_id: str) -> tuple[int, ...]:
    """The workspace's warning days: what "expiring soon" means there."""
    return resolve(await session.get(Workspace, workspace_id), ctx.settings).warning_days


async def describe(
    session: AsyncSession, ctx: Context, source: Source, now: datetime
) -> SourceInfo:
    """:func:`source_info` with the source's workspace's warning days, read in ``session``."""
    return source_info(ctx, source, now, await warning_days(session, ctx, source.workspace_id))


def source_info(
    ctx: Context,
    source: SourceFields,
    now: datetime,
    warning_days: tuple[int, ...],
    shown: Status | None = None,
) -> SourceInfo:
    """A source as people and the API see it, with its status as of ``now``; it counts as
    expiring within the largest of its workspace's ``warning_days`` (``shown``: its status,
    when the database applied the rule already)."""
    network = ctx.catalogue.get(source.network)
    renews = renews_by_itself(source, network)
    renews_at = None
    if renews and source.expires_at is not None and network is not None:
        renews_at = source.expires_at - network.renew_before
    return SourceInfo(
        id=source.id,
        workspace_id=source.workspace_id,
        network=source.network,
        network_title=ctx.catalogue.title(source.network),
        account_id=source.account_id,
        name=source.name,
        status=shown
        or effective_status(source.status, source.expires_at, now, warning_days, renews),
        expires_at=source.expires_at,
        last_error=LastError.from_json(source.last_error),
        restored_at=source.restored_at,
        restored_by=source.restored_by,
        connected_by=source.connected_by,
        connected_as=source.connected_as,
        kind=source.kind,
        renews_at=renews_at,
    )


def source_json(info: SourceInfo) -> dict[str, Any]:
    """The one JSON shape of a source: `sources list --json`, the API and webhook bodies."""
    return {
        "id": info.id,
        "workspace": info.workspace_id,
        "network": info.network,
        "account_id": info.account_id,
        "name": info.name,
        "kind": info.kind,
        "status": str(info.status),
        "expires_at": _iso(info.expires_at),
        "last_error": info.last_error.to_json() if info.last_error else None,
        "connected_by": info.connected_by,
        "renews_by_itself": info.renews_at is not None,
        "next_renewal_at": _iso(info.renews_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def record_event(
    session: AsyncSession,
    ctx: Context,
    type: EventType,
    source: Source,
    actor: str,
    now: datetime,
    **payload: Any,
) -> None:
    """Append ``type`` for ``source`` to the session's transaction, with the source as it is
    after the change (flushed first so the shape is current)."""
    await session.flush()
    await ctx.events.append(
        session,
        type=type,
        workspace_id=source.workspace_id,
        source_id=source.id,
        source_json=source_json(await describe(session, ctx, source, now)),
        actor=actor,
        payload=payload,
        now=now,
    )


def renews_by_itself(source: SourceFields, network: Network | None) -> bool:
    """Its tokens can be renewed, and the operator configured the app that renews them."""
    configured = {network.name} if network is not None and network.configured else set()
    return status.renews_by_itself(source.renewable, source.network, configured)


def add_credential(
    session: AsyncSession, ctx: Context, source: Source, tokens: TokenSet, now: datetime
) -> None:
    """Store ``tokens``, encrypted, as the newest credential; older ones stay as history."""
    session.add(Credential(**credential_row(ctx, source.id, tokens, now)))


def credential_row(ctx: Context, source_id: int, tokens: TokenSet, now: datetime) -> dict[str, Any]:
    """The column values of a credential holding ``tokens``, encrypted."""
    return {
        "source_id": source_id,
        "access_token": ctx.cipher.encrypt(tokens.access_token),
        "refresh_token": ctx.cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
        "scopes": tokens.scopes,
        "expires_at": tokens.expires_at,
        "created_at": now,
    }


def mark_connected(
    source: Source,
    network: Network | None,
    tokens: TokenSet,
    now: datetime,
    user_id: str | None = None,
    connected_as: str | None = None,
) -> None:
    """A fresh credential makes the source active and ends any failure streak.

    It counts as restored (for the digest) when the source had stopped or was about to.
    """
    was_down = source.status != Status.ACTIVE or (
        source.expires_at is not None and source.expires_at <= now
    )
    if source.status != Status.ACTIVE:
        source.status_changed_at = now
    if user_id and was_down:
        source.restored_at = now
        source.restored_by = user_id
    source.status = Status.ACTIVE
    source.expires_at = tokens.expires_at
    source.renewable = bool(
        network is not None
        and tokens.expires_at is not None
        and network.can_renew(tokens.refresh_token is not None)
    )
    source.last_error = None
    source.failures = 0
    source.failing_since = None
    source.next_attempt_at = None
    source.updated_at = now
    if user_id:
        source.connected_by = user_id
    if connected_as:
        source.connected_as = connected_as


async def upsert_source(
    session: AsyncSession,
    workspace_id: str,
    network: str,
    identity: Identity,
    now: datetime,
    kind: str = "account",
) -> tuple[Source, bool]:
    """The source for this account (created when new); True when it was created."""
    source = await session.scalar(
        select(Source).where(
            Source.workspace_id == workspace_id,
            Source.network == network,
            Source.account_id == identity.account_id,
        )
    )
    if source is not None:
        source.name = identity.name
        return source, False
    source = new_source(workspace_id, network, identity, now, kind)
    session.add(source)
    await session.flush()
    return source, True


def new_source(
    workspace_id: str, network: str, identity: Identity, now: datetime, kind: str = "account"
) -> Source:
    """A source row for an account seen for the first time (not yet added to a session)."""
    return Source(
        workspace_id=workspace_id,
        network=network,
        account_id=identity.account_id,
        name=identity.name,
        kind=kind,
        status=Status.ACTIVE,
        episode=0,
        failures=0,
        renewable=False,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )


async def current_credential(session: AsyncSession, source_id: int) -> Credential | None:
    return await session.scalar(
        select(Credential)
        .where(Credential.source_id == source_id)
        .order_by(Credential.id.desc())
        .limit(1)
    )


def decrypt(ctx: Context, credential: Credential) -> TokenSet:
    return TokenSet(
        access_token=ctx.cipher.decrypt(credential.access_token),
        refresh_token=ctx.cipher.decrypt(credential.refresh_token)
        if credential.refresh_token
        else None,
        expires_at=credential.expires_at,
        scopes=credential.scopes,
    )
