"""Wire schemas of incident reports, permission requests, messages and templates, for the
OpenAPI document. The core validates (naming field and rule); these describe the shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from deconflict.api.schemas import LineString, MultiPolygon, Point, Polygon, Receipt, _Strict
from deconflict.incidents import IncidentKind

__all__ = [
    "EXCHANGE_WRITE_MODELS",
    "AnswerIn",
    "IncidentIn",
    "IncidentOut",
    "IncidentPage",
    "IncidentWritten",
    "MessageIn",
    "MessageOut",
    "MessagePage",
    "MessageWritten",
    "ReplyIn",
    "RequestIn",
    "RequestOut",
    "RequestPage",
    "RequestWritten",
    "TemplateList",
]

Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Place(_Strict):
    geometry: Annotated[Point | LineString | Polygon | MultiPolygon, Field(discriminator="type")]
    buffer_m: float | None = Field(None, description="uncertainty; required > 0 for a Point")


class IncidentIn(_Strict):
    kind: IncidentKind
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text | None = None
    occurred_at: AwareDatetime
    place: Place
    declaration_ids: Annotated[list[str], Field(max_length=20)] | None = None
    parties: Annotated[list[str], Field(min_length=1, max_length=20)]


class ReplyOut(BaseModel):
    party: str
    principal: str
    text: str
    at: AwareDatetime


class IncidentOut(BaseModel):
    id: str
    party: str = Field(description="the reporting party")
    kind: IncidentKind
    title: str
    description: str | None
    occurred_at: AwareDatetime
    place: dict[str, Any]
    declaration_ids: list[str]
    parties: list[str]
    reported_at: AwareDatetime
    reported_by: str
    version: int
    replies: list[ReplyOut]


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next: str | None


class IncidentWritten(BaseModel):
    incident: IncidentOut
    receipt: Receipt


class ReplyIn(_Strict):
    text: Text


class RequestIn(_Strict):
    to: str
    template: str | None = None
    fields: dict[str, str] | None = None
    text: Text | None = None
    declaration_id: str | None = None
    respond_by: AwareDatetime | None = Field(None, description="default: 15 minutes from now")


class RequestOut(BaseModel):
    id: str
    party: str = Field(description="the asking party")
    to: str
    text: str
    template: str | None
    fields: dict[str, str]
    declaration_id: str | None
    respond_by: AwareDatetime
    state: Literal["pending", "approved", "denied", "expired"]
    version: int
    created_at: AwareDatetime
    created_by: str
    answered_at: AwareDatetime | None
    answered_by: str | None
    answer_text: str | None


class RequestPage(BaseModel):
    items: list[RequestOut]
    next: str | None


class RequestWritten(BaseModel):
    request: RequestOut
    receipt: Receipt


class AnswerIn(_Strict):
    decision: Literal["approve", "deny"]
    text: Text | None = None


class MessageIn(_Strict):
    to: str
    template: str | None = None
    fields: dict[str, str] | None = None
    text: Text | None = None


class MessageOut(BaseModel):
    id: str
    party: str = Field(description="the sending party")
    to: str
    text: str
    template: str | None
    fields: dict[str, str]
    sent_at: AwareDatetime
    sent_by: str


class MessagePage(BaseModel):
    items: list[MessageOut]
    next: str | None


class MessageWritten(BaseModel):
    message: MessageOut
    receipt: Receipt


class TemplateOut(BaseModel):
    name: str
    text: str
    fields: list[str]
    request: bool = Field(description="a request template (asks) rather than a message (tells)")


class TemplateList(BaseModel):
    items: list[TemplateOut]


EXCHANGE_WRITE_MODELS: tuple[type[BaseModel], ...] = (
    IncidentIn,
    ReplyIn,
    RequestIn,
    AnswerIn,
    MessageIn,
)
