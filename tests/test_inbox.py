"""The inbox end to end: a channel on a real SQLite file with a fake clock, driven through the
HTTP API in process. Conflicts and releases are told to each party concerned, delivered when a
client fetches them, acknowledged by a person, and escalated up the party's roster when nobody
does, across a restart of the service.

Expected deadlines come from the issue's table (critical 2 min, high 5 min per level), expected
recipients from the roster's shifts against the fake clock; nothing is copied from a response.
Who may see what is in test_need_to_know.py; malformed requests in test_bad_input.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import Api, make_channel_parties
from deconflict.api.app import create_app
from deconflict.disclosure import Role
from deconflict.ledger import Ledger
from deconflict.notes import SignerKey
from deconflict.notifications import Deadlines
from deconflict.principals import Principal
from deconflict.rules import default_rules
from deconflict.service import Channel
from deconflict.settings import Settings
from deconflict.store.sqlite import SqliteStore
from factories import declaration, hospital, point, volume

T0 = datetime(2017, 4, 6, 12, 0, tzinfo=UTC)
"""Noon UTC: the day shift (06:00-18:00) is on, the night shift (18:00-06:00) is off."""
HIGH = timedelta(minutes=5)
"""Time allowed per level for a high notification (an airspace conflict, a release)."""
CRITICAL = timedelta(minutes=2)
MIN = timedelta(minutes=1)
US = timedelta(microseconds=1)

# Principals added to the coalition beside conftest's duty officer and viewer.
COALITION_EXTRA = {
    "coalition_senior": Role.DUTY_OFFICER,
    "coalition_night_senior": Role.DUTY_OFFICER,
    "coalition_flag": Role.DUTY_OFFICER,
    "coalition_admin": Role.PARTY_ADMIN,
}


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def set(self, now: datetime) -> None:
        self.now = now


class Desk:
    """A channel on one SQLite file, its fake clock, and an HTTP client for its principals.
    The app's lifespan is not entered, so no escalation driver runs: :meth:`tick` is one tick
    of it, at the fake clock's time."""

    def __init__(self, tmp_path: Path, *, escalation_tick_s: float = 1.0) -> None:
        self.path = tmp_path / "deconflict.db"
        self.settings = Settings(data_dir=tmp_path, escalation_tick_s=escalation_tick_s)
        self.key = SignerKey.generate("test/ledger")
        self.clock = FakeClock(T0)
        self.tokens: dict[str, str] = {}
        self.api = self._open()
        self.tokens.update(make_channel_parties(self.channel))
        for name, role in COALITION_EXTRA.items():
            self.tokens[name] = self.channel.add_principal("coalition", name, role)[1]

    def _open(self) -> Api:
        channel = Channel(
            SqliteStore(self.path),
            default_rules(),
            Ledger(self.key),
            deadlines=Deadlines(),
            clock=self.clock,
        )
        app = create_app(self.settings, channel)
        return Api(TestClient(app), self.tokens, app)

    @property
    def channel(self) -> Channel:
        return self.api.channel

    def restart(self, downtime: timedelta = timedelta(0)) -> None:
        """Stop the service (its store closed), let the clock run, start it on the same file."""
        self.channel.store.close()
        self.clock.advance(downtime)
        self.api = self._open()

    def close(self) -> None:
        self.channel.store.close()

    def tick(self) -> int:
        return self.channel.inbox.escalate_due()

    def id_of(self, name: str) -> str:
        return self.principal(name).id

    def principal(self, name: str) -> Principal:
        return self.channel.authenticate(self.tokens[name])

    def stored(self, notification_id: str) -> dict[str, Any]:
        """A notification as stored, read without delivering it."""
        with self.channel.store.read() as txn:
            n = txn.get_notification(notification_id)
        assert n is not None
        return n.to_json()

    def inbox(self, party: str) -> list[dict[str, Any]]:
        """A party's notifications as stored, read without delivering them."""
        with self.channel.store.read() as txn:
            return [n.to_json() for n in txn.all_notifications() if n.party == party]

    def the(self, party: str, subject: str = "conflict") -> dict[str, Any]:
        (n,) = [n for n in self.inbox(party) if n["subject"] == subject]
        return n

    def set_roster(self, party: str, *levels: list[tuple[str, str]]) -> None:
        self.channel.inbox.set_roster(None, party, roster_body(self, *levels))

    def evidence_types(self, who: str, object_id: str) -> list[str]:
        r = self.api.get(who, f"/v1/ledger/evidence/{object_id}")
        assert r.status_code == 200, r.text
        return [leaf_of(e["leaf"])["type"] for e in r.json()["entries"]]


