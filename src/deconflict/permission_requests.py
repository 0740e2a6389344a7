"""Requests: one party asks another for permission (to cross a coordination line, to hold
fire, for safe passage). A request is answered approve or deny by a person of the party asked,
before its deadline; unanswered, it expires. Unlike a notification it asks for a decision, not
an acknowledgement.

Pure: ids and the clock come from outside.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2017, 6, 18, 15, 0, tzinfo=UTC)
>>> r = parse_request({"to": "russia", "text": "May we cross?", "respond_by":
...     "2017-06-18T15:30:00Z"}, id="req_1", party="coalition", principal="prn_1", now=t0)
>>> str(answer(r, "prn_2", "approve", None, t0 + timedelta(minutes=5)).state)
'approved'
>>> str(expire(r, t0 + timedelta(minutes=30)).state)
'expired'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from deconflict.errors import IllegalTransition, InvalidInput
from deconflict.messages import parse_recipient, parse_text
from deconflict.templates import TEMPLATES, render
from deconflict.volumes import format_time, parse_time

__all__ = [
    "DEFAULT_RESPONSE_TIME",
    "MAX_RESPONSE_TIME",
    "Decision",
    "PermissionRequest",
    "RequestState",
    "answer",
    "expire",
    "parse_request",
    "request_from_json",
]

DEFAULT_RESPONSE_TIME = timedelta(minutes=15)
MAX_RESPONSE_TIME = timedelta(days=7)


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


_DECIDED = {Decision.APPROVE: RequestState.APPROVED, Decision.DENY: RequestState.DENIED}


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    id: str
    party: str
    """Who asks."""
    to: str
    text: str
    template: str | None
    fields: dict[str, str]
    declaration_id: str | None
    """The asking party's own declaration it is about, if any."""
    respond_by: datetime
    state: RequestState
    version: int
    created_at: datetime
    created_by: str
    answered_at: datetime | None = None
    answered_by: str | None = None
    answer_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "to": self.to,
            "text": self.text,
            "template": self.template,
            "fields": self.fields,
            "declaration_id": self.declaration_id,
            "respond_by": format_time(self.respond_by),
            "state": str(self.state),
            "version": self.version,
            "created_at": format_time(self.created_at),
            "created_by": self.created_by,
            "answered_at": None if self.answered_at is None else format_time(self.answered_at),
            "answered_by": self.answered_by,
            "answer_text": self.answer_text,
        }


def request_from_json(raw: Mapping[str, Any]) -> PermissionRequest:
    answered = raw.get("answered_at")
    return PermissionRequest(
        id=raw["id"],
        party=raw["party"],
        to=raw["to"],
        text=raw["text"],
        template=raw["template"],
        fields=dict(raw["fields"]),
        declaration_id=raw["declaration_id"],
        respond_by=parse_time(raw["respond_by"], ""),
        state=RequestState(raw["state"]),
        version=raw["version"],
        created_at=parse_time(raw["created_at"], ""),
        created_by=raw["created_by"],
        answered_at=None if answered is None else parse_time(answered, ""),
        answered_by=raw["answered_by"],
        answer_text=raw["answer_text"],
    )


def parse_request(
    raw: Any, *, id: str, party: str, principal: str, now: datetime
) -> PermissionRequest:
    """``{"to", "template", "fields" | "text", "declaration_id"?, "respond_by"?}``; only a
    request template (or free text) asks."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.one("", "type", "a request is a JSON object")
    unknown = set(raw) - {"to", "template", "fields", "text", "declaration_id", "respond_by"}
    if unknown:
        raise InvalidInput.one(f"/{sorted(unknown)[0]}", "unknown_field", "not a request field")
    to = parse_recipient(raw.get("to"), party)
    if ("template" in raw) == ("text" in raw):
        raise InvalidInput.one("", "template_or_text", "send a template with fields, or a text")
    if "text" in raw:
        text, template, fields = parse_text(raw["text"], "/text"), None, {}
    else:
        template = raw["template"]
        if isinstance(template, str) and template in TEMPLATES and not TEMPLATES[template].request:
            raise InvalidInput.one(
                "/template", "message_template", f"{template} tells: send a message"
            )
        fields = raw.get("fields", {})
        text = render(template, fields)
        fields = dict(fields)
    respond_by = now + DEFAULT_RESPONSE_TIME
    if raw.get("respond_by") is not None:
        respond_by = parse_time(raw["respond_by"], "/respond_by")
        if not now < respond_by <= now + MAX_RESPONSE_TIME:
            raise InvalidInput.one(
                "/respond_by", "respond_by_range", "after now and at most 7 days ahead"
            )
    declaration_id = raw.get("declaration_id")
    if declaration_id is not None and not isinstance(declaration_id, str):
        raise InvalidInput.one("/declaration_id", "type", "a declaration id")
    return PermissionRequest(
        id=id,
        party=party,
        to=to,
        text=text,
        template=template,
        fields=fields,
        declaration_id=declaration_id,
        respond_by=respond_by,
        state=RequestState.PENDING,
        version=1,
        created_at=now,
        created_by=principal,
    )


def answer(
    r: PermissionRequest, principal: str, decision: Any, text: str | None, now: datetime
) -> PermissionRequest:
    try:
        decided = _DECIDED[Decision(decision)]
    except ValueError:
        raise InvalidInput.one("/decision", "enum", "one of: approve, deny") from None
    if r.state is not RequestState.PENDING:
        raise IllegalTransition(f"the request is {r.state} already")
    if now >= r.respond_by:
        raise IllegalTransition("the request expired at its deadline")
    return dataclasses.replace(
        r,
        state=decided,
        version=r.version + 1,
        answered_at=now,
        answered_by=principal,
        answer_text=text,
    )


def expire(r: PermissionRequest, now: datetime) -> PermissionRequest:
    """The request once its deadline passed unanswered; otherwise unchanged."""
    if r.state is not RequestState.PENDING or now < r.respond_by:
        return r
    return dataclasses.replace(
        r, state=RequestState.EXPIRED, version=r.version + 1, answered_at=now
    )
