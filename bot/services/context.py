"""What every service needs: settings, time, the database, the cipher, networks, Slack, the
event log and the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.crypto import TokenCipher
from bot.delivery.outbox import Outbox
from bot.metrics import Metrics
from bot.networks import Catalogue, Network
from bot.oauth.client import OAuthClient
from bot.oauth.transport import SharedTransport
from bot.services.events import EventLog
from bot.services.leases import LeaseClock
from bot.slack_api import SlackClients, SlackGateway


@dataclass(frozen=True)
class Context:
    settings: Settings
    clock: Clock
    db: async_sessionmaker[AsyncSession]  # sessions that write (SQLite: BEGIN IMMEDIATE)
    read: async_sessionmaker[AsyncSession]  # sessions that only read; never the write lock
    cipher: TokenCipher
    catalogue: Catalogue
    # The app's client (with Slack's own retries): Bolt copies it into each request's client,
    # which listeners answer with. It holds SLACK_BOT_TOKEN in bot-token mode, no token in
    # install mode: a workspace's client comes from slack_clients.
    slack: SlackGateway
    slack_clients: SlackClients  # per workspace (the outbox's sends; the outbox retries)
    events: EventLog
    outbox: Outbox
    leases: LeaseClock  # times leases: the database's clock in production (see leases.py)
    network_transport: SharedTransport  # the networks' connections, shared by every call
    metrics: Metrics

    def oauth(self, network: Network, pages: bool = False) -> OAuthClient:
        """``network``'s OAuth client, on the bot's redirect URI for it; the client counts
        its failures in :attr:`metrics`."""
        return OAuthClient(
            network,
            self.settings.redirect_uri(network.name),
            pages,
            transport=self.network_transport,
            metrics=self.metrics,
        )