def roster_body(desk: Desk, *levels: list[tuple[str, str]]) -> dict[str, Any]:
    """``{"levels": [...]}`` of (principal name, shift) per level."""
    return {
        "levels": [
            {
                "name": f"level {n}",
                "members": [{"principal": desk.id_of(p), "shift": s} for p, s in members],
            }
            for n, members in enumerate(levels, start=1)
        ]
    }


def leaf_of(b64_leaf: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(base64.b64decode(b64_leaf))
    return entry


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    yield d
    d.close()


DAY, NIGHT, ALWAYS = "06:00-18:00", "18:00-06:00", "00:00-00:00"


def three_levels(desk: Desk) -> None:
    """Duty officer by day; a senior by day and another by night; the flag officer always."""
    desk.set_roster(
        "coalition",
        [("coalition", DAY)],
        [("coalition_senior", DAY), ("coalition_night_senior", NIGHT)],
        [("coalition_flag", ALWAYS)],
    )


def air_op(lon: float, title: str = "Armed reconnaissance") -> dict[str, Any]:
    return declaration("air_operation", title, volume(point(lon, 35.0), buffer_m=5_000))


def airspace_conflict(desk: Desk) -> dict[str, Any]:
    """Coalition's and Russia's air operations overlap (high); Russia acknowledges at once, so
    only the coalition's notification is left to escalate. Returns Russia's write."""
    desk.api.declare("coalition", air_op(39.0))
    theirs = desk.api.declare("russia", air_op(39.02))
    russia = desk.the("russia")
    ack(desk, "russia", russia["id"], russia["version"])
    return theirs


def ack(desk: Desk, who: str, notification_id: str, version: int | None, body: Any = None) -> Any:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return desk.api.post(
        who,
        f"/v1/notifications/{notification_id}/ack",
        {} if body is None else body,
        headers=headers,
    )


def record(level: int, at: datetime, *names: str, desk: Desk, reminder: bool = False) -> Any:
    return {
        "level": level,
        "at": stamp(at),
        "notified": [desk.id_of(n) for n in names],
        "reminder": reminder,
    }


# The test: no ack → level 2 at the deadline → level 3 → ack stops it --------------------


def test_an_unacknowledged_conflict_climbs_the_roster_until_someone_acknowledges(
    desk: Desk,
) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    n = desk.the("coalition")
    assert (n["severity"], n["state"], n["escalation_level"]) == ("high", "pending", 1)
    assert n["deadline"] == stamp(T0 + HIGH)
    assert n["escalations"] == [record(1, T0, "coalition", desk=desk)]

    desk.clock.set(T0 + HIGH - US)
    assert desk.tick() == 0
    assert desk.stored(n["id"])["escalation_level"] == 1

    desk.clock.set(T0 + HIGH)
    assert desk.tick() == 1
    n = desk.stored(n["id"])
    assert (n["escalation_level"], n["deadline"]) == (2, stamp(T0 + 2 * HIGH))
    # the day senior is called; the night senior is off shift at 12:05 UTC
    assert n["escalations"][-1] == record(2, T0 + HIGH, "coalition_senior", desk=desk)

    desk.clock.set(T0 + 2 * HIGH)
    assert desk.tick() == 1
    n = desk.stored(n["id"])
    assert (n["escalation_level"], n["deadline"]) == (3, stamp(T0 + 3 * HIGH))
    assert n["escalations"][-1] == record(3, T0 + 2 * HIGH, "coalition_flag", desk=desk)

    desk.clock.set(T0 + 2 * HIGH + MIN)
    r = ack(desk, "coalition_flag", n["id"], n["version"], {"reply": "Holding at FL200"})
    assert r.status_code == 200, r.text
    for later in (3 * HIGH, 4 * HIGH, timedelta(days=1)):
        desk.clock.set(T0 + later)
        assert desk.tick() == 0
    n = desk.stored(n["id"])
    assert (n["state"], n["deadline"], n["escalation_level"]) == ("acknowledged", None, 3)
    assert n["acknowledged_by"] == desk.id_of("coalition_flag")
    assert [e["level"] for e in n["escalations"]] == [1, 2, 3]


def test_the_top_level_is_reminded_every_interval_until_acknowledged(desk: Desk) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    for k in range(1, 6):
        desk.clock.set(T0 + k * HIGH)
        assert desk.tick() == 1
    n = desk.stored(nid)
    assert n["escalation_level"] == 3
    assert n["escalations"][3:] == [
        record(3, T0 + k * HIGH, "coalition_flag", desk=desk, reminder=True) for k in (3, 4, 5)
    ]
    assert n["deadline"] == stamp(T0 + 6 * HIGH)


def test_a_revision_starts_escalation_again_at_level_1(desk: Desk) -> None:
    three_levels(desk)
    theirs = airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + HIGH)
    desk.tick()
    assert desk.stored(nid)["escalation_level"] == 2

    moved_at = T0 + HIGH + MIN
    desk.clock.set(moved_at)
    move_russia(desk, theirs["declaration"]["id"], 39.03, version=1)
    n = desk.stored(nid)
    assert (n["version"], n["escalation_level"], n["state"]) == (2, 1, "pending")
    assert n["deadline"] == stamp(moved_at + HIGH)
    assert n["escalations"][-1] == record(1, moved_at, "coalition", desk=desk)
    desk.clock.set(moved_at + HIGH - US)
    assert desk.tick() == 0
    desk.clock.set(moved_at + HIGH)
    assert desk.tick() == 2  # Russia was told of the move too, and must acknowledge again
    assert desk.stored(nid)["escalation_level"] == 2


