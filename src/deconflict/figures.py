"""Figures: how the channel is used, the numbers humanitarian organisations asked for and never
got. Notifications sent, acknowledged and overdue, time to acknowledge, escalations by level;
and for each protected object, who was notified of it, who acknowledged, and the incidents
reported against it afterwards.

Pure: the service passes what the caller may see.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from deconflict.declarations import Declaration
from deconflict.incidents import Incident
from deconflict.notifications import Notification, NotificationState, Subject
from deconflict.volumes import format_time

__all__ = ["notification_figures", "percentile", "protected_object_figures"]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); ``None`` for no values.

    >>> percentile([4.0, 1.0, 3.0, 2.0], 50), percentile([4.0, 1.0, 3.0, 2.0], 90)
    (2.0, 4.0)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _told_at(n: Notification) -> datetime:
    """When the current version was told: its creation or last revision."""
    firsts = [e.at for e in n.escalations if e.level == 1 and not e.reminder]
    return max(firsts) if firsts else n.created_at


def notification_figures(notifications: Iterable[Notification]) -> dict[str, Any]:
    items = list(notifications)
    acked = [n for n in items if n.state is NotificationState.ACKNOWLEDGED]
    waits = [
        (n.acknowledged_at - _told_at(n)).total_seconds()
        for n in acked
        if n.acknowledged_at is not None
    ]
    levels: Counter[int] = Counter()
    reminders = 0
    for n in items:
        for e in n.escalations:
            if e.reminder:
                reminders += 1
            elif e.level > 1:
                levels[e.level] += 1
    overdue = sum(1 for n in items if any(e.reminder or e.level > 1 for e in n.escalations))
    return {
        "sent": len(items),
        "delivered": sum(1 for n in items if n.state is not NotificationState.PENDING),
        "acknowledged": len(acked),
        "overdue": overdue,
        "by_severity": dict(sorted(Counter(str(n.severity) for n in items).items())),
        "time_to_acknowledge_s": {"median": percentile(waits, 50), "p90": percentile(waits, 90)},
        "escalations_by_level": {str(k): v for k, v in sorted(levels.items())},
        "reminders": reminders,
    }


def protected_object_figures(
    objects: Iterable[Declaration],
    releases: Iterable[Notification],
    incidents: Iterable[Incident],
) -> list[dict[str, Any]]:
    """For each protected object: the parties notified of it and when they acknowledged, and
    the incidents against it (linked to it) that name a party which had acknowledged it before
    the incident happened."""
    by_object: dict[str, list[Notification]] = {}
    for n in releases:
        if n.subject is Subject.RELEASE:
            by_object.setdefault(n.subject_id, []).append(n)
    linked: dict[str, list[Incident]] = {}
    for incident in incidents:
        for decl_id in incident.declaration_ids:
            linked.setdefault(decl_id, []).append(incident)
    out = []
    for obj in objects:
        notices = by_object.get(obj.id, [])
        acked = {n.party: n.acknowledged_at for n in notices if n.acknowledged_at is not None}
        after = [
            i
            for i in linked.get(obj.id, [])
            if any(p in acked and acked[p] <= i.occurred_at for p in i.parties)
        ]
        out.append(
            {
                "id": obj.id,
                "title": obj.title,
                "notified": [
                    {
                        "party": n.party,
                        "state": str(n.state),
                        "acknowledged_at": None
                        if n.acknowledged_at is None
                        else format_time(n.acknowledged_at),
                    }
                    for n in sorted(notices, key=lambda n: n.party)
                ],
                "incidents": len(linked.get(obj.id, [])),
                "incidents_after_acknowledgement": len(after),
            }
        )
    return out
