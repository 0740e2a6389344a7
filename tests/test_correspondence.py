"""Correspondence between parties through the channel, on a real SQLite file with a fake
clock: incident reports with the right of reply, permission requests that are answered or
expire, and messages from templates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import make_channel_parties
from deconflict.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from deconflict.principals import Principal
from deconflict.rules import default_rules
from deconflict.service import Channel
from deconflict.store.sqlite import SqliteStore
from factories import declaration, point, throwaway_ledger, volume

T0 = datetime(2017, 6, 18, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    channel: Channel
    clock: Clock
    who: dict[str, Principal]

    def told(self, name: str, subject: str) -> list[dict[str, Any]]:
        """The notifications of a principal's party about a subject."""
        page = self.channel.inbox.list_for(self.who[name], None, 0, 1000)
        return [n for n in page.items if n["subject"] == subject]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    channel = Channel(
        SqliteStore(tmp_path / "d.db"), default_rules(), throwaway_ledger(), clock=clock
    )
    make_channel_parties(channel)
    who = {p.name: p for p in channel.list_principals()}
    yield World(channel, clock, who)
    channel.store.close()


def report(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "unsafe_intercept",
        "title": "Su-35 passed 150 m ahead of our P-8",
        "occurred_at": "2017-06-18T14:40:00Z",
        "place": {"geometry": point(38.0, 35.9), "buffer_m": 500},
        "parties": ["russia"],
        **extra,
    }


# incidents ------------------------------------------------------------------------------------


def test_an_incident_reaches_the_named_party_and_the_relay_and_nobody_else(world: World) -> None:
    incident, receipt = world.channel.correspondence.report(world.who["coalition"], report())
    assert receipt is not None
    assert [n["subject_id"] for n in world.told("russia", "incident")] == [incident.id]
    assert [n["subject_id"] for n in world.told("relay", "incident")] == [incident.id]
    assert world.told("medics", "incident") == []
    assert world.told("coalition", "incident") == []  # the reporter is not told its own
    with pytest.raises(NotFound):
        world.channel.correspondence.incident(world.who["medics"], incident.id)


def test_the_named_party_replies_and_the_reporter_is_told(world: World) -> None:
    incident, _ = world.channel.correspondence.report(world.who["coalition"], report())
    world.clock.now += timedelta(minutes=20)
    replied, _ = world.channel.correspondence.reply(
        world.who["russia"], incident.id, {"text": "Our aircraft kept a safe distance."}
    )
    assert [(r.party, r.text) for r in replied.replies] == [
        ("russia", "Our aircraft kept a safe distance.")
    ]
    (told,) = world.told("coalition", "incident")
    assert told["body"]["replies"][0]["at"] == "2017-06-18T15:20:00Z"
    # the relay sees every report but only a named party has the right of reply; a party the
    # report does not concern does not even see it
    with pytest.raises(Forbidden):
        world.channel.correspondence.reply(world.who["relay"], incident.id, {"text": "x"})
    with pytest.raises(NotFound):
        world.channel.correspondence.reply(world.who["medics"], incident.id, {"text": "x"})


def test_an_incident_names_other_parties_and_links_only_visible_declarations(world: World) -> None:
    with pytest.raises(InvalidInput) as own:
        world.channel.correspondence.report(world.who["coalition"], report(parties=["coalition"]))
    assert own.value.errors[0].rule == "other_party"
    theirs = world.channel.declare(
        world.who["russia"],
        declaration("air_operation", "Sortie", volume(point(38.0, 35.9), buffer_m=900)),
    ).declaration
    with pytest.raises(InvalidInput) as hidden:
        world.channel.correspondence.report(
            world.who["coalition"], report(declaration_ids=[theirs.id])
        )
    assert (hidden.value.errors[0].field, hidden.value.errors[0].rule) == (
        "/declaration_ids/0",
        "unknown_declaration",
    )
    with pytest.raises(InvalidInput) as future:
        world.channel.correspondence.report(
            world.who["coalition"], report(occurred_at="2017-06-18T16:00:00Z")
        )
    assert future.value.errors[0].rule == "in_future"


