"""Hostile-input guard in front of the application (pure ASGI middleware).

Before any route runs, a request body is bounded in size (413), must be JSON (415) and may not
nest deeper than the configured limit (422): Python's JSON parser recurses, so a deeply nested
body would otherwise fail inside the framework instead of as a problem document.
"""

from __future__ import annotations

import re

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.api.problems import problem_response
from deconflict.errors import FieldError

__all__ = ["RequestGuard", "json_depth"]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text (strings ignored).

    >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    """
    data = np.frombuffer(_STRING.sub(b'""', body), dtype=np.uint8)
    step = np.isin(data, _OPEN).astype(np.int32) - np.isin(data, _CLOSE).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and not (media == "application/json" or media.endswith("+json")):
            response = problem_response(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "send the body as application/json",
            )
            await response(scope, receive, send)
            return
        if body and json_depth(body) > self.max_depth:
            response = problem_response(
                422,
                "invalid_input",
                "Invalid input",
                f"the body nests deeper than {self.max_depth} levels",
                errors=[FieldError("", "max_depth", f"at most {self.max_depth} levels of nesting")],
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            "Payload too large",
            f"the body is larger than {self.max_body_bytes} bytes",
        )
        await response(scope, receive, send)
