"""Lead time: a declaration is accepted however late, but flagged late (or short) to every
party told of it, with the notice it actually gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import Api
from deconflict.declarations import Kind
from deconflict.notice import NoticePolicy, assess
from factories import box, declaration, point, volume

T0 = datetime(2018, 9, 17, 19, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("kind", "emergency", "lead", "late", "short"),
    [
        (Kind.LAUNCH_NOTICE, False, 23 * H, True, False),
        (Kind.LAUNCH_NOTICE, False, 24 * H, False, False),  # exactly the minimum is enough
        (Kind.STRIKE, False, timedelta(minutes=1), False, True),  # the Il-20's "under a minute"
        (Kind.STRIKE, False, timedelta(minutes=15), False, False),
        (Kind.STRIKE, False, -timedelta(minutes=5), True, True),  # already under way
        (Kind.HUMANITARIAN_MOVEMENT, False, 47 * H, True, False),
        (Kind.HUMANITARIAN_MOVEMENT, True, 30 * H, False, False),
        (Kind.HUMANITARIAN_MOVEMENT, True, 23 * H, True, False),
        (Kind.AIR_OPERATION, False, -H, False, False),  # no minimum for this kind
    ],
)
def test_notice_against_the_minimum_of_each_kind(
    kind: Kind, emergency: bool, lead: timedelta, late: bool, short: bool
) -> None:
    notice = assess(kind, emergency, T0 + lead, T0, NoticePolicy())
    assert notice.lead_time_s == lead.total_seconds()
    assert (notice.late, notice.short) == (late, short)


def window(start: datetime, hours: float = 2) -> dict[str, str]:
    return {
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
    }


def launch(start: datetime) -> dict[str, Any]:
    body = declaration("launch_notice", "Test launch", volume(box(38.0, 35.0, 38.2, 35.2)))
    body["volumes"][0]["time"] = window(start)
    return body


def test_a_late_launch_notice_is_accepted_and_flagged_with_the_lead_time_it_gave(
    api: Api,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    before = datetime.now(UTC)
    made = api.declare("russia", launch(start))["declaration"]
    notice = made["notice"]
    assert notice["late"] is True
    assert notice["minimum_s"] == 24 * 3600
    expected = (start - before).total_seconds()
    assert expected - 5 <= notice["lead_time_s"] <= expected


def test_a_conflict_raised_by_a_late_declaration_is_flagged_to_the_other_party(api: Api) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    sortie = declaration("air_operation", "CAP", volume(point(38.1, 35.1), buffer_m=5_000))
    sortie["volumes"][0]["time"] = window(start - timedelta(hours=1), hours=4)
    api.declare("coalition", sortie)
    made = api.declare("russia", launch(start))
    assert made["conflicts"], "the launch area overlaps the CAP"
    items = api.get("coalition", "/v1/notifications").json()["items"]
    (told,) = [n for n in items if n["subject"] == "conflict"]
    assert told["notice"]["late"] is True
    assert told["notice"] == made["declaration"]["notice"]


def test_moving_the_window_is_new_notice_and_renaming_is_not(api: Api) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=30)
    made = api.declare("russia", launch(start))["declaration"]
    assert made["notice"]["late"] is False
    renamed = api.patch("russia", f"/v1/declarations/{made['id']}", {"title": "Renamed"}, 1)
    assert renamed.json()["declaration"]["notice"] == made["notice"]
    sooner = launch(start - timedelta(hours=20))["volumes"]
    moved = api.patch("russia", f"/v1/declarations/{made['id']}", {"volumes": sooner}, 2)
    assert moved.status_code == 200, moved.text
    assert moved.json()["declaration"]["notice"]["late"] is True


def test_emergency_is_a_field_of_movements_only(api: Api) -> None:
    body = declaration("air_operation", "CAP", volume(point(38.1, 35.1), buffer_m=500))
    r = api.post("coalition", "/v1/declarations", {**body, "emergency": True})
    assert r.status_code == 422
    assert r.json()["errors"][0]["rule"] == "not_applicable"


def test_a_launch_notice_warns_every_other_party_with_its_areas_but_not_its_secrets(
    api: Api,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=30)
    body = {**launch(start), "callsign": "TOPOL 3", "purpose": "test of the new warhead"}
    made = api.declare("russia", body)["declaration"]
    for party in ("coalition", "medics", "relay"):
        items = api.get(party, "/v1/notifications").json()["items"]
        (told,) = [n for n in items if n["subject"] == "launch_notice"]
        assert told["severity"] == "high"
        assert told["body"]["volumes"] == made["volumes"]
        assert told["body"]["notice"] == made["notice"]
        for secret in ("TOPOL", "warhead", "Test launch"):
            assert secret not in str(told)
    assert api.get("russia", "/v1/notifications").json()["items"] == []  # not its own
    cancelled = api.delete("russia", f"/v1/declarations/{made['id']}", 1)
    assert cancelled.status_code == 200
    items = api.get("coalition", "/v1/notifications").json()["items"]
    (told,) = [n for n in items if n["subject"] == "launch_notice"]
    assert (told["body"]["state"], told["severity"], told["deadline"]) == (
        "cancelled",
        "info",
        None,
    )
