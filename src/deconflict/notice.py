"""Lead time: how much notice a declaration gave, against the minimum for its kind.

A declaration is accepted however late it comes (refusing it would only take it off the
channel), but a late one is flagged to every party told of it, with the lead time it actually
had. The Il-20 was shot down in September 2018 after a warning of "less than one minute".

The lead time is from the moment the declaration (or the amendment that moved its window) was
accepted to the start of its earliest volume; negative when it had already started.

>>> from datetime import UTC, datetime, timedelta
>>> policy = NoticePolicy()
>>> policy.minimum(Kind.LAUNCH_NOTICE, emergency=False)
datetime.timedelta(days=1)
>>> n = assess(Kind.STRIKE, False, datetime(2018, 9, 17, 19, 0, tzinfo=UTC),
...            datetime(2018, 9, 17, 18, 59, tzinfo=UTC), policy)
>>> (n.lead_time_s, n.late, n.short)
(60.0, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from deconflict.declarations import Kind

__all__ = ["Notice", "NoticePolicy", "assess"]


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


@dataclass(frozen=True, slots=True)
class NoticePolicy:
    """Minimum notice per kind (kinds not named need none), the shorter one of an emergency
    movement, and the notice under which a strike is flagged short though not late."""

    minimums: dict[Kind, timedelta] = field(
        default_factory=lambda: {
            Kind.LAUNCH_NOTICE: _hours(24),
            Kind.STRIKE: timedelta(0),
            Kind.HUMANITARIAN_MOVEMENT: _hours(48),
        }
    )
    emergency_minimums: dict[Kind, timedelta] = field(
        default_factory=lambda: {Kind.HUMANITARIAN_MOVEMENT: _hours(24)}
    )
    short_under: dict[Kind, timedelta] = field(
        default_factory=lambda: {Kind.STRIKE: timedelta(minutes=15)}
    )

    def minimum(self, kind: Kind, *, emergency: bool) -> timedelta | None:
        if emergency and kind in self.emergency_minimums:
            return self.emergency_minimums[kind]
        return self.minimums.get(kind)


@dataclass(frozen=True, slots=True)
class Notice:
    lead_time_s: float
    minimum_s: float | None
    """``None``: the kind needs no minimum notice."""
    late: bool
    """Less notice than the kind's minimum."""
    short: bool
    """Less notice than the kind's warning threshold (a strike under 15 minutes)."""

    @property
    def flagged(self) -> bool:
        return self.late or self.short

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_time_s": self.lead_time_s,
            "minimum_s": self.minimum_s,
            "late": self.late,
            "short": self.short,
        }


def assess(
    kind: Kind, emergency: bool, start: datetime, accepted_at: datetime, policy: NoticePolicy
) -> Notice:
    """The notice a declaration of ``kind`` whose earliest volume starts at ``start`` gave when
    it was accepted at ``accepted_at``."""
    lead = start - accepted_at
    minimum = policy.minimum(kind, emergency=emergency)
    short_under = policy.short_under.get(kind)
    return Notice(
        lead_time_s=round(lead.total_seconds(), 3),
        minimum_s=None if minimum is None else minimum.total_seconds(),
        late=minimum is not None and lead < minimum,
        short=short_under is not None and lead < short_under,
    )
