"""The domain services, wired together once per process by :func:`build_services`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.delivery.dispatcher import Dispatcher, Doorbell
from bot.delivery.slack import SlackSender
from bot.delivery.webhooks import WebhookSender
from bot.services.api_keys import ApiKeyService
from bot.services.connect import ConnectService
from bot.services.context import Context
from bot.services.digest import DigestService
from bot.services.history import HistoryService
from bot.services.home import HomeService
from bot.services.installs import InstallService
from bot.services.links import LinkService
from bot.services.notices import NoticeService
from bot.services.page_offers import PageOfferService
from bot.services.renewal import RenewalService
from bot.services.roles import RoleService
from bot.services.scan import ScanService
from bot.services.settings import SettingsService
from bot.services.sources import SourceService
from bot.services.tokens import TokenService
from bot.services.webhooks import WebhookService
from bot.services.workflow import WorkflowService
from bot.services.workspaces import WorkspaceService


@dataclass(frozen=True)
class Services:
    ctx: Context
    workspaces: WorkspaceService
    sources: SourceService
    notices: NoticeService
    links: LinkService
    connect: ConnectService
    renewal: RenewalService
    scan: ScanService
    digest: DigestService
    home: HomeService
    history: HistoryService
    offers: PageOfferService
    tokens: TokenService
    roles: RoleService
    settings: SettingsService
    installs: InstallService
    dispatcher: Dispatcher
    api_keys: ApiKeyService
    webhooks: WebhookService
    webhook_sender: WebhookSender
    workflow: WorkflowService

    async def aclose(self) -> None:
        """Close what the services hold open (the webhook sender's and the networks'
        connections)."""
        await self.webhook_sender.aclose()
        await self.ctx.network_transport.close()


def build_services(ctx: Context, doorbell: Doorbell | None = None) -> Services:
    workspaces = WorkspaceService(ctx)
    sources = SourceService(ctx)
    notices = NoticeService(ctx, sources, workspaces)
    renewal = RenewalService(ctx)
    links = LinkService(ctx, sources, notices)
    roles = RoleService(ctx, workspaces)
    offers = PageOfferService(ctx)
    dispatcher = Dispatcher(ctx.outbox, ctx.clock, doorbell)
    dispatcher.add(
        SlackSender(
            ctx.slack_clients,
            notices.render_for_delivery,
            ctx.db,
            ctx.outbox,
            ctx.metrics,
            ctx.settings.slack_channel_interval,
        )
    )
    webhooks = WebhookService(ctx, workspaces)
    webhook_sender = WebhookSender(
        webhooks, ctx.clock, ctx.settings.webhook_timeout_seconds, ctx.metrics
    )
    dispatcher.add(webhook_sender)
    return Services(
        ctx=ctx,
        workspaces=workspaces,
        sources=sources,
        notices=notices,
        links=links,
        connect=ConnectService(ctx, sources, notices, offers),
        renewal=renewal,
        scan=ScanService(ctx, workspaces, notices, renewal),
        digest=DigestService(ctx, sources, workspaces),
        home=HomeService(ctx, sources, workspaces),
        history=HistoryService(ctx, sources),
        offers=offers,
        tokens=TokenService(ctx, sources, renewal, links, notices, workspaces),
        roles=roles,
        settings=SettingsService(ctx, workspaces, roles),
        installs=InstallService(ctx, workspaces),
        dispatcher=dispatcher,
        api_keys=ApiKeyService(ctx),
        webhooks=webhooks,
        webhook_sender=webhook_sender,
        workflow=WorkflowService(ctx, workspaces, roles),
    )
