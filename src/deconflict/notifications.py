"""Notifications: what a party is told, and the proof that a person of it took it in.

One notification per recipient party per subject (a conflict, a protected object released to
it, and later incidents, launch notices, requests and messages), revised when the subject
changes. Two stages per recipient: *delivered* (a principal's client received it: the live
stream, a webhook 2xx or a fetch) and *acknowledged* (a person's explicit act, with an optional
reply). Its deadline comes from its severity; escalation (:mod:`deconflict.escalation`) moves
it up the recipient's roster when the deadline passes unacknowledged.

Pure: the store, the clock and the ids come from outside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from deconflict.errors import IllegalTransition, InvalidInput
from deconflict.escalation import (
    Acknowledge,
    Action,
    Escalation,
    Phase,
    Remind,
    Revise,
    Tick,
    step,
)
from deconflict.rules import Severity
from deconflict.volumes import format_time, parse_time

__all__ = [
    "MAX_REPLY_CHARS",
    "Deadlines",
    "EscalationRecord",
    "Notification",
    "NotificationState",
    "Subject",
    "acknowledge",
    "deliver",
    "escalate",
    "from_json",
    "new_notification",
    "revise",
]

MAX_REPLY_CHARS = 2000


class Subject(StrEnum):
    CONFLICT = "conflict"
    INCIDENT = "incident"
    LAUNCH_NOTICE = "launch_notice"
    REQUEST = "request"
    MESSAGE = "message"
    RELEASE = "release"
    ENCOUNTER = "encounter"


class NotificationState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Time allowed per escalation level, by severity; ``None``: no deadline."""

    critical: timedelta | None = timedelta(minutes=2)
    high: timedelta | None = timedelta(minutes=5)
    medium: timedelta | None = timedelta(minutes=15)
    info: timedelta | None = None

    def interval(self, severity: Severity) -> timedelta | None:
        interval: timedelta | None = getattr(self, str(severity))
        return interval


@dataclass(frozen=True, slots=True)
class EscalationRecord:
    level: int
    at: datetime
    notified: tuple[str, ...]
    """Principals on shift at that level when it was reached (or reminded)."""
    reminder: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "at": format_time(self.at),
            "notified": list(self.notified),
            "reminder": self.reminder,
        }


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    party: str
    """The recipient party."""
    subject: Subject
    subject_id: str
    severity: Severity
    state: NotificationState
    version: int
    body: dict[str, Any]
    """What the recipient is told: the conflict as it sees it, the released object, …"""
    created_at: datetime
    updated_at: datetime
    deadline: datetime | None
    escalation_level: int = 1
    conflict_id: str | None = None
    declaration_id: str | None = None
    """For a conflict, the recipient's own declaration in it."""
    delivered_at: datetime | None = None
    delivered_to: str | None = None
    delivered_via: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    reply: str | None = None
    escalations: tuple[EscalationRecord, ...] = field(default=())
    notice: dict[str, Any] | None = None
    """The lead time given by the declaration whose acceptance raised (or last revised) this
    notification: a late one is flagged to every recipient."""

    @property
    def escalation(self) -> Escalation:
        phase = (
            Phase.ACKNOWLEDGED if self.state is NotificationState.ACKNOWLEDGED else Phase.WAITING
        )
        return Escalation(phase, self.escalation_level, self.deadline)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "subject": str(self.subject),
            "subject_id": self.subject_id,
            "severity": str(self.severity),
            "state": str(self.state),
            "version": self.version,
            "deadline": _time(self.deadline),
            "escalation_level": self.escalation_level,
            "conflict_id": self.conflict_id,
            "declaration_id": self.declaration_id,
            "body": self.body,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "delivered_at": _time(self.delivered_at),
            "delivered_to": self.delivered_to,
            "delivered_via": self.delivered_via,
            "acknowledged_at": _time(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "reply": self.reply,
            "escalations": [e.to_json() for e in self.escalations],
            "notice": self.notice,
        }


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _parse(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value, "")


def from_json(raw: dict[str, Any]) -> Notification:
    """A notification as :meth:`Notification.to_json` wrote it (trusted: from the store)."""
    return Notification(
        id=raw["id"],
        party=raw["party"],
        subject=Subject(raw["subject"]),
        subject_id=raw["subject_id"],
        severity=Severity(raw["severity"]),
        state=NotificationState(raw["state"]),
        version=raw["version"],
        body=raw["body"],
        created_at=parse_time(raw["created_at"], ""),
        updated_at=parse_time(raw["updated_at"], ""),
        deadline=_parse(raw["deadline"]),
        escalation_level=raw["escalation_level"],
        conflict_id=raw["conflict_id"],
        declaration_id=raw["declaration_id"],
        delivered_at=_parse(raw["delivered_at"]),
        delivered_to=raw["delivered_to"],
        delivered_via=raw["delivered_via"],
        acknowledged_at=_parse(raw["acknowledged_at"]),
        acknowledged_by=raw["acknowledged_by"],
        reply=raw["reply"],
        escalations=tuple(
            EscalationRecord(
                e["level"], parse_time(e["at"], ""), tuple(e["notified"]), e["reminder"]
            )
            for e in raw["escalations"]
        ),
        notice=raw.get("notice"),
    )


