"""The notice's "I'll take it" and "Remind me": each asks the role rule (in the service),
and answers the person privately; the notice itself is edited through the outbox."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.blocks.replies import short
from bot.blocks.texts import SOURCE_GONE
from bot.handlers.limit import WorkLimit
from bot.services import Services
from bot.services.notices import OpenNotice
from bot.services.roles import NotAllowed
from bot.services.workflow import WorkflowRefused


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def notice_of(body: dict[str, Any]) -> OpenNotice | None:
        container = body.get("container", {})
        if container.get("type") != "message":
            return None
        return await services.notices.notice_at(
            body["team"]["id"], container["channel_id"], container["message_ts"]
        )

    async def claim(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        value = str(action.get("value", ""))
        try:
            if not value.isdigit():
                raise WorkflowRefused(SOURCE_GONE)
            answer = await services.workflow.claim(
                team_id, user_id, int(value), await notice_of(body)
            )
        except (WorkflowRefused, NotAllowed) as refused:
            answer = str(refused)
        await tell(respond, answer)

    async def snooze(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        value = str((action.get("selected_option") or {}).get("value", ""))
        try:
            answer = await services.workflow.snooze(team_id, user_id, value, await notice_of(body))
        except (WorkflowRefused, NotAllowed) as refused:
            answer = str(refused)
        await tell(respond, answer)

    async def tell(respond: AsyncRespond, answer: str) -> None:
        message = short(answer)
        await respond(
            response_type="ephemeral",
            replace_original=False,
            text=message.text,
            blocks=message.blocks,
        )

    app.action(ids.CLAIM_SOURCE)(limit.after_ack(claim))
    app.action(ids.SNOOZE_SOURCE)(limit.after_ack(snooze))
