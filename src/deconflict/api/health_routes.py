"""HTTP routes of the channel's health: the report every party sees, and a party suspending or
resuming its participation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from deconflict.api.params import parse_body
from deconflict.api.schemas import Receipt, _Strict, body_doc, problem_doc
from deconflict.principals import Principal
from deconflict.service import Channel

__all__ = ["SuspensionIn", "build_health_router"]


class SuspensionIn(_Strict):
    reason: str = Field(min_length=1, max_length=4000)


class SuspendedOut(BaseModel):
    since: AwareDatetime
    reason: str
    by: str


class LineTestOut(BaseModel):
    sent_at: AwareDatetime
    state: str
    acknowledged_at: AwareDatetime | None


class PartyHealthOut(BaseModel):
    id: str
    name: str
    suspended: SuspendedOut | None
    last_seen: AwareDatetime | None
    line_test: LineTestOut | None
    roster_gaps: list[int] | None = Field(description="the caller's own party only")
    alarms: list[str] = Field(description="suspended, nobody_on_shift, line_test_overdue, not_seen")


class HealthOut(BaseModel):
    generated_at: AwareDatetime
    parties: list[PartyHealthOut]


class ReceiptOnly(BaseModel):
    receipt: Receipt


class FiguresOut(BaseModel):
    generated_at: AwareDatetime
    party: dict[str, Any] = Field(description="the caller's party's notifications")
    channel: dict[str, Any] = Field(description="every party's, as numbers only")
    protected_objects: list[dict[str, Any]] = Field(
        description="the caller's party's: who was notified, who acknowledged, incidents since"
    )


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("no valid bearer token"),
    403: problem_doc("only the party's admin may suspend or resume its participation"),
    409: problem_doc("suspended already, or not suspended"),
    422: problem_doc("a field broke a rule; nothing was written"),
}


def build_health_router(channel: Channel, caller: Any) -> APIRouter:
    router = APIRouter(tags=["health"])
    monitor = channel.monitor

    @router.get(
        "/health",
        summary="Every party's link: suspended, last seen, line test, alarms",
        responses=_PROBLEMS | {200: {"model": HealthOut}},
    )
    async def health(who: Principal = caller) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(monitor.report, who))

    @router.get(
        "/figures",
        summary="Notifications sent, acknowledged, overdue; time to acknowledge; escalations",
        responses=_PROBLEMS | {200: {"model": FiguresOut}},
    )
    async def figures(who: Principal = caller) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(monitor.figures, who))

    @router.post(
        "/suspension",
        summary="Suspend the party's participation, visibly to all (party admin)",
        openapi_extra=body_doc("SuspensionIn"),
        responses=_PROBLEMS | {200: {"model": ReceiptOnly}},
    )
    async def suspend(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        receipt = await run_in_threadpool(monitor.suspend, who, raw)
        return JSONResponse({"receipt": None if receipt is None else receipt.to_json()})

    @router.delete(
        "/suspension",
        summary="Resume the party's participation (party admin)",
        responses=_PROBLEMS | {200: {"model": ReceiptOnly}},
    )
    async def resume(who: Principal = caller) -> JSONResponse:
        receipt = await run_in_threadpool(monitor.resume, who)
        return JSONResponse({"receipt": None if receipt is None else receipt.to_json()})

    return router
