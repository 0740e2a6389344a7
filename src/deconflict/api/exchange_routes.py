"""HTTP routes of the correspondence between parties: incident reports and replies, permission
requests and answers, messages, and the templates they use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from deconflict.api.exchange_schemas import (
    IncidentOut,
    IncidentPage,
    IncidentWritten,
    MessageOut,
    MessagePage,
    MessageWritten,
    RequestOut,
    RequestPage,
    RequestWritten,
    TemplateList,
)
from deconflict.api.params import (
    decode_cursor,
    encode_cursor,
    parse_body,
    parse_if_match,
    parse_limit,
)
from deconflict.api.schemas import body_doc, problem_doc
from deconflict.ledger import Receipt
from deconflict.principals import Principal
from deconflict.service import Channel
from deconflict.store.base import Page
from deconflict.templates import TEMPLATES

__all__ = ["build_exchange_router"]

_READ: dict[int | str, dict[str, Any]] = {
    401: problem_doc("no valid bearer token"),
    404: problem_doc("no such object, or one the caller's party is not a party to"),
    422: problem_doc("a parameter broke a rule"),
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_READ,
    403: problem_doc("the caller's role may not do this"),
    409: problem_doc("the state does not allow this (answered or expired already)"),
    412: problem_doc("If-Match names a version that is no longer current"),
    413: problem_doc("the body is too large"),
    415: problem_doc("the body is not JSON"),
    422: problem_doc("a field broke a validation rule; nothing was written"),
    428: problem_doc("If-Match is required"),
}


def _written(
    name: str, obj: dict[str, Any], receipt: Receipt | None, status: int = 200
) -> JSONResponse:
    body = {name: obj, "receipt": None if receipt is None else receipt.to_json()}
    response = JSONResponse(body, status_code=status)
    if status == 201:
        response.headers["Location"] = f"/v1/{name}s/{obj['id']}"
    return response


def build_exchange_router(channel: Channel, caller: Any, page_limit_max: int) -> APIRouter:
    router = APIRouter(tags=["correspondence"])
    mail = channel.correspondence

    async def listed(
        who: Principal,
        fetch: Callable[[Principal, int, int], Page[Any]],
        cursor: str | None,
        limit: str | None,
    ) -> JSONResponse:
        """One page of a list, its cursor sealed for the caller's party."""
        after = decode_cursor(channel.sealed, who.party, cursor)
        page = await run_in_threadpool(fetch, who, after, parse_limit(limit, page_limit_max))
        nxt = encode_cursor(channel.sealed, who.party, page.next)
        return JSONResponse({"items": [x.to_json() for x in page.items], "next": nxt})

    @router.post(
        "/incidents",
        status_code=201,
        summary="Report an incident to the parties it names and the relay",
        openapi_extra=body_doc("IncidentIn"),
        responses=_WRITE | {201: {"model": IncidentWritten}},
    )
    async def report(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        incident, receipt = await run_in_threadpool(mail.report, who, raw)
        return _written("incident", incident.to_json(), receipt, 201)

    @router.get(
        "/incidents",
        summary="Incidents the caller's party reported or is named in (all, for the relay)",
        responses=_READ | {200: {"model": IncidentPage}},
    )
    async def incidents(
        who: Principal = caller, cursor: str | None = Query(None), limit: str | None = Query(None)
    ) -> JSONResponse:
        return await listed(who, mail.incidents, cursor, limit)

    @router.get(
        "/incidents/{incident_id}",
        summary="One incident, with its replies",
        responses=_READ | {200: {"model": IncidentOut}},
    )
    async def incident(incident_id: str, who: Principal = caller) -> JSONResponse:
        found = await run_in_threadpool(mail.incident, who, incident_id)
        return JSONResponse(found.to_json())

    @router.post(
        "/incidents/{incident_id}/replies",
        summary="Reply to an incident that names the caller's party (right of reply)",
        openapi_extra=body_doc("ReplyIn"),
        responses=_WRITE | {200: {"model": IncidentWritten}},
    )
    async def reply(incident_id: str, request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        incident, receipt = await run_in_threadpool(mail.reply, who, incident_id, raw)
        return _written("incident", incident.to_json(), receipt)

    @router.post(
        "/requests",
        status_code=201,
        summary="Ask another party for permission",
        openapi_extra=body_doc("RequestIn"),
        responses=_WRITE | {201: {"model": RequestWritten}},
    )
    async def ask(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        made, receipt = await run_in_threadpool(mail.ask, who, raw)
        return _written("request", made.to_json(), receipt, 201)

    @router.get(
        "/requests",
        summary="Requests the caller's party made or was asked",
        responses=_READ | {200: {"model": RequestPage}},
    )
    async def requests(
        who: Principal = caller, cursor: str | None = Query(None), limit: str | None = Query(None)
    ) -> JSONResponse:
        return await listed(who, mail.requests, cursor, limit)

    @router.get(
        "/requests/{request_id}",
        summary="One request, with ETag: its version",
        responses=_READ | {200: {"model": RequestOut}},
    )
    async def one_request(request_id: str, who: Principal = caller) -> JSONResponse:
        found = await run_in_threadpool(mail.request, who, request_id)
        return JSONResponse(found.to_json(), headers={"ETag": f'"{found.version}"'})

    @router.post(
        "/requests/{request_id}/answer",
        summary="Approve or deny a request made to the caller's party (If-Match: its version)",
        openapi_extra=body_doc("AnswerIn"),
        responses=_WRITE | {200: {"model": RequestWritten}},
    )
    async def answer(
        request_id: str,
        request: Request,
        who: Principal = caller,
        if_match: str | None = Header(None),
    ) -> JSONResponse:
        version = parse_if_match(if_match)
        raw = parse_body(await request.body())
        answered, receipt = await run_in_threadpool(mail.answer, who, request_id, version, raw)
        return _written("request", answered.to_json(), receipt)

    @router.post(
        "/messages",
        status_code=201,
        summary="Send a message to another party (a template, or free text)",
        openapi_extra=body_doc("MessageIn"),
        responses=_WRITE | {201: {"model": MessageWritten}},
    )
    async def send(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        sent, receipt = await run_in_threadpool(mail.send, who, raw)
        return _written("message", sent.to_json(), receipt, 201)

    @router.get(
        "/messages",
        summary="Messages the caller's party sent or received",
        responses=_READ | {200: {"model": MessagePage}},
    )
    async def messages(
        who: Principal = caller, cursor: str | None = Query(None), limit: str | None = Query(None)
    ) -> JSONResponse:
        return await listed(who, mail.messages, cursor, limit)

    @router.get(
        "/messages/{message_id}",
        summary="One message",
        responses=_READ | {200: {"model": MessageOut}},
    )
    async def message(message_id: str, who: Principal = caller) -> JSONResponse:
        found = await run_in_threadpool(mail.message, who, message_id)
        return JSONResponse(found.to_json())

    @router.get(
        "/templates",
        summary="The pre-formatted texts for messages and requests",
        responses=_READ | {200: {"model": TemplateList}},
    )
    async def templates(who: Principal = caller) -> JSONResponse:
        items = [t.to_json(name) for name, t in sorted(TEMPLATES.items())]
        return JSONResponse({"items": items})

    return router