def test_a_critical_conflict_escalates_after_two_minutes(desk: Desk) -> None:
    site = desk.api.declare("medics", hospital(released_to=["russia"]))["declaration"]
    desk.api.declare("russia", strike(36.6))
    n = desk.the("medics")
    assert (n["severity"], n["deadline"]) == ("critical", stamp(T0 + CRITICAL))
    assert n["declaration_id"] == site["id"]
    desk.clock.set(T0 + CRITICAL - US)
    assert desk.tick() == 0
    assert desk.stored(n["id"])["escalations"] == n["escalations"]
    desk.clock.set(T0 + CRITICAL)
    assert desk.tick() == 3  # medics, russia and the relay were told; nobody acknowledged
    # medics have no roster: their only level is reminded, and nobody is named
    assert desk.stored(n["id"])["escalations"][-1] == {
        "level": 1,
        "at": stamp(T0 + CRITICAL),
        "notified": [],
        "reminder": True,
    }


def strike(lon: float) -> dict[str, Any]:
    return declaration("strike", "Strike", volume(point(lon, 35.9), buffer_m=300, upper=9_000))


def move_russia(desk: Desk, declaration_id: str, lon: float, version: int) -> dict[str, Any]:
    r = desk.api.patch(
        "russia",
        f"/v1/declarations/{declaration_id}",
        {"volumes": air_op(lon)["volumes"]},
        version,
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


# A restart in the middle resumes exactly once ------------------------------------------------


def escalated_entries(desk: Desk, notification_id: str) -> int:
    return desk.evidence_types("coalition", notification_id).count("notification.escalated")


def test_a_restart_between_levels_resumes_at_the_persisted_deadline_exactly_once(
    desk: Desk,
) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + HIGH)
    assert desk.tick() == 1

    desk.restart(downtime=2 * MIN)  # back at T0 + 7 min: level 3 is due at T0 + 10 min
    assert desk.tick() == 0
    assert desk.stored(nid)["escalation_level"] == 2
    desk.clock.set(T0 + 2 * HIGH)
    assert desk.tick() == 1
    assert desk.tick() == 0  # a second tick at the same instant escalates nothing
    n = desk.stored(nid)
    assert [(e["level"], e["at"]) for e in n["escalations"]] == [
        (1, stamp(T0)),
        (2, stamp(T0 + HIGH)),
        (3, stamp(T0 + 2 * HIGH)),
    ]
    assert escalated_entries(desk, nid) == 2


