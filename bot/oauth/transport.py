"""One connection pool for the networks, shared by the short-lived clients of each call.

authlib's OAuth client is an httpx2 client, and building one builds a TLS context (about 17 ms
of CPU) unless it is given a transport. The scan renews thousands of sources, so every call
of a process goes through one :class:`SharedTransport`: clients built on it are cheap, reuse
its keep-alive connections, and closing them leaves it open; the process closes it once.
"""

from __future__ import annotations

import httpx2


class SharedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that many clients use; only :meth:`close` closes it."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """A client that closes does not close the pool the others use."""

    async def close(self) -> None:
        await self._inner.aclose()
