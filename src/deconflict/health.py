"""Channel health: whether each party's link is alive and staffed, as every party may see it.

Russia suspended the deconfliction line twice in 2017; the channel has to keep working for the
others and show the suspension plainly. A scheduled line test per party (like the twice-daily
test call of the real lines) that must be acknowledged proves each link alive; a level of a
roster with nobody on shift, a line test overdue, or a party not seen for long are alarms.

Pure: the service gathers the facts and the clock.

>>> from datetime import UTC, datetime, time
>>> due_line_test(datetime(2017, 4, 7, 6, 30, tzinfo=UTC), (time(6), time(18)), None)
datetime.datetime(2017, 4, 7, 6, 0, tzinfo=datetime.timezone.utc)
>>> due_line_test(datetime(2017, 4, 7, 6, 30, tzinfo=UTC), (time(6), time(18)),
...               datetime(2017, 4, 7, 6, 0, tzinfo=UTC)) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from deconflict.notifications import Notification, NotificationState
from deconflict.volumes import format_time

__all__ = [
    "LINE_TEST_TEMPLATE",
    "PartyHealth",
    "Suspension",
    "due_line_test",
    "parse_line_test_times",
]

LINE_TEST_TEMPLATE = "confirm_channel_test"
_TIMES = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9]))$")


def parse_line_test_times(text: str) -> tuple[time, ...]:
    """``"06:00,18:00"`` → the UTC times of day a line test goes to every party; ``""``: none."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        match = _TIMES.match(item)
        if match is None:
            raise ValueError(f"{item!r} is not a UTC time HH:MM")
        out.append(time(int(match[1]), int(match[2])))
    return tuple(sorted(set(out)))


def due_line_test(now: datetime, times: Sequence[time], last: datetime | None) -> datetime | None:
    """The latest scheduled line test at or before ``now`` that was not sent yet (after
    ``last``, the last one sent), or ``None``. Only the latest: after an outage a party gets one
    line test, not one per missed slot."""
    if not times:
        return None
    day = now.astimezone(UTC).date()
    slots = [
        datetime.combine(day - timedelta(days=d), t, tzinfo=UTC) for d in (1, 0) for t in times
    ]
    past = [s for s in slots if s <= now]
    latest = max(past) if past else None
    if latest is None or (last is not None and latest <= last):
        return None
    return latest


@dataclass(frozen=True, slots=True)
class Suspension:
    party: str
    since: datetime
    reason: str
    by: str

    def to_json(self) -> dict[str, Any]:
        return {"since": format_time(self.since), "reason": self.reason, "by": self.by}


@dataclass(frozen=True, slots=True)
class PartyHealth:
    party: str
    name: str
    suspension: Suspension | None
    last_seen: datetime | None
    line_test: Notification | None
    gaps: tuple[int, ...]
    """Roster levels with nobody on shift now."""

    def alarms(self, now: datetime, not_seen: timedelta) -> list[str]:
        out = []
        if self.suspension is not None:
            out.append("suspended")
        if self.gaps:
            out.append("nobody_on_shift")
        test = self.line_test
        if test is not None and test.state is not NotificationState.ACKNOWLEDGED:
            escalated = len(test.escalations) > 1  # past a deadline at least once
            if escalated or (test.deadline is not None and now >= test.deadline):
                out.append("line_test_overdue")
        if self.last_seen is None or now - self.last_seen > not_seen:
            out.append("not_seen")
        return out

    def to_json(self, now: datetime, not_seen: timedelta, *, own: bool) -> dict[str, Any]:
        test = self.line_test
        return {
            "id": self.party,
            "name": self.name,
            "suspended": None if self.suspension is None else self.suspension.to_json(),
            "last_seen": None if self.last_seen is None else format_time(self.last_seen),
            "line_test": None
            if test is None
            else {
                "sent_at": format_time(test.created_at),
                "state": str(test.state),
                "acknowledged_at": None
                if test.acknowledged_at is None
                else format_time(test.acknowledged_at),
            },
            # which levels are empty is the party's own business; that one is, everyone's
            "roster_gaps": list(self.gaps) if own else None,
            "alarms": self.alarms(now, not_seen),
        }
