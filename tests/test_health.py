"""Channel health through the channel, on a real SQLite file with a fake clock: a party's
suspension is visible to all and stops nothing else, line tests go out on schedule and must be
acknowledged, and each party's last-seen time survives a restart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import make_channel_parties
from deconflict.disclosure import Role
from deconflict.errors import Forbidden, IllegalTransition
from deconflict.principals import Principal
from deconflict.rules import default_rules
from deconflict.service import Channel
from deconflict.store.sqlite import SqliteStore
from factories import declaration, point, throwaway_ledger, volume

T0 = datetime(2017, 4, 7, 7, 0, tzinfo=UTC)  # after the 06:00 line test, before the 18:00 one
TIMES = (time(6, 0), time(18, 0))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    path: Path
    channel: Channel
    clock: Clock
    tokens: dict[str, str]

    def who(self, name: str) -> Principal:
        return next(p for p in self.channel.list_principals() if p.name == name)

    def health_of(self, viewer: str, party: str) -> dict[str, Any]:
        report = self.channel.monitor.report(self.who(viewer))
        return next(p for p in report["parties"] if p["id"] == party)

    def reopen(self) -> None:
        self.channel.store.close()
        self.channel = channel_on(self.path, self.clock)


def channel_on(path: Path, clock: Clock) -> Channel:
    ledger = throwaway_ledger()
    return Channel(SqliteStore(path), default_rules(), ledger, clock=clock, line_test_times=TIMES)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    path = tmp_path / "d.db"
    channel = channel_on(path, clock)
    tokens = make_channel_parties(channel)
    channel.add_principal("russia", "russia_admin", Role.PARTY_ADMIN)
    w = World(path, channel, clock, tokens)
    yield w
    w.channel.store.close()


def line_tests(world: World, party: str) -> list[dict[str, Any]]:
    with world.channel.store.read() as txn:
        return [
            n.to_json()
            for n in txn.all_notifications()
            if n.party == party and n.subject_id.startswith("line-test/")
        ]


def test_a_suspension_is_visible_to_every_party_and_the_channel_goes_on(world: World) -> None:
    with pytest.raises(Forbidden):
        world.channel.monitor.suspend(world.who("russia"), {"reason": "x"})  # a duty officer
    receipt = world.channel.monitor.suspend(world.who("russia_admin"), {"reason": "US strike"})
    assert receipt is not None
    seen = world.health_of("coalition", "russia")
    assert seen["suspended"]["reason"] == "US strike"
    assert "suspended" in seen["alarms"]
    with pytest.raises(IllegalTransition):
        world.channel.monitor.suspend(world.who("russia_admin"), {"reason": "again"})
    # the others still deconflict, with russia too
    sortie = declaration("air_operation", "CAP", volume(point(38.0, 35.0), buffer_m=5_000))
    world.channel.declare(world.who("russia"), sortie)
    out = world.channel.declare(world.who("coalition"), sortie)
    assert len(out.conflicts) == 1
    world.channel.monitor.resume(world.who("russia_admin"))
    assert world.health_of("medics", "russia")["suspended"] is None


def test_a_line_test_goes_to_every_party_not_suspended_once_per_slot(world: World) -> None:
    world.channel.monitor.suspend(world.who("russia_admin"), {"reason": "talks"})
    assert world.channel.monitor.tick() == 3  # coalition, relay, medics: the 06:00 test
    assert world.channel.monitor.tick() == 0
    assert line_tests(world, "russia") == []
    (test,) = line_tests(world, "coalition")
    assert test["body"]["scheduled_for"] == "2017-04-07T06:00:00Z"
    assert (test["severity"], test["deadline"]) == ("medium", "2017-04-07T07:15:00Z")
    world.clock.now = datetime(2017, 4, 7, 18, 0, tzinfo=UTC)
    assert world.channel.monitor.tick() == 3
    assert len(line_tests(world, "coalition")) == 2


def test_an_unacknowledged_line_test_is_an_alarm_until_someone_acknowledges(world: World) -> None:
    world.channel.monitor.tick()
    (test,) = line_tests(world, "coalition")
    assert "line_test_overdue" not in world.health_of("russia", "coalition")["alarms"]
    world.clock.now = T0 + timedelta(minutes=15)
    assert "line_test_overdue" in world.health_of("russia", "coalition")["alarms"]
    world.channel.inbox.acknowledge(world.who("coalition"), test["id"], test["version"], {})
    health = world.health_of("russia", "coalition")
    assert "line_test_overdue" not in health["alarms"]
    assert health["line_test"]["state"] == "acknowledged"


def test_last_seen_is_when_a_principal_last_came_and_survives_a_restart(world: World) -> None:
    assert "not_seen" in world.health_of("relay", "coalition")["alarms"]
    world.clock.now = T0 + timedelta(minutes=5)
    world.channel.authenticate(world.tokens["coalition"])
    assert world.health_of("relay", "coalition")["last_seen"] == "2017-04-07T07:05:00Z"
    world.channel.tick()
    world.reopen()
    assert world.health_of("relay", "coalition")["last_seen"] == "2017-04-07T07:05:00Z"
    world.clock.now = T0 + timedelta(hours=13)
    assert "not_seen" in world.health_of("relay", "coalition")["alarms"]


def test_roster_gaps_are_shown_to_their_own_party_only(world: World) -> None:
    assert world.health_of("coalition", "coalition")["roster_gaps"] == [1]
    assert world.health_of("russia", "coalition")["roster_gaps"] is None
    assert "nobody_on_shift" in world.health_of("russia", "coalition")["alarms"]


def test_figures_count_what_each_party_was_told_and_how_fast_it_answered(world: World) -> None:
    sortie = declaration("air_operation", "CAP", volume(point(38.0, 35.0), buffer_m=5_000))
    world.channel.declare(world.who("coalition"), sortie)
    world.channel.declare(world.who("russia"), sortie)  # a high conflict: 5 minutes each level
    world.clock.now = T0 + timedelta(seconds=90)
    (mine,) = world.channel.inbox.list_for(world.who("coalition"), None, 0, 100).items
    world.channel.inbox.acknowledge(world.who("coalition"), mine["id"], mine["version"], {})
    world.clock.now = T0 + timedelta(minutes=5)
    world.channel.inbox.escalate_due()  # russia's, unacknowledged, is overdue

    coalition = world.channel.monitor.figures(world.who("coalition"))
    assert coalition["party"]["sent"] == 1
    assert coalition["party"]["acknowledged"] == 1
    assert coalition["party"]["time_to_acknowledge_s"] == {"median": 90.0, "p90": 90.0}
    assert coalition["channel"]["sent"] == 2
    assert coalition["channel"]["overdue"] == 1
    russia = world.channel.monitor.figures(world.who("russia"))
    assert russia["party"]["overdue"] == 1
    assert russia["party"]["reminders"] == 1  # no roster: its one level is reminded


def test_figures_count_incidents_against_an_object_after_it_was_acknowledged(
    world: World,
) -> None:
    hospital = declaration(
        "protected_site",
        "Field hospital",
        volume(point(36.6, 35.9), buffer_m=100),
        released_to=["russia"],
    )
    site = world.channel.declare(world.who("medics"), hospital).declaration
    (told,) = [
        n
        for n in world.channel.inbox.list_for(world.who("russia"), None, 0, 100).items
        if n["subject"] == "release"
    ]
    world.clock.now = T0 + timedelta(minutes=3)
    world.channel.inbox.acknowledge(world.who("russia"), told["id"], told["version"], {})
    report = {
        "kind": "strike_on_protected_object",
        "title": "Hospital struck",
        "place": {"geometry": point(36.6, 35.9), "buffer_m": 200},
        "parties": ["russia"],
        "declaration_ids": [site.id],
    }
    world.clock.now = T0 + timedelta(hours=2)
    before = {**report, "occurred_at": "2017-04-07T07:01:00Z"}  # before the acknowledgement
    after = {**report, "occurred_at": "2017-04-07T08:30:00Z"}
    for body in (before, after):
        world.channel.correspondence.report(world.who("medics"), body)

    (obj,) = world.channel.monitor.figures(world.who("medics"))["protected_objects"]
    assert obj["id"] == site.id
    assert obj["notified"] == [
        {"party": "russia", "state": "acknowledged", "acknowledged_at": "2017-04-07T07:03:00Z"}
    ]
    assert (obj["incidents"], obj["incidents_after_acknowledgement"]) == (2, 1)
    assert world.channel.monitor.figures(world.who("russia"))["protected_objects"] == []
