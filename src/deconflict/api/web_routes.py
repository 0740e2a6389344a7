"""The dashboard: the page at ``/`` and its assets under ``/ui/``, all shipped in the package.

The page is served with a Content-Security-Policy that lets it load and connect to the service
alone, so an operations centre without internet sees no difference and a page that tried to
reach anything else would be stopped by the browser. It uses the public API only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "WEB_ROOT", "install_dashboard"]

WEB_ROOT = Path(str(resources.files("deconflict") / "web"))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Everything from the service itself; inline styles only because the map library positions
its tiles and markers with style attributes."""

_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _Secured:
    """Adds the dashboard's security headers to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def install_dashboard(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> FileResponse:
        return FileResponse(
            WEB_ROOT / "index.html",
            headers={h.decode(): v.decode() for h, v in _HEADERS} | {"cache-control": "no-cache"},
        )

    app.include_router(router)
    app.mount("/ui", _Secured(StaticFiles(directory=WEB_ROOT)), name="ui")
