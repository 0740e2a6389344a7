"""The one place where errors become RFC 9457 ``application/problem+json`` documents."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from deconflict.errors import DeconflictError, FieldError, InvalidInput

__all__ = [
    "PROBLEM_TYPE_BASE",
    "install_problem_handlers",
    "problem_body",
    "problem_of",
    "problem_response",
]

PROBLEM_TYPE_BASE = "/problems/"
_log = logging.getLogger("deconflict.api")

_HTTP_CODES = {404: ("not_found", "Not found"), 405: ("method_not_allowed", "Method not allowed")}


def problem_body(
    status: int, code: str, title: str, detail: str, errors: list[FieldError] | None = None
) -> dict[str, Any]:
    """The RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = [{"field": e.field, "rule": e.rule, "detail": e.detail} for e in errors]
    return body


def problem_of(exc: DeconflictError) -> dict[str, Any]:
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    return problem_body(exc.status, exc.code, exc.title, exc.detail, errors)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, title, detail, errors),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _pointer(loc: tuple[Any, ...]) -> str:
    where, *path = loc if loc else ("body",)
    if where in ("query", "header", "path"):
        return str(path[0]) if path else str(where)
    return "".join(f"/{p}" for p in path)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeconflictError)
    async def _ours(_: Request, exc: DeconflictError) -> JSONResponse:
        errors = exc.errors if isinstance(exc, InvalidInput) else None
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, errors=errors, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                _pointer(tuple(e.get("loc", ()))),
                str(e.get("type", "invalid")),
                str(e.get("msg", "invalid")),
            )
            for e in exc.errors()
        ]
        return await _ours(
            _, InvalidInput(errors or [FieldError("", "invalid", "invalid request")])
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        return problem_response(exc.status_code, code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal_error", "Internal error", "the service failed; nothing was written"
        )
