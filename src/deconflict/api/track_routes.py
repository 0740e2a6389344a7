"""HTTP and WebSocket routes of tracks: a party reports its own aircraft, in batches or as a
stream, and reads back only its own.

The stream (``/v1/tracks/stream``) is a WebSocket authenticated like every request, by the
``Authorization: Bearer`` header of its opening handshake. Each text message is one batch, the
same JSON as the body of ``POST /v1/tracks``; the service answers each, in order, once the batch
is on disk: ``{"seq": n, "accepted": k}``, or ``{"seq": n, "problem": {…}}`` (RFC 9457) when
the batch was refused, and the stream goes on. A refused opening gets a problem message and
close code 1008.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deconflict.api.guard import json_depth
from deconflict.api.params import parse_body
from deconflict.api.problems import problem_body, problem_of
from deconflict.api.schemas import _Strict, body_doc, problem_doc
from deconflict.errors import DeconflictError, InvalidInput
from deconflict.principals import Principal
from deconflict.service import Channel

__all__ = ["TrackBatchIn", "build_track_router"]

_POLICY_VIOLATION = 1008


class _Measure(_Strict):
    value: float
    units: str


class _Altitude(_Strict):
    value: float
    units: str = Field(description="'m' or 'ft'")
    reference: str = Field(description="'W84' (ellipsoid) or 'AMSL'")


class TrackIn(_Strict):
    track_id: str = Field(description="the party's own name for the aircraft, 1-64 characters")
    time: str = Field(description="RFC 3339 time of the position")
    lat: float
    lon: float
    altitude: _Altitude
    ground_speed: _Measure = Field(description="units 'kt', 'm/s' or 'km/h'")
    track_deg: float = Field(description="track over the ground, degrees from true north [0, 360)")
    vertical_rate: _Measure = Field(description="units 'ft/min' or 'm/s'; climbing is positive")


class TrackBatchIn(_Strict):
    tracks: list[TrackIn]


class TrackBatchOut(BaseModel):
    accepted: int


class TrackOut(BaseModel):
    track_id: str
    time: str
    lat: float
    lon: float
    altitude: dict[str, Any]
    ground_speed: dict[str, Any]
    track_deg: float
    vertical_rate: dict[str, Any]


class TrackListOut(BaseModel):
    items: list[TrackOut] = Field(description="the latest report of each of the party's aircraft")


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("no valid bearer token"),
    403: problem_doc("a viewer cannot report tracks"),
    413: problem_doc("the body is too large"),
    422: problem_doc("a report broke a rule; nothing of the batch was kept"),
}


def _token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def build_track_router(
    channel: Channel, caller: Any, max_message_bytes: int, max_depth: int
) -> APIRouter:
    router = APIRouter(tags=["tracks"])
    surveillance = channel.surveillance

    @router.post(
        "/tracks",
        summary="Report positions of the party's own aircraft (all or nothing)",
        openapi_extra=body_doc("TrackBatchIn"),
        responses=_PROBLEMS | {200: {"model": TrackBatchOut}},
    )
    async def report(request: Request, who: Principal = caller) -> JSONResponse:
        raw = parse_body(await request.body())
        return JSONResponse(await run_in_threadpool(surveillance.report, who, raw))

    @router.get(
        "/tracks",
        summary="The party's own aircraft, latest report each (never another party's)",
        responses=_PROBLEMS | {200: {"model": TrackListOut}},
    )
    async def own(who: Principal = caller) -> JSONResponse:
        return JSONResponse({"items": await run_in_threadpool(surveillance.own_tracks, who)})

    def batch(who: Principal, text: str) -> dict[str, Any]:
        body = text.encode()
        if len(body) > max_message_bytes:
            raise InvalidInput.one(
                "", "max_message_bytes", f"a message is at most {max_message_bytes} bytes"
            )
        if json_depth(body) > max_depth:
            raise InvalidInput.one("", "max_depth", f"JSON nests at most {max_depth} deep")
        return surveillance.report(who, parse_body(body))

    @router.websocket("/tracks/stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            token = _token(websocket.headers.get("authorization"))
            who = await run_in_threadpool(channel.authenticate, token)
        except DeconflictError as exc:
            await websocket.send_json({"seq": 0, "problem": problem_of(exc)})
            await websocket.close(_POLICY_VIOLATION)
            return
        seq = 0
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                seq += 1
                text = message.get("text")
                reply: dict[str, Any]
                if text is None:
                    reply = {
                        "seq": seq,
                        "problem": problem_body(
                            422, "invalid_input", "Invalid input", "send batches as text frames"
                        ),
                    }
                else:
                    try:
                        reply = {"seq": seq, **await run_in_threadpool(batch, who, text)}
                    except DeconflictError as exc:
                        reply = {"seq": seq, "problem": problem_of(exc)}
                await websocket.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            return

    return router