def test_an_outage_over_several_deadlines_escalates_one_level_on_restart(desk: Desk) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + HIGH)
    desk.tick()

    desk.restart(downtime=22 * MIN)  # down from T0+5 to T0+27: three deadlines missed
    back = T0 + 27 * MIN
    assert desk.tick() == 1
    assert desk.tick() == 0
    n = desk.stored(nid)
    # one level, not three: the flag officer gets a full interval from the restart
    assert [e["level"] for e in n["escalations"]] == [1, 2, 3]
    assert n["escalations"][-1] == record(3, back, "coalition_flag", desk=desk)
    assert n["deadline"] == stamp(back + HIGH)
    desk.clock.set(back + HIGH)
    assert desk.tick() == 1
    assert desk.stored(nid)["escalations"][-1]["reminder"] is True
    assert escalated_entries(desk, nid) == 3


def test_a_restart_right_after_an_escalation_does_not_repeat_it(desk: Desk) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + HIGH)
    assert desk.tick() == 1
    desk.restart()
    assert desk.tick() == 0
    assert [e["level"] for e in desk.stored(nid)["escalations"]] == [1, 2]
    assert escalated_entries(desk, nid) == 1


def test_the_service_resumes_escalation_when_it_starts(tmp_path: Path) -> None:
    """The driver in the app's lifespan ticks on start, then every escalation_tick_s: what fell
    due while the service was down escalates once, and repeated ticks do not repeat it."""
    desk = Desk(tmp_path, escalation_tick_s=0.01)
    try:
        three_levels(desk)
        airspace_conflict(desk)
        nid = desk.the("coalition")["id"]
        desk.restart(downtime=HIGH + MIN)
        with desk.api.client:  # runs the lifespan: the driver starts
            waited = 0.0
            while desk.stored(nid)["escalation_level"] == 1 and waited < 10:
                time.sleep(0.02)
                waited += 0.02
            time.sleep(0.3)  # some thirty more ticks at the same fake instant
            n = desk.stored(nid)
        assert [e["level"] for e in n["escalations"]] == [1, 2]
        assert n["escalations"][-1]["at"] == stamp(T0 + HIGH + MIN)
    finally:
        desk.close()


# One notification per party per conflict, revised as the conflict changes ---------------------


def test_each_party_gets_one_notification_per_conflict_with_its_own_view(desk: Desk) -> None:
    ours = desk.api.declare("coalition", air_op(39.0))["declaration"]
    theirs = desk.api.declare("russia", air_op(39.02))
    (conflict,) = theirs["conflicts"]
    for party, own in (("coalition", ours["id"]), ("russia", theirs["declaration"]["id"])):
        (n,) = desk.inbox(party)
        assert (n["subject"], n["subject_id"], n["conflict_id"]) == (
            "conflict",
            conflict["id"],
            conflict["id"],
        )
        assert n["declaration_id"] == own
        assert n["party"] == party
        assert n["body"] == desk.api.get(party, f"/v1/conflicts/{conflict['id']}").json()
        assert (n["state"], n["version"], n["severity"]) == ("pending", 1, "high")
    assert desk.inbox("medics") == desk.inbox("relay") == []


def test_a_changed_conflict_revises_the_same_notification(desk: Desk) -> None:
    desk.api.declare("coalition", air_op(39.0))
    theirs = desk.api.declare("russia", air_op(39.02))["declaration"]
    first = desk.the("coalition")
    r = ack(desk, "coalition", first["id"], 1, {"reply": "Seen"})
    assert r.status_code == 200, r.text

    moved_at = T0 + 3 * MIN
    desk.clock.set(moved_at)
    moved = move_russia(desk, theirs["id"], 39.03, version=1)
    (conflict,) = moved["conflicts"]
    (n,) = desk.inbox("coalition")
    assert n["id"] == first["id"]
    assert (n["version"], n["state"], n["escalation_level"]) == (2, "pending", 1)
    assert n["deadline"] == stamp(moved_at + HIGH)
    assert (n["acknowledged_by"], n["reply"], n["delivered_at"]) == (None, None, None)
    assert n["body"] == desk.api.get("coalition", f"/v1/conflicts/{conflict['id']}").json()
    assert n["body"]["overlap"] != first["body"]["overlap"]
    assert len(desk.inbox("russia")) == 1

    desk.clock.set(moved_at + MIN)
    move_russia(desk, theirs["id"], 45.0, version=2)  # far away: the conflict is resolved
    (n,) = desk.inbox("coalition")
    assert (n["version"], n["severity"], n["deadline"]) == (3, "info", None)
    assert n["body"]["state"] == "resolved"
    desk.clock.set(moved_at + timedelta(days=1))
    assert desk.tick() == 0


