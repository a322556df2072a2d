"""The floor of bench_sources_load.py: a bare Bolt AsyncApp on the same uvicorn.

It acks `/sources` and replies to the response_url the same way the bot does (``respond``,
ephemeral) with a payload of the same shape, built once: what is left of the bot's figures
above this one is the bot's own work (database, listing, blocks).

Run by the benchmark:  PORT=... python bench/bare_bolt.py   (environment as the bot's)
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def main() -> None:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reply: dict[str, Any] = json.loads(os.environ["BENCH_REPLY"])
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    async def sources(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(response_type="ephemeral", text=reply["text"], blocks=reply["blocks"])

    bolt.command("/sources")(sources)
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None)


if __name__ == "__main__":
    main()
