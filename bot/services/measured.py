"""Metrics taken at the entry points of the renewal and the scan, as decorators, so that those
services' own code stays about renewing and scanning.

:func:`counts_renewals` counts every result :meth:`RenewalService.renew` returns, whoever asked
(the scan, ``/sources renew``, the API), by the source's network and the outcome;
:func:`times_scans` observes how long each scan took, whether it finished or raised.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import select

from bot.services.context import Context
from bot.store.models import Source

P = ParamSpec("P")
UNKNOWN = "unknown"  # the network of a source deleted meanwhile


class _Service(Protocol):
    @property
    def ctx(self) -> Context: ...


class _Result(Protocol):
    @property
    def outcome(self) -> str: ...


S = TypeVar("S", bound=_Service)
R = TypeVar("R", bound=_Result)
T = TypeVar("T")


def counts_renewals(
    renew: Callable[Concatenate[S, int, P], Awaitable[R]],
) -> Callable[Concatenate[S, int, P], Awaitable[R]]:
    """``sources_bot_renewals{network, outcome}``: one per result returned."""

    @functools.wraps(renew)
    async def counted(service: S, source_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result = await renew(service, source_id, *args, **kwargs)
        ctx = service.ctx
        # The scan's leases carry the source it read: no read per renewal for the scan's
        # thousands. Anyone else's renewal reads the network (a source's never changes).
        network = getattr(getattr(kwargs.get("lease"), "source", None), "network", None)
        if network is None:
            async with ctx.read() as session:
                network = await session.scalar(select(Source.network).where(Source.id == source_id))
        ctx.metrics.renewals.labels(network=network or UNKNOWN, outcome=result.outcome).inc()
        return result

    return counted


def times_scans(
    run: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Awaitable[T]]:
    """``sources_bot_scan_duration_seconds``: one observation per scan."""

    @functools.wraps(run)
    async def timed(service: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with service.ctx.metrics.scan_duration.time():
            return await run(service, *args, **kwargs)

    return timed