def test_amending_what_the_other_side_is_not_shown_tells_it_nothing_new(desk: Desk) -> None:
    desk.api.declare("coalition", air_op(39.0))
    theirs = desk.api.declare("russia", air_op(39.02))["declaration"]
    before = desk.the("coalition")
    desk.clock.advance(MIN)
    r = desk.api.patch(
        "russia", f"/v1/declarations/{theirs['id']}", {"title": "Renamed", "callsign": "X"}, 1
    )
    assert r.status_code == 200, r.text
    assert desk.the("coalition") == before


# Releases --------------------------------------------------------------------------------------


def test_a_released_object_is_told_to_each_party_it_is_released_to(desk: Desk) -> None:
    site = desk.api.declare("medics", hospital(released_to=["russia"]))["declaration"]
    n = desk.the("russia", "release")
    assert (n["subject_id"], n["severity"], n["state"]) == (site["id"], "high", "pending")
    assert n["conflict_id"] is None
    assert n["deadline"] == stamp(T0 + HIGH)
    assert n["body"] == desk.api.get("russia", f"/v1/declarations/{site['id']}").json()
    assert desk.inbox("coalition") == desk.inbox("medics") == []

    desk.clock.set(T0 + MIN)
    r = desk.api.patch(
        "relay", f"/v1/declarations/{site['id']}", {"released_to": ["russia", "coalition"]}, 1
    )
    assert r.status_code == 200, r.text
    told = desk.the("coalition", "release")
    assert (told["subject_id"], told["version"]) == (site["id"], 1)
    assert told["body"] == desk.api.get("coalition", f"/v1/declarations/{site['id']}").json()


def test_a_released_object_that_moves_is_told_again(desk: Desk) -> None:
    site = desk.api.declare("medics", hospital(released_to=["russia"]))["declaration"]
    first = desk.the("russia", "release")
    assert ack(desk, "russia", first["id"], 1).status_code == 200
    moved_at = T0 + 10 * MIN
    desk.clock.set(moved_at)
    moved = volume(point(36.7, 35.95), buffer_m=100)
    r = desk.api.patch("medics", f"/v1/declarations/{site['id']}", {"volumes": [moved]}, 1)
    assert r.status_code == 200, r.text
    (n,) = desk.inbox("russia")
    assert (n["id"], n["version"], n["state"]) == (first["id"], 2, "pending")
    assert n["deadline"] == stamp(moved_at + HIGH)
    assert n["body"]["volumes"][0]["geometry"]["coordinates"] == [36.7, 35.95]
    assert n["body"] == desk.api.get("russia", f"/v1/declarations/{site['id']}").json()


# Delivery ------------------------------------------------------------------------------------


def test_fetching_the_list_delivers_pending_notifications_to_the_fetcher(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + timedelta(seconds=30))
    r = desk.api.get("coalition_viewer", "/v1/notifications")
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert (item["id"], item["state"], item["delivered_via"]) == (nid, "delivered", "fetch")
    assert item["delivered_to"] == desk.id_of("coalition_viewer")
    assert item["delivered_at"] == stamp(T0 + timedelta(seconds=30))
    assert desk.stored(nid) == item

    desk.clock.advance(MIN)
    again = desk.api.get("coalition", "/v1/notifications").json()["items"]
    assert again == [item]  # the first delivery stands
    assert desk.evidence_types("coalition", nid) == [
        "notification.created",
        "notification.delivered",
    ]


