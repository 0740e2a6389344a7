"""Escalation as a pure state machine: (state, event, now) → (new state, actions).

A notification waits for a person of the recipient party to acknowledge it. When the clock
reaches its deadline unacknowledged, it escalates one level up the party's roster, with a fresh
deadline; at the top level it keeps reminding. An acknowledgement ends it; a revision (the
subject changed) starts it again at level 1. A thin driver feeds it ``Tick`` events from an
injected clock and performs the actions; because the state is persisted with the actions in one
transaction, a restart resumes every escalation exactly where it was.

Legal moves are the table :data:`MOVES`. A notification without a deadline (severity ``info``)
never escalates.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2017, 4, 7, 0, 0, tzinfo=UTC)
>>> two_min = timedelta(minutes=2)
>>> s = Escalation.start(t0, two_min)
>>> s, actions = step(s, Tick(), t0 + two_min, top=3, interval=two_min)
>>> (s.level, s.deadline.minute, actions)
(2, 4, [Notify(level=2)])
>>> s, actions = step(s, Acknowledge(), t0 + timedelta(minutes=3), top=3, interval=two_min)
>>> (str(s.phase), s.deadline, actions)
('acknowledged', None, [])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "MOVES",
    "Acknowledge",
    "Action",
    "Escalation",
    "Event",
    "Notify",
    "Phase",
    "Remind",
    "Revise",
    "Tick",
    "step",
]


class Phase(StrEnum):
    WAITING = "waiting"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class Escalation:
    phase: Phase
    level: int
    """1 is the first level of the roster (the duty officers)."""
    deadline: datetime | None

    @classmethod
    def start(cls, now: datetime, interval: timedelta | None) -> Escalation:
        return cls(Phase.WAITING, 1, None if interval is None else now + interval)


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock moved; due escalations happen."""


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A person of the recipient party acknowledged the notification."""


@dataclass(frozen=True, slots=True)
class Revise:
    """The subject changed: the recipient must acknowledge the new state of it."""


Event = Tick | Acknowledge | Revise


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell the principals on shift at ``level`` (a new level reached)."""

    level: int


@dataclass(frozen=True, slots=True)
class Remind:
    """Tell the principals on shift at the top ``level`` again."""

    level: int


Action = Notify | Remind

MOVES: dict[tuple[Phase, type[Tick] | type[Acknowledge] | type[Revise]], Phase] = {
    (Phase.WAITING, Tick): Phase.WAITING,
    (Phase.WAITING, Acknowledge): Phase.ACKNOWLEDGED,
    (Phase.WAITING, Revise): Phase.WAITING,
    (Phase.ACKNOWLEDGED, Tick): Phase.ACKNOWLEDGED,
    (Phase.ACKNOWLEDGED, Acknowledge): Phase.ACKNOWLEDGED,
    (Phase.ACKNOWLEDGED, Revise): Phase.WAITING,
}
"""(phase, event) → the phase after it; every pair is legal."""


def step(
    state: Escalation, event: Event, now: datetime, *, top: int, interval: timedelta | None
) -> tuple[Escalation, list[Action]]:
    """The state after ``event`` at ``now`` and what the driver must do. ``top`` is the
    recipient roster's highest level (1 without a roster); ``interval`` the time allowed per
    level for the notification's severity (``None``: no deadline)."""
    phase = MOVES[(state.phase, type(event))]
    if isinstance(event, Revise):
        return Escalation.start(now, interval), [Notify(1)]
    if isinstance(event, Acknowledge):
        return Escalation(phase, state.level, None), []
    if phase is Phase.ACKNOWLEDGED or state.deadline is None or now < state.deadline:
        return state, []
    # Due. The next deadline counts from now: after an outage each level still gets its full
    # time, and one tick escalates one level.
    deadline = None if interval is None else now + interval
    if state.level < top:
        return Escalation(phase, state.level + 1, deadline), [Notify(state.level + 1)]
    # At the top; or above it, when the roster was cut to fewer levels: remind the top there is.
    return Escalation(phase, top, deadline), [Remind(top)]