def new_notification(
    *,
    id: str,
    party: str,
    subject: Subject,
    subject_id: str,
    severity: Severity,
    body: dict[str, Any],
    now: datetime,
    deadlines: Deadlines,
    notified: tuple[str, ...],
    conflict_id: str | None = None,
    declaration_id: str | None = None,
    notice: dict[str, Any] | None = None,
) -> Notification:
    """A fresh notification at level 1; ``notified`` are the principals on shift there."""
    start = Escalation.start(now, deadlines.interval(severity))
    return Notification(
        id=id,
        party=party,
        subject=subject,
        subject_id=subject_id,
        severity=severity,
        state=NotificationState.PENDING,
        version=1,
        body=body,
        created_at=now,
        updated_at=now,
        deadline=start.deadline,
        escalation_level=start.level,
        conflict_id=conflict_id,
        declaration_id=declaration_id,
        escalations=(EscalationRecord(1, now, notified),),
        notice=notice,
    )


def revise(
    n: Notification,
    *,
    body: dict[str, Any],
    severity: Severity,
    now: datetime,
    deadlines: Deadlines,
    notified: tuple[str, ...],
    notice: dict[str, Any] | None = None,
) -> Notification:
    """The subject changed: the recipient is told again and must acknowledge again. Returns
    ``n`` itself when nothing the recipient is told changed."""
    if body == n.body and severity == n.severity:
        return n
    state, _ = step(n.escalation, Revise(), now, top=1, interval=deadlines.interval(severity))
    return dataclasses.replace(
        n,
        body=body,
        severity=severity,
        state=NotificationState.PENDING,
        version=n.version + 1,
        updated_at=now,
        deadline=state.deadline,
        escalation_level=state.level,
        delivered_at=None,
        delivered_to=None,
        delivered_via=None,
        acknowledged_at=None,
        acknowledged_by=None,
        reply=None,
        escalations=(*n.escalations, EscalationRecord(1, now, notified)),
        notice=notice,
    )


def deliver(n: Notification, principal: str, via: str, now: datetime) -> Notification:
    """Record the first delivery of this version; later ones change nothing."""
    if n.state is not NotificationState.PENDING:
        return n
    return dataclasses.replace(
        n,
        state=NotificationState.DELIVERED,
        delivered_at=now,
        delivered_to=principal,
        delivered_via=via,
        updated_at=now,
    )


def acknowledge(n: Notification, principal: str, reply: str | None, now: datetime) -> Notification:
    if n.state is NotificationState.ACKNOWLEDGED:
        raise IllegalTransition(f"notification {n.id} version {n.version} is acknowledged already")
    if reply is not None and len(reply) > MAX_REPLY_CHARS:
        raise InvalidInput.one("/reply", "length", f"at most {MAX_REPLY_CHARS} characters")
    state, _ = step(n.escalation, Acknowledge(), now, top=n.escalation_level, interval=None)
    return dataclasses.replace(
        n,
        state=NotificationState.ACKNOWLEDGED,
        deadline=state.deadline,
        acknowledged_at=now,
        acknowledged_by=principal,
        reply=reply,
        delivered_at=n.delivered_at or now,
        delivered_to=n.delivered_to or principal,
        delivered_via=n.delivered_via or "acknowledgement",
        updated_at=now,
    )


def escalate(
    n: Notification,
    now: datetime,
    *,
    top: int,
    deadlines: Deadlines,
    on_shift: Callable[[int], Sequence[str]],
) -> tuple[Notification, list[Action]]:
    """Apply the clock to ``n``: escalate or remind if its deadline passed. ``on_shift(level)``
    names the principals on shift at a level, recorded with each escalation."""
    state, actions = step(
        n.escalation, Tick(), now, top=top, interval=deadlines.interval(n.severity)
    )
    if not actions:
        return n, []
    records = tuple(
        EscalationRecord(a.level, now, tuple(on_shift(a.level)), reminder=isinstance(a, Remind))
        for a in actions
    )
    return (
        dataclasses.replace(
            n,
            deadline=state.deadline,
            escalation_level=state.level,
            updated_at=now,
            escalations=(*n.escalations, *records),
        ),
        actions,
    )
