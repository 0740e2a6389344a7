"""HTTP routes under ``/v1``. Each route authenticates, parses, calls the channel service and
renders; the service enforces need-to-know."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from deconflict.api.events import Bell, build_events_router
from deconflict.api.exchange_routes import build_exchange_router
from deconflict.api.health_routes import build_health_router
from deconflict.api.inbox_routes import build_inbox_router
from deconflict.api.ledger_routes import build_ledger_router
from deconflict.api.params import (
    decode_cursor,
    encode_cursor,
    parse_bbox,
    parse_body,
    parse_enum,
    parse_if_match,
    parse_limit,
    parse_optional_time,
)
from deconflict.api.schemas import (
    CheckResult,
    ConflictOut,
    ConflictPage,
    DeclarationOut,
    DeclarationPage,
    PartyPage,
    PrincipalOut,
    body_doc,
    problem_doc,
)
from deconflict.api.schemas import (
    Outcome as OutcomeOut,
)
from deconflict.api.track_routes import build_track_router
from deconflict.api.webhook_routes import build_webhook_router
from deconflict.declarations import Kind, State
from deconflict.errors import InvalidInput
from deconflict.principals import Principal
from deconflict.service import Channel, Outcome
from deconflict.store.base import ConflictQuery, DeclarationQuery

__all__ = ["build_router"]


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: problem_doc(text)
    for status, text in (
        (401, "no valid bearer token"),
        (403, "the caller's role may not do this"),
        (404, "no such object, or one the caller may not see"),
        (422, "a field broke a validation rule; nothing was written"),
    )
}
_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_PROBLEMS,
    **{
        status: problem_doc(text)
        for status, text in (
            (409, "the state does not allow this change"),
            (412, "If-Match names a version that is no longer current"),
            (413, "the body is too large"),
            (415, "the body is not JSON"),
            (428, "If-Match is required"),
        )
    },
}


def _ok(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model}}


def _json(data: Any, status: int = 200, etag: int | None = None) -> JSONResponse:
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    return JSONResponse(data, status_code=status, headers=headers)


def _outcome(outcome: Outcome, status: int = 200) -> JSONResponse:
    d = outcome.declaration
    body = {"declaration": d.to_json(), "conflicts": outcome.conflicts}
    if outcome.receipt is not None:
        body["receipt"] = outcome.receipt.to_json()
    response = _json(body, status, d.version)
    if status == 201:
        response.headers["Location"] = f"/v1/declarations/{d.id}"
    return response


def build_router(
    channel: Channel, page_limit_max: int, bell: Bell, *, max_body_bytes: int, max_depth: int
) -> APIRouter:
    router = APIRouter(prefix="/v1")

    async def principal(
        authorization: str | None = Header(None, description="Bearer <token>"),
    ) -> Principal:
        token = None
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        return await run_in_threadpool(channel.authenticate, token)

    caller = Depends(principal)
    router.include_router(build_ledger_router(channel, caller))
    router.include_router(build_inbox_router(channel, caller, page_limit_max))
    router.include_router(build_events_router(bell, caller))
    router.include_router(build_exchange_router(channel, caller, page_limit_max))
    router.include_router(build_webhook_router(channel, caller))
    router.include_router(build_track_router(channel, caller, max_body_bytes, max_depth))
    router.include_router(build_health_router(channel, caller))

    @router.get("/me", summary="The calling principal", responses=_PROBLEMS | _ok(PrincipalOut))
    async def me(who: Principal = caller) -> JSONResponse:
        return _json(who.to_json())

    @router.get("/parties", summary="Parties of the channel", responses=_PROBLEMS | _ok(PartyPage))
    async def parties(who: Principal = caller) -> JSONResponse:
        items = await run_in_threadpool(channel.list_parties)
        return _json({"items": [p.to_json() for p in items], "next": None})

    @router.post(
        "/declarations",
        status_code=201,
        summary="Declare",
        openapi_extra=body_doc("DeclarationIn"),
        responses=_WRITE_PROBLEMS | _ok(OutcomeOut, 201),
    )
    async def declare(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        return _outcome(await run_in_threadpool(channel.declare, who, raw), 201)

    @router.post(
        "/check",
        summary="Dry run: the conflicts a declaration would have",
        openapi_extra=body_doc("DeclarationIn"),
        responses=_WRITE_PROBLEMS | _ok(CheckResult),
    )
    async def check(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        return _json({"conflicts": await run_in_threadpool(channel.check, who, raw)})

    @router.get(
        "/declarations",
        summary="Own and visible declarations",
        responses=_PROBLEMS | _ok(DeclarationPage),
    )
    async def list_declarations(
        *,
        who: Principal = caller,
        kind: str | None = Query(None),
        state: str | None = Query(None),
        start: str | None = Query(None, description="RFC 3339; overlapping windows"),
        end: str | None = Query(None, description="RFC 3339"),
        bbox: str | None = Query(
            None, description="west,south,east,north (west > east crosses the antimeridian)"
        ),
        cursor: str | None = Query(None),
        limit: str | None = Query(None),
    ) -> JSONResponse:
        query = DeclarationQuery(
            after=decode_cursor(channel.sealed, who.party, cursor),
            limit=parse_limit(limit, page_limit_max),
            kind=parse_enum(kind, "kind", Kind),
            state=parse_enum(state, "state", State),
            start=parse_optional_time(start, "start"),
            end=parse_optional_time(end, "end"),
            bbox=parse_bbox(bbox),
        )
        page = await run_in_threadpool(channel.list_declarations, who, query)
        return _json(
            {
                "items": [d.to_json() for d in page.items],
                "next": encode_cursor(channel.sealed, who.party, page.next),
            }
        )

    @router.get(
        "/declarations/{declaration_id}",
        summary="One declaration",
        responses=_PROBLEMS | _ok(DeclarationOut),
    )
    async def get_declaration(declaration_id: str, who: Principal = caller) -> JSONResponse:
        d = await run_in_threadpool(channel.get_declaration, who, declaration_id)
        return _json(d.to_json(), etag=d.version)

    @router.patch(
        "/declarations/{declaration_id}",
        summary="Amend (JSON merge patch)",
        openapi_extra=body_doc("DeclarationPatch"),
        responses=_WRITE_PROBLEMS | _ok(OutcomeOut),
    )
    async def amend(
        declaration_id: str,
        request: Request,
        who: Principal = caller,
        if_match: str | None = Header(None),
    ) -> JSONResponse:
        version = parse_if_match(if_match)
        raw = parse_body(await request.body())
        return _outcome(await run_in_threadpool(channel.amend, who, declaration_id, version, raw))

    @router.delete(
        "/declarations/{declaration_id}",
        summary="Cancel",
        responses=_WRITE_PROBLEMS | _ok(OutcomeOut),
    )
    async def cancel(
        declaration_id: str,
        who: Principal = caller,
        if_match: str | None = Header(None),
    ) -> JSONResponse:
        version = parse_if_match(if_match)
        return _outcome(await run_in_threadpool(channel.cancel, who, declaration_id, version))

    @router.get(
        "/declarations/{declaration_id}/conflicts",
        summary="Open conflicts of one",
        responses=_PROBLEMS | _ok(ConflictPage),
    )
    async def declaration_conflicts(declaration_id: str, who: Principal = caller) -> JSONResponse:
        items = await run_in_threadpool(channel.declaration_conflicts, who, declaration_id)
        return _json({"items": items, "next": None})

    @router.get(
        "/conflicts",
        summary="Conflicts visible to the caller",
        responses=_PROBLEMS | _ok(ConflictPage),
    )
    async def list_conflicts(
        *,
        who: Principal = caller,
        state: str | None = Query(None, description="open|resolved"),
        declaration_id: str | None = Query(None),
        cursor: str | None = Query(None),
        limit: str | None = Query(None),
    ) -> JSONResponse:
        if state is not None and state not in ("open", "resolved"):
            raise InvalidInput.one("state", "enum", "one of: open, resolved")
        query = ConflictQuery(
            after=decode_cursor(channel.sealed, who.party, cursor),
            limit=parse_limit(limit, page_limit_max),
            state=state,
            declaration_id=declaration_id,
        )
        page = await run_in_threadpool(channel.list_conflicts, who, query)
        return _json(
            {"items": page.items, "next": encode_cursor(channel.sealed, who.party, page.next)}
        )

    @router.get(
        "/conflicts/{conflict_id}",
        summary="One conflict",
        responses=_PROBLEMS | _ok(ConflictOut),
    )
    async def get_conflict(conflict_id: str, who: Principal = caller) -> JSONResponse:
        return _json(await run_in_threadpool(channel.get_conflict, who, conflict_id))

    return router
