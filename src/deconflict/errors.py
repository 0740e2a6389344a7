"""One error hierarchy for the whole service.

Every error the service raises on purpose is a :class:`DeconflictError`. The HTTP status and a
stable machine-readable ``code`` live on the class; the API renders every one of them as an
RFC 9457 problem document in one place (``deconflict.api.problems``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AuthenticationRequired",
    "DeconflictError",
    "FieldError",
    "Forbidden",
    "Gone",
    "IllegalTransition",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionRequired",
    "UnsupportedMediaType",
    "VersionMismatch",
    "pointer_token",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rule that one field broke.

    ``field`` is a JSON Pointer (RFC 6901) into the request body, or a query parameter name.
    ``rule`` is a stable identifier (``ring_not_closed``, ``lat_range``, ...).
    """

    field: str
    rule: str
    detail: str


def pointer_token(key: object) -> str:
    """A member name as one JSON Pointer reference token (RFC 6901 escapes ``~`` and ``/``).

    >>> pointer_token("a/b~c")
    'a~1b~0c'
    """
    return str(key).replace("~", "~0").replace("/", "~1")


class DeconflictError(Exception):
    """Base of every error the service reports to a client."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DeconflictError):
    """The request broke one or more validation rules; nothing was written."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, errors: list[FieldError]) -> None:
        if not errors:
            raise ValueError("InvalidInput needs at least one FieldError")
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.field or 'body'}: {first.detail}{more}")
        self.errors = errors

    @classmethod
    def one(cls, field: str, rule: str, detail: str) -> InvalidInput:
        return cls([FieldError(field, rule, detail)])


class AuthenticationRequired(DeconflictError):
    status = 401
    code = "authentication_required"
    title = "Authentication required"


class Forbidden(DeconflictError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(DeconflictError):
    """Also used for objects that exist but that the caller may not see: existence is not
    disclosed."""

    status = 404
    code = "not_found"
    title = "Not found"


class IllegalTransition(DeconflictError):
    status = 409
    code = "illegal_transition"
    title = "Illegal state transition"


class VersionMismatch(DeconflictError):
    status = 412
    code = "version_mismatch"
    title = "Version mismatch"


class Gone(DeconflictError):
    """What the request resumes from was purged by retention: a live stream's resume point
    older than the events kept. Open the stream again without one, and read the backlog from
    GET /v1/notifications."""

    status = 410
    code = "gone"
    title = "Gone"


class PayloadTooLarge(DeconflictError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(DeconflictError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class PreconditionRequired(DeconflictError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"
