"""HTTP routes of the connect flow: /oauth/start/{token} and /oauth/callback/{network}."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.services import Services
from bot.services.attempts import ConnectRefused, LinkProblem, Outcome, Result
from bot.web.pages import page_for

log = logging.getLogger(__name__)

BROWSER_COOKIE = "sources_bot_attempt"
COOKIE_MAX_AGE = 15 * 60

# The pages hold nothing a cache or another site should keep or frame.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def routes(services: Services) -> list[Route]:
    secure = services.ctx.settings.public_url.startswith("https://")

    async def start(request: Request) -> Response:
        try:
            url, browser = await services.links.begin(
                request.path_params["token"], request.cookies.get(BROWSER_COOKIE)
            )
        except LinkProblem as problem:
            return _page(problem.result)
        except ConnectRefused as refused:
            log.warning("connect link refused: %s", refused)
            return _page(Result(Outcome.NETWORK_ERROR, reason=str(refused)))
        response = RedirectResponse(url, status_code=302, headers=_HEADERS)
        response.set_cookie(
            BROWSER_COOKIE,
            browser,
            max_age=COOKIE_MAX_AGE,
            path="/oauth",  # sent to /oauth/start too, so a second sign-in reuses it
            secure=secure,
            httponly=True,
            samesite="lax",  # sent on the network's top-level redirect back to us
        )
        return response

    async def callback(request: Request) -> Response:
        params = {
            key: request.query_params[key]
            for key in ("state", "code", "error")
            if key in request.query_params
        }
        result = await services.connect.complete(
            request.path_params["network"], params, request.cookies.get(BROWSER_COOKIE)
        )
        # The cookie stays: another sign-in may be under way in the same browser.
        return _page(result)

    return [
        Route("/oauth/start/{token}", start, methods=["GET"]),
        Route("/oauth/callback/{network}", callback, methods=["GET"]),
    ]


def _page(result: Result) -> HTMLResponse:
    status, html = page_for(result)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)
