"""The process's Prometheus metrics, in a registry of its own (no global state).

Counters count what this process did (renewals, deliveries, API errors); gauges that describe
the whole service (sources by status, the outbox's backlog) are read from the database when
``/metrics`` is scraped, so every replica reports the same totals for them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A scan of a few sources takes well under a second; one of 100,000 takes minutes.
SCAN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sources = Gauge(
            "sources_bot_sources",
            "Sources by network and status",
            ["network", "status"],
            registry=r,
        )
        self.renewals = Counter(
            "sources_bot_renewals",
            "Renewal attempts by network and outcome (renewed, transient, final, held, not_due)",
            ["network", "outcome"],
            registry=r,
        )
        self.slack_sent = Counter(
            "sources_bot_slack_sent",
            "Slack messages delivered from the outbox by kind (notice, notice_update, reply, "
            "message, digest)",
            ["kind"],
            registry=r,
        )
        self.slack_errors = Counter(
            "sources_bot_slack_api_errors",
            "Slack Web API calls that failed, by Slack's error code or the kind of failure",
            ["error"],
            registry=r,
        )
        self.network_errors = Counter(
            "sources_bot_network_api_errors",
            "Network calls that failed, by network and kind (transient, rejected)",
            ["network", "kind"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "sources_bot_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retrying, failed)",
            ["outcome"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "sources_bot_outbox_pending", "Outbox rows waiting to be delivered", registry=r
        )
        self.outbox_failing = Gauge(
            "sources_bot_outbox_failing",
            "Outbox rows failed for good, or pending after a failed try",
            registry=r,
        )
        self.outbox_oldest_pending = Gauge(
            "sources_bot_outbox_oldest_pending_seconds",
            "Age of the oldest outbox row still pending (0 when none is)",
            registry=r,
        )
        self.scan_duration = Histogram(
            "sources_bot_scan_duration_seconds",
            "Duration of scans",
            buckets=SCAN_BUCKETS,
            registry=r,
        )