def test_fetching_one_notification_delivers_it_and_gives_its_version(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.advance(MIN)
    r = desk.api.get("coalition", f"/v1/notifications/{nid}")
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    assert (r.json()["state"], r.json()["delivered_to"]) == ("delivered", desk.id_of("coalition"))
    assert r.json()["delivered_at"] == stamp(T0 + MIN)


def test_the_state_filter_and_cursor_walk_a_partys_notifications(desk: Desk) -> None:
    desk.api.declare("coalition", air_op(39.0))
    desk.api.declare("russia", air_op(39.02))
    desk.api.declare("medics", hospital(released_to=["coalition"]))
    desk.api.declare("russia", air_op(38.98, "Second sortie"))
    ids = [n["id"] for n in desk.inbox("coalition")]
    assert len(ids) == 3  # two conflicts and one release

    pending = desk.api.get(
        "coalition", "/v1/notifications", params={"state": "pending", "limit": 2}
    )
    assert pending.status_code == 200
    page = pending.json()
    assert [n["id"] for n in page["items"]] == ids[:2]
    assert all(n["state"] == "delivered" for n in page["items"])  # fetching delivered them
    rest = desk.api.get(
        "coalition", "/v1/notifications", params={"state": "pending", "cursor": page["next"]}
    ).json()
    assert ([n["id"] for n in rest["items"]], rest["next"]) == (ids[2:], None)
    assert (
        desk.api.get("coalition", "/v1/notifications", params={"state": "pending"}).json()["items"]
        == []
    )
    delivered = desk.api.get("coalition", "/v1/notifications", params={"state": "delivered"})
    assert [n["id"] for n in delivered.json()["items"]] == ids


# Acknowledgement -------------------------------------------------------------------------------


def test_acknowledging_records_who_when_and_the_reply_with_a_receipt(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    version = desk.api.get("coalition", f"/v1/notifications/{nid}").headers["ETag"].strip('"')
    desk.clock.advance(2 * MIN)
    r = ack(desk, "coalition", nid, int(version), {"reply": "Moving north of 35.2"})
    assert r.status_code == 200, r.text
    body = r.json()
    n = body["notification"]
    assert (n["state"], n["reply"], n["acknowledged_by"]) == (
        "acknowledged",
        "Moving north of 35.2",
        desk.id_of("coalition"),
    )
    assert (n["acknowledged_at"], n["deadline"]) == (stamp(T0 + 2 * MIN), None)
    assert r.headers["ETag"] == '"1"'
    assert desk.stored(nid) == n
    leaf = desk.api.get("coalition", f"/v1/ledger/leaves/{body['receipt']['leaf_index']}")
    entry = leaf_of(leaf.json()["leaf"])
    assert (entry["type"], entry["by"], entry["object"]) == (
        "notification.acknowledged",
        desk.id_of("coalition"),
        n,
    )


def test_an_empty_acknowledgement_is_enough(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    r = ack(desk, "coalition", nid, 1, {})
    assert r.status_code == 200, r.text
    assert (r.json()["notification"]["state"], r.json()["notification"]["reply"]) == (
        "acknowledged",
        None,
    )


def test_acknowledging_needs_the_version_read(desk: Desk) -> None:
    desk.api.declare("coalition", air_op(39.0))
    theirs = desk.api.declare("russia", air_op(39.02))["declaration"]
    nid = desk.the("coalition")["id"]
    without = ack(desk, "coalition", nid, None)
    assert (without.status_code, without.json()["code"]) == (428, "precondition_required")
    move_russia(desk, theirs["id"], 39.03, version=1)  # the coalition is told again: version 2
    stale = ack(desk, "coalition", nid, 1)
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    n = desk.stored(nid)
    assert (n["state"], n["version"], n["acknowledged_at"]) == ("pending", 2, None)
    assert ack(desk, "coalition", nid, 2).status_code == 200


def test_a_viewer_cannot_acknowledge(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    r = ack(desk, "coalition_viewer", nid, 1)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert desk.stored(nid)["state"] == "pending"


def test_a_second_acknowledgement_is_a_conflict(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    assert ack(desk, "coalition", nid, 1, {"reply": "first"}).status_code == 200
    desk.clock.advance(MIN)
    again = ack(desk, "coalition_senior", nid, 1, {"reply": "second"})
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")
    n = desk.stored(nid)
    assert (n["reply"], n["acknowledged_by"]) == ("first", desk.id_of("coalition"))


def test_a_reply_is_at_most_2000_characters(desk: Desk) -> None:
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    long = ack(desk, "coalition", nid, 1, {"reply": "x" * 2001})
    assert long.status_code == 422
    assert (long.json()["errors"][0]["field"], long.json()["errors"][0]["rule"]) == (
        "/reply",
        "length",
    )
    assert desk.stored(nid)["state"] == "pending"
    fits = ack(desk, "coalition", nid, 1, {"reply": "é" * 2000})
    assert fits.status_code == 200, fits.text
    assert desk.stored(nid)["reply"] == "é" * 2000


# The record in the ledger ----------------------------------------------------------------------


def test_the_ledger_records_each_step_of_a_notification_for_its_recipient(desk: Desk) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.clock.set(T0 + MIN)
    desk.api.get("coalition", "/v1/notifications")
    for k in (1, 2):
        desk.clock.set(T0 + k * HIGH)
        desk.tick()
    desk.clock.set(T0 + 2 * HIGH + MIN)
    ack(desk, "coalition_flag", nid, 1)

    r = desk.api.get("coalition", f"/v1/ledger/evidence/{nid}")
    assert r.status_code == 200, r.text
    entries = [leaf_of(e["leaf"]) for e in r.json()["entries"]]
    assert [(e["type"], e["at"]) for e in entries] == [
        ("notification.created", stamp(T0)),
        ("notification.delivered", stamp(T0 + MIN)),
        ("notification.escalated", stamp(T0 + HIGH)),
        ("notification.escalated", stamp(T0 + 2 * HIGH)),
        ("notification.acknowledged", stamp(T0 + 2 * HIGH + MIN)),
    ]
    assert all(e["object"]["id"] == nid for e in entries)
    assert [e["by"] for e in entries] == [
        desk.id_of("russia"),  # whose write told the coalition
        desk.id_of("coalition"),
        None,  # the service's own driver
        None,
        desk.id_of("coalition_flag"),
    ]
    assert entries[3]["object"]["escalations"][-1] == record(
        3, T0 + 2 * HIGH, "coalition_flag", desk=desk
    )
    for who in ("russia", "medics", "relay", "channel_admin"):
        assert desk.api.get(who, f"/v1/ledger/evidence/{nid}").status_code == 404


def test_a_revision_is_on_the_record(desk: Desk) -> None:
    desk.api.declare("coalition", air_op(39.0))
    theirs = desk.api.declare("russia", air_op(39.02))["declaration"]
    nid = desk.the("coalition")["id"]
    move_russia(desk, theirs["id"], 39.03, version=1)
    assert desk.evidence_types("coalition", nid) == ["notification.created", "notification.revised"]


# Rosters ---------------------------------------------------------------------------------------


def put_roster(desk: Desk, who: str, body: Any) -> Any:
    return desk.api.client.put("/v1/roster", json=body, headers=desk.api.headers(who))


def test_a_party_admin_sets_the_roster_and_every_principal_of_the_party_reads_it(
    desk: Desk,
) -> None:
    body = roster_body(desk, [("coalition", DAY)], [("coalition_senior", ALWAYS)])
    r = put_roster(desk, "coalition_admin", body)
    assert r.status_code == 200, r.text
    expected = {
        "party": "coalition",
        "levels": [{"level": n, **level} for n, level in enumerate(body["levels"], start=1)],
        "gaps": [],
    }
    assert r.json() == expected
    for who in ("coalition", "coalition_viewer", "coalition_flag"):
        assert desk.api.get(who, "/v1/roster").json() == expected


@pytest.mark.parametrize("who", ["coalition", "coalition_viewer", "channel_admin"])
def test_only_the_partys_admin_may_change_its_roster(desk: Desk, who: str) -> None:
    three_levels(desk)
    before = desk.api.get("coalition", "/v1/roster").json()
    r = put_roster(desk, who, roster_body(desk, [("coalition", ALWAYS)]))
    assert r.status_code == 403, r.text
    assert desk.api.get("coalition", "/v1/roster").json() == before


def test_a_party_without_roster_has_a_gap_at_level_1(desk: Desk) -> None:
    assert desk.api.get("russia", "/v1/roster").json() == {
        "party": "russia",
        "levels": [],
        "gaps": [1],
    }


def test_a_level_with_nobody_on_shift_is_a_gap_while_nobody_is(desk: Desk) -> None:
    desk.set_roster("coalition", [("coalition", ALWAYS)], [("coalition_night_senior", NIGHT)], [])
    gaps = {}
    for hour in (5, 6, 12, 17, 18, 23):
        desk.clock.set(T0.replace(hour=hour))
        gaps[hour] = desk.api.get("coalition", "/v1/roster").json()["gaps"]
    assert gaps == {5: [3], 6: [2, 3], 12: [2, 3], 17: [2, 3], 18: [3], 23: [3]}


def test_an_escalation_into_a_gap_is_recorded_as_reaching_nobody(desk: Desk) -> None:
    desk.set_roster(
        "coalition",
        [("coalition", ALWAYS)],
        [("coalition_night_senior", NIGHT)],
        [("coalition_flag", ALWAYS)],
    )
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    assert desk.api.get("coalition", "/v1/roster").json()["gaps"] == [2]
    desk.clock.set(T0 + HIGH)
    desk.tick()
    assert desk.stored(nid)["escalations"][-1] == record(2, T0 + HIGH, desk=desk)
    desk.clock.set(T0 + 2 * HIGH)
    desk.tick()
    assert desk.stored(nid)["escalations"][-1] == record(
        3, T0 + 2 * HIGH, "coalition_flag", desk=desk
    )


def test_a_roster_names_only_active_principals_of_the_party(desk: Desk) -> None:
    three_levels(desk)
    before = desk.api.get("coalition", "/v1/roster").json()
    stranger = roster_body(desk, [("coalition", ALWAYS), ("russia", ALWAYS)])
    r = put_roster(desk, "coalition_admin", stranger)
    assert r.status_code == 422
    first = r.json()["errors"][0]
    assert (first["field"], first["rule"]) == ("/levels", "unknown_principal")
    assert desk.id_of("russia") in first["detail"]
    assert desk.api.get("coalition", "/v1/roster").json() == before

    gone = desk.id_of("coalition_senior")
    desk.channel.revoke_principal(gone)
    before = desk.api.get("coalition", "/v1/roster").json()
    r = put_roster(
        desk,
        "coalition_admin",
        {"levels": [{"name": "duty", "members": [{"principal": gone, "shift": ALWAYS}]}]},
    )
    assert (r.status_code, r.json()["errors"][0]["rule"]) == (422, "unknown_principal")
    assert desk.api.get("coalition", "/v1/roster").json() == before


def test_a_bad_shift_is_refused_and_the_roster_kept(desk: Desk) -> None:
    three_levels(desk)
    before = desk.api.get("coalition", "/v1/roster").json()
    r = put_roster(desk, "coalition_admin", roster_body(desk, [("coalition", "18:00-24:00")]))
    assert r.status_code == 422
    first = r.json()["errors"][0]
    assert (first["field"], first["rule"]) == ("/levels/0/members/0/shift", "shift")
    assert desk.api.get("coalition", "/v1/roster").json() == before


def test_a_new_roster_applies_from_the_next_escalation(desk: Desk) -> None:
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    desk.set_roster(
        "coalition",
        [("coalition", ALWAYS)],
        [("coalition_flag", ALWAYS)],
        [("coalition_senior", ALWAYS)],
    )
    desk.clock.set(T0 + HIGH)
    desk.tick()
    assert desk.stored(nid)["escalations"][-1] == record(2, T0 + HIGH, "coalition_flag", desk=desk)


# The roster changing under a running escalation.


def test_a_roster_cut_to_fewer_levels_reminds_its_new_top_level(desk: Desk) -> None:
    """A notification at level 3 when the roster is cut to two levels must keep reminding the
    top level there is (2), not a level that no longer exists and reaches nobody."""
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    for k in (1, 2):
        desk.clock.set(T0 + k * HIGH)
        desk.tick()
    assert desk.stored(nid)["escalation_level"] == 3
    desk.set_roster("coalition", [("coalition", ALWAYS)], [("coalition_flag", ALWAYS)])
    desk.clock.set(T0 + 3 * HIGH)
    assert desk.tick() == 1
    last = desk.stored(nid)["escalations"][-1]
    assert (last["level"], last["notified"]) == (2, [desk.id_of("coalition_flag")])


def test_a_revoked_principal_on_shift_leaves_a_gap(desk: Desk) -> None:
    """A principal whose token is revoked can be told nothing: a level whose only member on
    shift is revoked has nobody on shift, and an escalation there reaches nobody."""
    three_levels(desk)
    airspace_conflict(desk)
    nid = desk.the("coalition")["id"]
    flag = desk.id_of("coalition_flag")
    desk.channel.revoke_principal(flag)
    assert desk.api.get("coalition", "/v1/roster").json()["gaps"] == [3]
    for k in (1, 2):
        desk.clock.set(T0 + k * HIGH)
        desk.tick()
    assert desk.stored(nid)["escalations"][-1] == record(3, T0 + 2 * HIGH, desk=desk)
