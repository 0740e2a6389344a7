"""Wire schemas for the OpenAPI document. Requests are validated by the core (which names the
field and rule of each error); these models describe the same shapes for clients and fuzzers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from deconflict.declarations import Kind, MeasureType, SiteType, State, Verification
from deconflict.rules import ConflictKind, Severity

__all__ = [
    "WRITE_MODELS",
    "Acknowledged",
    "AcknowledgementIn",
    "CheckResult",
    "ConflictOut",
    "ConflictPage",
    "ConsistencyProof",
    "DeclarationIn",
    "DeclarationOut",
    "DeclarationPage",
    "DeclarationPatch",
    "Evidence",
    "InclusionProof",
    "LeafOut",
    "NotificationOut",
    "NotificationPage",
    "Outcome",
    "PartyPage",
    "PrincipalOut",
    "Problem",
    "Receipt",
    "RosterIn",
    "RosterOut",
    "Volume4D",
    "body_doc",
    "problem_doc",
]

Position = Annotated[
    list[Annotated[float, Field(allow_inf_nan=False)]],
    Field(min_length=2, max_length=2, description="[lon, lat] in degrees"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_Strict):
    type: Literal["Point"]
    coordinates: Position


class LineString(_Strict):
    type: Literal["LineString"]
    coordinates: Annotated[list[Position], Field(min_length=2)]


class Polygon(_Strict):
    type: Literal["Polygon"]
    coordinates: Annotated[
        list[Annotated[list[Position], Field(min_length=4)]], Field(min_length=1)
    ]


class MultiPolygon(_Strict):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[
        list[Annotated[list[Annotated[list[Position], Field(min_length=4)]], Field(min_length=1)]],
        Field(min_length=1),
    ]


class AltitudeBand(_Strict):
    lower: float
    upper: float
    units: Literal["m", "ft"]
    reference: Literal["W84", "AMSL"]


class TimeWindow(_Strict):
    start: AwareDatetime
    end: AwareDatetime


class Volume4D(_Strict):
    geometry: Annotated[Point | LineString | Polygon | MultiPolygon, Field(discriminator="type")]
    buffer_m: (
        Annotated[float, Field(ge=0, description="required > 0 for Point and LineString")] | None
    ) = None
    altitude: AltitudeBand
    time: TimeWindow


class _DeclarationFields(_Strict):
    callsign: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    purpose: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    released_to: list[str] | None = Field(
        None, description="protected_site and humanitarian_movement only"
    )
    verification: Verification | None = None
    expires_at: AwareDatetime | None = None
    site_type: SiteType | None = Field(None, description="protected_site only")
    measure: MeasureType | None = Field(None, description="coordination_measure only")
    controlling_party: str | None = Field(None, description="coordination_measure only")
    emergency: bool | None = Field(
        None, description="humanitarian_movement only: a shorter minimum notice"
    )


class NoticeOut(BaseModel):
    lead_time_s: float = Field(description="from acceptance to the earliest start; < 0: late")
    minimum_s: float | None = Field(description="the kind's minimum notice; null: none")
    late: bool
    short: bool = Field(description="under the kind's warning threshold (strikes: 15 min)")


class DeclarationIn(_DeclarationFields):
    kind: Kind
    title: Annotated[str, Field(min_length=1, max_length=200)]
    volumes: Annotated[list[Volume4D], Field(min_length=1, max_length=50)]
    state: Literal["planned", "active"] = "planned"


class DeclarationPatch(_DeclarationFields):
    """A JSON merge patch; send ``If-Match`` with the version you read."""

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    volumes: Annotated[list[Volume4D], Field(min_length=1, max_length=50)] | None = None
    state: State | None = None


class DeclarationOut(_DeclarationFields):
    id: str
    kind: Kind
    title: str
    party: str
    version: int
    state: State
    volumes: list[Volume4D]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    notice: NoticeOut | None = Field(description="the lead time it gave when accepted")


class ConflictOut(BaseModel):
    id: str
    kind: ConflictKind
    severity: Severity
    state: Literal["open", "resolved"]
    version: int
    declaration_id: str = Field(description="the caller's own declaration")
    party: str
    other_party: str
    other_kind: Kind
    overlap: Volume4D
    overlaps: list[Volume4D]
    detected_at: AwareDatetime
    updated_at: AwareDatetime


class FieldProblem(BaseModel):
    field: str = Field(description="JSON Pointer into the body, or the parameter's name")
    rule: str
    detail: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


class PrincipalOut(BaseModel):
    id: str
    party: str
    name: str
    role: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class PartyOut(BaseModel):
    id: str
    name: str
    created_at: AwareDatetime


class PartyPage(BaseModel):
    items: list[PartyOut]
    next: str | None


class DeclarationPage(BaseModel):
    items: list[DeclarationOut]
    next: str | None = Field(description="cursor of the next page, or null on the last")


class ConflictPage(BaseModel):
    items: list[ConflictOut]
    next: str | None = Field(description="cursor of the next page, or null on the last")


Hash = Annotated[str, Field(description="32-byte SHA-256 hash, standard base64")]


class Receipt(BaseModel):
    leaf_index: int = Field(ge=0, description="index of the write's leaf in the ledger")
    leaf_hash: Hash
    checkpoint: str = Field(description="signed C2SP checkpoint whose tree includes the leaf")
    inclusion: list[Hash] = Field(description="RFC 9162 inclusion proof against the checkpoint")


class Outcome(BaseModel):
    declaration: DeclarationOut
    conflicts: list[ConflictOut] = Field(description="its open conflicts, as the caller sees them")
    receipt: Receipt


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[Hash]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[Hash]


class LeafOut(BaseModel):
    index: int
    leaf: str = Field(description="the exact leaf bytes (RFC 8785 JSON), standard base64")


class EvidenceEntry(BaseModel):
    leaf_index: int
    leaf: str = Field(description="the exact leaf bytes, standard base64")
    inclusion: list[Hash] = Field(description="inclusion proof against the file's checkpoint")


class Evidence(BaseModel):
    format: Literal["deconflict-evidence/1"]
    subject: str
    exported_by: dict[str, str]
    exported_at: AwareDatetime
    verifier_key: str = Field(description="the ledger's key, note verifier-key format")
    checkpoint: str
    entries: list[EvidenceEntry]


class EscalationOut(BaseModel):
    level: int
    at: AwareDatetime
    notified: list[str] = Field(description="principals on shift at that level then")
    reminder: bool


class NotificationOut(BaseModel):
    id: str
    party: str = Field(description="the recipient party")
    subject: Literal[
        "conflict", "incident", "launch_notice", "request", "message", "release", "encounter"
    ]
    subject_id: str
    severity: Severity
    state: Literal["pending", "delivered", "acknowledged"]
    version: int
    deadline: AwareDatetime | None
    escalation_level: int
    conflict_id: str | None
    declaration_id: str | None = Field(description="for a conflict, the recipient's own")
    body: dict[str, Any] = Field(description="what the recipient is told")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    delivered_at: AwareDatetime | None
    delivered_to: str | None
    delivered_via: str | None
    acknowledged_at: AwareDatetime | None
    acknowledged_by: str | None
    reply: str | None
    escalations: list[EscalationOut]


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next: str | None = Field(description="cursor of the next page, or null on the last")


class AcknowledgementIn(_Strict):
    reply: Annotated[str, Field(max_length=2000)] | None = None


class Acknowledged(BaseModel):
    notification: NotificationOut
    receipt: Receipt


class RosterMember(_Strict):
    principal: str
    shift: Annotated[
        str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
    ]


class RosterLevelIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    members: list[RosterMember]


class RosterIn(_Strict):
    levels: Annotated[list[RosterLevelIn], Field(min_length=1, max_length=10)]


class RosterLevelOut(RosterLevelIn):
    level: int


class RosterOut(BaseModel):
    party: str
    levels: list[RosterLevelOut]
    gaps: list[int] = Field(description="levels with nobody on shift now: a health alarm")


class CheckResult(BaseModel):
    conflicts: list[ConflictOut]


def body_doc(model: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body the core parses and validates itself: the
    OpenAPI document names the model that describes it."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


def problem_doc(description: str) -> dict[str, Any]:
    """The OpenAPI description of a problem response (``application/problem+json``)."""
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


WRITE_MODELS: tuple[type[BaseModel], ...] = (
    AcknowledgementIn,
    RosterIn,
    DeclarationIn,
    DeclarationPatch,
    DeclarationOut,
    ConflictOut,
    Problem,
)
