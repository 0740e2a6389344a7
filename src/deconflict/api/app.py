"""The application factory: settings in, ASGI app out. No globals, nothing at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from deconflict import __version__
from deconflict.api.events import Bell
from deconflict.api.exchange_schemas import EXCHANGE_WRITE_MODELS
from deconflict.api.guard import RequestGuard
from deconflict.api.health_routes import SuspensionIn
from deconflict.api.problems import install_problem_handlers, problem_response
from deconflict.api.routes import build_router
from deconflict.api.schemas import WRITE_MODELS, problem_doc
from deconflict.api.track_routes import TrackBatchIn
from deconflict.api.web_routes import install_dashboard
from deconflict.api.webhook_driver import run_webhooks
from deconflict.api.webhook_routes import WebhookIn
from deconflict.errors import DeconflictError
from deconflict.runtime import open_channel
from deconflict.service import Channel
from deconflict.settings import Settings

__all__ = ["SETTINGS_ENV", "app_from_environment", "create_app", "error_codes"]

SETTINGS_ENV = "DECONFLICT_SETTINGS"
"""Settings as :meth:`Settings.to_text`, for worker processes started by ``serve --workers``."""


def error_codes() -> dict[str, type[DeconflictError]]:
    """Every stable error code the API can answer with, by code."""
    found: dict[str, type[DeconflictError]] = {}
    pending: list[type[DeconflictError]] = [DeconflictError]
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


log = logging.getLogger(__name__)

_INPUT_MODELS: tuple[type[BaseModel], ...] = (
    *WRITE_MODELS,
    *EXCHANGE_WRITE_MODELS,
    WebhookIn,
    SuspensionIn,
    TrackBatchIn,
)
"""Models referenced by request bodies; the core validates, these document."""

_EXTRA_CODES = {
    "method_not_allowed": "The path exists but not with this HTTP method.",
    "internal_error": "The service failed; nothing was written. Never expected.",
}


async def _leads(channel: Channel) -> bool:
    """Whether this worker runs the background drivers now (:meth:`Store.leads`)."""
    try:
        return await run_in_threadpool(channel.store.leads)
    except Exception:  # an unreachable database: not leading, asked again at the next tick
        log.exception("leadership check failed")
        return False


async def _escalate(channel: Channel, tick_s: float) -> None:
    """The escalation driver: on start (resuming whatever fell due while the service was down)
    and then every tick, escalate what is past its deadline."""
    while True:
        try:
            if await _leads(channel):
                await run_in_threadpool(channel.tick)
        except Exception:  # a failed tick is retried at the next; the driver must not die
            log.exception("escalation tick failed")
        await asyncio.sleep(tick_s)


async def _surveil(channel: Channel, cycle_s: float) -> None:
    """The detection driver: one cycle every ``cycle_s`` (a slow cycle delays the next, it
    never runs two at once)."""
    while True:
        try:
            if await _leads(channel):
                await run_in_threadpool(channel.surveillance.cycle)
        except Exception:  # a failed cycle is retried at the next; the driver must not die
            log.exception("detection cycle failed")
        await asyncio.sleep(cycle_s)


async def _retain(channel: Channel, tick_s: float) -> None:
    """The retention driver: every tick (the first one tick after start, so that a start is
    not slowed and nothing races the first requests), purge in batches until nothing more is
    due. Each batch is its own write transaction, so other writes go between them."""
    while True:
        await asyncio.sleep(tick_s)
        try:
            while await _leads(channel) and (await run_in_threadpool(channel.purger.step)).more:
                pass
        except Exception:  # a failed purge is retried at the next tick; the driver must not die
            log.exception("retention purge failed")


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``serve --workers``, its settings in
    :data:`SETTINGS_ENV` (an app factory for uvicorn)."""
    return create_app(Settings.from_text(os.environ[SETTINGS_ENV]))


def create_app(settings: Settings, channel: Channel | None = None) -> FastAPI:
    """Build the app. Without a ``channel``, open the SQLite store under ``settings.data_dir``
    and close it on shutdown."""
    owned = channel is None
    if channel is None:
        channel = open_channel(settings)
    service = channel
    bell = Bell(service, poll_s=settings.event_poll_s, keepalive_s=settings.event_keepalive_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        driver = asyncio.create_task(_escalate(service, settings.escalation_tick_s))
        ringing = asyncio.create_task(bell.run())
        hooks = asyncio.create_task(
            run_webhooks(
                service.dispatch,
                settings.webhook_tick_s,
                settings.webhook_timeout_s,
                lambda: _leads(service),
            )
        )
        surveil = asyncio.create_task(_surveil(service, settings.track_cycle_s))
        retain = asyncio.create_task(_retain(service, settings.retention_tick_s))
        try:
            yield
        finally:
            for task in (driver, ringing, hooks, surveil, retain):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if owned:
                service.store.close()

    app = FastAPI(
        title="deconflict",
        version=__version__,
        lifespan=lifespan,
        description="A deconfliction channel for parties that share a conflict zone "
        "or an airspace but not trust.",
    )
    app.state.channel = service
    install_problem_handlers(app)
    install_dashboard(app)
    app.include_router(
        build_router(
            service,
            settings.page_limit_max,
            bell,
            max_body_bytes=settings.max_body_bytes,
            max_depth=settings.max_json_depth,
        )
    )

    @app.get("/healthz", summary="Liveness", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/problems/{code}",
        summary="What an error code means",
        tags=["health"],
        responses={404: problem_doc("no such error code")},
    )
    async def explain_problem(code: str) -> JSONResponse:
        known = error_codes()
        if code in known:
            cls = known[code]
            text = (cls.__doc__ or cls.title).strip().split("\n\n")[0]
            return JSONResponse(
                {
                    "code": code,
                    "status": cls.status,
                    "title": cls.title,
                    "description": " ".join(text.split()),
                }
            )
        if code in _EXTRA_CODES:
            return JSONResponse({"code": code, "description": _EXTRA_CODES[code]})
        return problem_response(404, "not_found", "Not found", f"no error code {code!r}")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _, defs = models_json_schema(
                [(m, "validation") for m in _INPUT_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                defs.get("$defs", {})
            )
            schema["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook
    app.add_middleware(
        RequestGuard, max_body_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )
    return app