def test_a_strike_on_a_protected_object_is_critical_to_those_told(world: World) -> None:
    world.channel.correspondence.report(
        world.who["medics"], report(kind="strike_on_protected_object", parties=["russia"])
    )
    (told,) = world.told("russia", "incident")
    assert told["severity"] == "critical"
    assert told["deadline"] == "2017-06-18T15:02:00Z"  # two minutes for critical


# requests -------------------------------------------------------------------------------------


def cross() -> dict[str, Any]:
    return {
        "to": "russia",
        "template": "request_to_cross_line",
        "fields": {"line": "the Euphrates", "time": "16:00Z", "what": "two F/A-18E"},
        "respond_by": "2017-06-18T15:30:00Z",
    }


def test_a_request_is_answered_by_the_party_asked_and_the_asker_is_told(world: World) -> None:
    made, _ = world.channel.correspondence.ask(world.who["coalition"], cross())
    assert made.text == "Request to cross the Euphrates at 16:00Z with two F/A-18E."
    assert [n["subject_id"] for n in world.told("russia", "request")] == [made.id]
    with pytest.raises(Forbidden):
        world.channel.correspondence.answer(
            world.who["coalition"], made.id, 1, {"decision": "approve"}
        )
    world.clock.now += timedelta(minutes=10)
    answered, receipt = world.channel.correspondence.answer(
        world.who["russia"], made.id, 1, {"decision": "deny", "text": "Not before 18:00Z."}
    )
    assert receipt is not None
    assert (str(answered.state), answered.answer_text) == ("denied", "Not before 18:00Z.")
    (told,) = world.told("coalition", "request")
    assert told["body"]["state"] == "denied"
    with pytest.raises(IllegalTransition):
        world.channel.correspondence.answer(
            world.who["russia"], made.id, 2, {"decision": "approve"}
        )


def test_an_unanswered_request_expires_at_its_deadline_exactly_once(world: World) -> None:
    made, _ = world.channel.correspondence.ask(world.who["coalition"], cross())
    world.clock.now = T0 + timedelta(minutes=29, seconds=59)
    assert world.channel.correspondence.expire_due() == 0
    world.clock.now = T0 + timedelta(minutes=30)
    assert world.channel.correspondence.expire_due() == 1
    assert world.channel.correspondence.expire_due() == 0
    assert (
        str(world.channel.correspondence.request(world.who["russia"], made.id).state) == "expired"
    )
    (told,) = world.told("coalition", "request")
    assert told["body"]["state"] == "expired"
    with pytest.raises(IllegalTransition):
        world.channel.correspondence.answer(
            world.who["russia"], made.id, 2, {"decision": "approve"}
        )


def test_a_third_party_does_not_see_a_request(world: World) -> None:
    made, _ = world.channel.correspondence.ask(world.who["coalition"], cross())
    with pytest.raises(NotFound):
        world.channel.correspondence.request(world.who["medics"], made.id)
    assert world.channel.correspondence.requests(world.who["medics"], 0, 100).items == []


# messages -------------------------------------------------------------------------------------


def test_a_message_from_a_template_reaches_only_its_recipient(world: World) -> None:
    sent, _ = world.channel.correspondence.send(
        world.who["russia"], {"to": "coalition", "template": "confirm_channel_test"}
    )
    assert sent.text == "Channel test: please acknowledge this message."
    (told,) = world.told("coalition", "message")
    assert (told["severity"], told["body"]["text"]) == ("medium", sent.text)
    assert world.told("medics", "message") == []
    with pytest.raises(NotFound):
        world.channel.correspondence.message(world.who["medics"], sent.id)


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (
            {"to": "coalition", "template": "request_to_cross_line", "fields": {}},
            "/template",
            "request_template",
        ),
        (
            {"to": "coalition", "template": "confirm_channel_test", "text": "hi"},
            "",
            "template_or_text",
        ),
        ({"to": "russia", "text": "to myself"}, "/to", "other_party"),
        ({"to": "nobody", "text": "hello"}, "/to", "unknown_party"),
        (
            {"to": "coalition", "template": "received_deconflicting", "fields": {}},
            "/fields/time",
            "length",
        ),
    ],
)
def test_a_bad_message_names_the_field_and_rule(
    world: World, body: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as bad:
        world.channel.correspondence.send(world.who["russia"], body)
    assert (bad.value.errors[0].field, bad.value.errors[0].rule) == (field, rule)
