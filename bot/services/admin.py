"""What the operator's commands for API keys and webhooks share: one error, one check."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Workspace


class AdminError(ValueError):
    """An operator's request cannot be done as asked; the message says why, without secrets."""


async def require_workspace(session: AsyncSession, workspace_id: str) -> None:
    """Refuse a workspace the bot does not know, naming the ones it knows (a typo in a team
    id would otherwise create keys or webhooks nothing ever uses)."""
    if await session.get(Workspace, workspace_id) is not None:
        return
    known = (await session.scalars(select(Workspace.id).order_by(Workspace.id))).all()
    listed = ", ".join(known) if known else "none yet: the bot learns a workspace when it is used"
    raise AdminError(f"the bot does not know the workspace {workspace_id!r} (known: {listed})")
