"""HTTP routes of a party's webhook: where its events go, and what failed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from deconflict.api.params import parse_body
from deconflict.api.schemas import _Strict, body_doc, problem_doc
from deconflict.principals import Principal
from deconflict.service import Channel

__all__ = ["WebhookIn", "build_webhook_router"]


class WebhookIn(_Strict):
    url: str = Field(description="http or https URL that receives the party's events")


class WebhookSet(BaseModel):
    url: str
    secret: str = Field(description="HMAC key (base64), shown this once; every PUT makes a new one")


class FailureOut(BaseModel):
    event_id: str = Field(description="the event's id, as on the party's live stream")
    at: AwareDatetime
    status: int | None = Field(description="the receiver's HTTP status; null: not reached")
    error: str


class WebhookOut(BaseModel):
    url: str
    delivered_through: str = Field(
        description="id of the last event the receiver took (2xx), as on the live stream"
    )
    failed_attempts: int
    next_attempt_at: AwareDatetime | None
    last_error: str | None
    failures: list[FailureOut] = Field(description="the latest failures, newest first")


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("no valid bearer token"),
    403: problem_doc("only the party's admin may change its webhook"),
    404: problem_doc("the party has no webhook"),
    422: problem_doc("not an http(s) URL"),
}


def build_webhook_router(channel: Channel, caller: Any) -> APIRouter:
    router = APIRouter(tags=["webhook"])
    dispatch = channel.dispatch

    @router.put(
        "/webhook",
        summary="Send the party's events to a URL, signed with a new secret (party admin)",
        openapi_extra=body_doc("WebhookIn"),
        responses=_PROBLEMS | {200: {"model": WebhookSet}},
    )
    async def set_webhook(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        return JSONResponse(await run_in_threadpool(dispatch.set_webhook, who, raw))

    @router.get(
        "/webhook",
        summary="The party's webhook, its progress and its failed deliveries",
        responses=_PROBLEMS | {200: {"model": WebhookOut}},
    )
    async def webhook(who: Principal = caller) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(dispatch.webhook, who))

    @router.delete(
        "/webhook",
        status_code=204,
        summary="Stop sending the party's events (party admin)",
        responses=_PROBLEMS,
    )
    async def remove_webhook(who: Principal = caller) -> Response:
        await run_in_threadpool(dispatch.remove_webhook, who)
        return Response(status_code=204)

    return router
