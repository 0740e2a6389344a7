"""HTTP routes of the inbox: a party's notifications, acknowledging them, and its roster."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from deconflict.api.params import (
    decode_cursor,
    encode_cursor,
    parse_body,
    parse_enum,
    parse_if_match,
    parse_limit,
)
from deconflict.api.schemas import (
    Acknowledged,
    NotificationOut,
    NotificationPage,
    RosterOut,
    body_doc,
    problem_doc,
)
from deconflict.notifications import NotificationState
from deconflict.principals import Principal
from deconflict.service import Channel

__all__ = ["build_inbox_router"]

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: problem_doc(text)
    for status, text in (
        (401, "no valid bearer token"),
        (403, "the caller's role may not do this"),
        (404, "no such notification, or one of another party"),
        (422, "a field or parameter broke a validation rule; nothing was written"),
    )
}
_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_PROBLEMS,
    **{
        status: problem_doc(text)
        for status, text in (
            (409, "acknowledged already"),
            (412, "If-Match names a version that is no longer current: read it again"),
            (413, "the body is too large"),
            (415, "the body is not JSON"),
            (428, "If-Match is required"),
        )
    },
}


def build_inbox_router(channel: Channel, caller: Any, page_limit_max: int) -> APIRouter:
    router = APIRouter(tags=["inbox"])
    inbox = channel.inbox

    @router.get(
        "/notifications",
        summary="The caller's party's notifications (fetching delivers them)",
        responses=_PROBLEMS | {200: {"model": NotificationPage}},
    )
    async def list_notifications(
        *,
        who: Principal = caller,
        state: str | None = Query(None, description="pending|delivered|acknowledged"),
        cursor: str | None = Query(None),
        limit: str | None = Query(None),
    ) -> JSONResponse:
        page = await run_in_threadpool(
            inbox.list_for,
            who,
            parse_enum(state, "state", NotificationState),
            decode_cursor(channel.sealed, who.party, cursor),
            parse_limit(limit, page_limit_max),
        )
        return JSONResponse(
            {"items": page.items, "next": encode_cursor(channel.sealed, who.party, page.next)}
        )

    @router.get(
        "/notifications/{notification_id}",
        summary="One notification (fetching it delivers it)",
        responses=_PROBLEMS | {200: {"model": NotificationOut}},
    )
    async def get_notification(notification_id: str, who: Principal = caller) -> JSONResponse:
        n = await run_in_threadpool(inbox.get, who, notification_id)
        return JSONResponse(n.to_json(), headers={"ETag": f'"{n.version}"'})

    @router.post(
        "/notifications/{notification_id}/ack",
        summary="Acknowledge, with an optional reply (If-Match: the version read)",
        openapi_extra=body_doc("AcknowledgementIn"),
        responses=_WRITE_PROBLEMS | {200: {"model": Acknowledged}},
    )
    async def acknowledge(
        notification_id: str,
        request: Request,
        who: Principal = caller,
        if_match: str | None = Header(None),
    ) -> JSONResponse:
        version = parse_if_match(if_match)
        raw = parse_body(await request.body())
        n, receipt = await run_in_threadpool(inbox.acknowledge, who, notification_id, version, raw)
        body = {"notification": n.to_json(), "receipt": receipt.to_json() if receipt else None}
        return JSONResponse(body, headers={"ETag": f'"{n.version}"'})

    @router.get(
        "/roster",
        summary="The caller's party's roster, and the levels with nobody on shift",
        responses=_PROBLEMS | {200: {"model": RosterOut}},
    )
    async def roster(who: Principal = caller) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(inbox.roster, who))

    @router.put(
        "/roster",
        summary="Replace the caller's party's roster (party admin)",
        openapi_extra=body_doc("RosterIn"),
        responses=_WRITE_PROBLEMS | {200: {"model": RosterOut}},
    )
    async def set_roster(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        await run_in_threadpool(inbox.set_roster, who, who.party, raw)
        return JSONResponse(await run_in_threadpool(inbox.roster, who))

    return router
