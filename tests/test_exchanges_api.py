"""Incident reports, requests, messages and templates over HTTP: what a client sees of each
write (status, Location, a receipt both parties can check against the signed log), optimistic
concurrency on answers, deadlines, paging, and templates rendering as listed.

The channel's own rules (who is told, expiry exactly once) are in test_correspondence.py; who
may see what in test_need_to_know.py; malformed bodies in test_bad_input.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import Api, make_channel_parties
from deconflict.api.app import create_app
from deconflict.merkle import verify_inclusion
from deconflict.notes import Checkpoint, VerifierKey
from deconflict.rules import default_rules
from deconflict.service import Channel
from deconflict.settings import Settings
from deconflict.store.sqlite import SqliteStore
from factories import box, point, throwaway_ledger

LEDGER = "/v1/ledger"


def incident(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "unsafe_intercept",
        "title": "Su-35 passed 150 m ahead of our P-8",
        "occurred_at": "2017-06-18T14:40:00Z",
        "place": {"geometry": point(38.0, 35.9), "buffer_m": 500},
        "parties": ["russia"],
        **extra,
    }


def request_body(**extra: Any) -> dict[str, Any]:
    return {"to": "russia", "text": "May two F/A-18E cross the Euphrates at 16:00Z?", **extra}


def message_body(**extra: Any) -> dict[str, Any]:
    return {"to": "russia", "template": "confirm_channel_test", **extra}


@dataclass(frozen=True)
class Kind:
    """One kind of correspondence: where it is posted, how a body of it looks and the name of
    the object in the answer."""

    path: str
    name: str
    entry: str
    """The ledger entry type of its creation."""

    def body(self, n: int = 0) -> dict[str, Any]:
        if self.name == "incident":
            return incident(title=f"Intercept number {n}")
        if self.name == "request":
            return request_body(text=f"Request number {n}")
        return {"to": "russia", "text": f"Message number {n}"}


KINDS = [
    Kind("/v1/incidents", "incident", "incident.reported"),
    Kind("/v1/requests", "request", "request.made"),
    Kind("/v1/messages", "message", "message.sent"),
]


def written(r: Any, name: str, status: int = 201) -> tuple[dict[str, Any], dict[str, Any]]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {name, "receipt"}
    obj: dict[str, Any] = body[name]
    receipt: dict[str, Any] = body["receipt"]
    return obj, receipt


def checked_leaf(api: Api, who: str, receipt: dict[str, Any]) -> dict[str, Any]:
    """The receipt's leaf as ``who`` reads it, after checking, as an outside verifier would,
    that the leaf hashes to the receipt's hash and that the hash is in the signed tree."""
    key = VerifierKey.from_text(api.get(who, f"{LEDGER}/key").text.strip())
    checkpoint = Checkpoint.open(receipt["checkpoint"], key)
    r = api.get(who, f"{LEDGER}/leaves/{receipt['leaf_index']}")
    assert r.status_code == 200, r.text
    leaf = base64.b64decode(r.json()["leaf"])
    digest = hashlib.sha256(b"\x00" + leaf).digest()  # RFC 9162 leaf hash
    assert base64.b64encode(digest).decode() == receipt["leaf_hash"]
    verify_inclusion(
        receipt["leaf_index"],
        checkpoint.size,
        digest,
        [base64.b64decode(h) for h in receipt["inclusion"]],
        checkpoint.root,
    )
    entry: dict[str, Any] = json.loads(leaf)
    return entry


def evidence_indexes(api: Api, who: str, object_id: str) -> set[int]:
    r = api.get(who, f"{LEDGER}/evidence/{object_id}")
    assert r.status_code == 200, r.text
    return {e["leaf_index"] for e in r.json()["entries"]}


# Writes: 201, Location, receipt ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_write_is_created_at_its_location_with_a_receipt_both_parties_can_check(
    api: Api, kind: Kind
) -> None:
    r = api.post("coalition", kind.path, kind.body())
    location = r.headers["Location"]
    obj, receipt = written(r, kind.name)
    assert location == f"{kind.path}/{obj['id']}"
    for who in ("coalition", "russia"):
        assert api.get(who, location).json() == obj
        entry = checked_leaf(api, who, receipt)
        assert (entry["type"], entry["object"]) == (kind.entry, obj)
        assert receipt["leaf_index"] in evidence_indexes(api, who, obj["id"])


def test_a_reply_is_on_the_incident_and_on_the_record_for_both_parties(api: Api) -> None:
    reported, _ = written(api.post("coalition", "/v1/incidents", incident()), "incident")
    url = f"/v1/incidents/{reported['id']}/replies"
    r = api.post("russia", url, {"text": "Our aircraft kept a safe distance."})
    replied, receipt = written(r, "incident", status=200)
    assert replied["version"] == reported["version"] + 1
    assert [(x["party"], x["text"]) for x in replied["replies"]] == [
        ("russia", "Our aircraft kept a safe distance.")
    ]
    assert api.get("coalition", f"/v1/incidents/{reported['id']}").json() == replied
    for who in ("coalition", "russia", "relay"):
        entry = checked_leaf(api, who, receipt)
        assert (entry["type"], entry["object"]) == ("incident.replied", replied)
    # a party may reply again: the right of reply is not used up
    again, _ = written(api.post("russia", url, {"text": "And we add this."}), "incident", 200)
    assert [x["text"] for x in again["replies"]] == [
        "Our aircraft kept a safe distance.",
        "And we add this.",
    ]


def test_an_incident_place_is_validated_as_a_footprint(api: Api) -> None:
    before = api.get("relay", "/v1/incidents").json()["items"]
    r = api.post("coalition", "/v1/incidents", incident(place={"geometry": point(38.0, 35.9)}))
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert (error["field"], error["rule"]) == ("/place/buffer_m", "buffer_required")
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[36, 35], [36.5, 35.5], [36.5, 35], [36, 35.5], [36, 35]]],
    }
    r = api.post("coalition", "/v1/incidents", incident(place={"geometry": bow_tie}))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("/place/geometry")
    assert api.get("relay", "/v1/incidents").json()["items"] == before
    # an area needs no buffer
    area = box(38.0, 35.9, 38.1, 36.0)
    r = api.post("coalition", "/v1/incidents", incident(place={"geometry": area}))
    obj, _ = written(r, "incident")
    assert obj["place"]["geometry"] == area


# Answers: ETag, If-Match, states --------------------------------------------------------------


def ask(api: Api, **extra: Any) -> dict[str, Any]:
    made, _ = written(api.post("coalition", "/v1/requests", request_body(**extra)), "request")
    return made


def answer(api: Api, who: str, request_id: str, body: Any, if_match: str | None) -> Any:
    headers = {} if if_match is None else {"If-Match": if_match}
    return api.post(who, f"/v1/requests/{request_id}/answer", body, headers=headers)


def test_a_request_is_answered_with_the_etag_it_was_read_with(api: Api) -> None:
    made = ask(api)
    read = api.get("russia", f"/v1/requests/{made['id']}")
    assert (read.json()["state"], read.headers["ETag"]) == ("pending", '"1"')
    decision = {"decision": "approve", "text": "Approved."}
    r = answer(api, "russia", made["id"], decision, read.headers["ETag"])
    answered, receipt = written(r, "request", status=200)
    me = api.get("russia", "/v1/me").json()["id"]
    assert (answered["state"], answered["answered_by"], answered["answer_text"]) == (
        "approved",
        me,
        "Approved.",
    )
    assert answered["version"] == 2
    again = api.get("coalition", f"/v1/requests/{made['id']}")
    assert (again.json(), again.headers["ETag"]) == (answered, '"2"')
    for who in ("coalition", "russia"):
        entry = checked_leaf(api, who, receipt)
        assert (entry["type"], entry["object"]) == ("request.answered", answered)


def test_an_answer_without_if_match_is_428_and_with_a_stale_version_412(api: Api) -> None:
    made = ask(api)
    url = f"/v1/requests/{made['id']}"
    r = answer(api, "russia", made["id"], {"decision": "deny"}, None)
    assert (r.status_code, r.json()["code"]) == (428, "precondition_required")
    assert api.get("coalition", url).json() == made
    r = answer(api, "russia", made["id"], {"decision": "deny"}, '"2"')
    assert (r.status_code, r.json()["code"]) == (412, "version_mismatch")
    assert api.get("coalition", url).json() == made

    assert answer(api, "russia", made["id"], {"decision": "deny"}, '"1"').status_code == 200
    # answering again: with the version first read it is stale, with the new one it is too late
    stale = answer(api, "russia", made["id"], {"decision": "approve"}, '"1"')
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    late = answer(api, "russia", made["id"], {"decision": "approve"}, '"2"')
    assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")
    assert api.get("coalition", url).json()["state"] == "denied"


T0 = datetime(2017, 6, 18, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[Api, Clock, Channel]]:
    """The API over a channel on a fake clock, with no lifespan: nothing expires by itself."""
    clock = Clock()
    channel = Channel(
        SqliteStore(tmp_path / "timed.db"), default_rules(), throwaway_ledger(), clock=clock
    )
    app = create_app(Settings(data_dir=tmp_path), channel)
    try:
        yield Api(TestClient(app), make_channel_parties(channel), app), clock, channel
    finally:
        channel.store.close()


def test_an_answer_at_or_after_the_deadline_is_refused_with_409(
    timed: tuple[Api, Clock, Channel],
) -> None:
    api, clock, channel = timed
    in_time = ask(api, respond_by="2017-06-18T15:30:00Z")
    too_late = ask(api, respond_by="2017-06-18T15:30:00Z")
    clock.now = T0 + timedelta(minutes=29, seconds=59)
    r = answer(api, "russia", in_time["id"], {"decision": "approve"}, '"1"')
    assert (r.status_code, r.json()["request"]["state"]) == (200, "approved")

    clock.now = T0 + timedelta(minutes=30)
    r = answer(api, "russia", too_late["id"], {"decision": "approve"}, '"1"')
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert api.get("coalition", f"/v1/requests/{too_late['id']}").json() == too_late
    # once the service has expired it, the new version cannot be answered either
    assert channel.correspondence.expire_due() == 1
    expired = api.get("russia", f"/v1/requests/{too_late['id']}")
    assert (expired.json()["state"], expired.headers["ETag"]) == ("expired", '"2"')
    r = answer(api, "russia", too_late["id"], {"decision": "approve"}, '"2"')
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")


def test_a_request_without_a_deadline_gets_fifteen_minutes(
    timed: tuple[Api, Clock, Channel],
) -> None:
    api, _, _ = timed
    assert ask(api)["respond_by"] == "2017-06-18T15:15:00Z"


# Lists -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_list_pages_through_everything_in_order_by_cursor(api: Api, kind: Kind) -> None:
    made = [
        written(api.post("coalition", kind.path, kind.body(n)), kind.name)[0]["id"]
        for n in range(5)
    ]
    for who in ("coalition", "russia"):
        pages, cursor = [], None
        while True:
            params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
            r = api.get(who, kind.path, params=params)
            assert r.status_code == 200, r.text
            pages.append([x["id"] for x in r.json()["items"]])
            cursor = r.json()["next"]
            if cursor is None:
                break
            assert len(pages) < 5, pages
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [i for p in pages for i in p] == made


def test_an_empty_list_has_no_next_page(api: Api) -> None:
    for path in ("/v1/incidents", "/v1/requests", "/v1/messages"):
        assert api.get("medics", path).json() == {"items": [], "next": None}


# Templates -------------------------------------------------------------------------------------


def test_every_listed_template_renders_as_its_text_with_the_fields_filled_in(api: Api) -> None:
    r = api.get("russia", "/v1/templates")
    assert r.status_code == 200, r.text
    templates = r.json()["items"]
    assert {t["request"] for t in templates} == {True, False}
    for t in templates:
        fields = {f: f"<{f} of {t['name']}>" for f in t["fields"]}
        expected = t["text"]
        for f, value in fields.items():
            expected = expected.replace("{" + f + "}", value)
        assert "{" not in expected, t
        body = {"to": "coalition", "template": t["name"], "fields": fields}
        path, name = ("/v1/requests", "request") if t["request"] else ("/v1/messages", "message")
        obj, _ = written(api.post("russia", path, body), name)
        assert (obj["text"], obj["template"], obj["fields"]) == (expected, t["name"], fields)
        # and the recipient reads the same sentence
        assert api.get("coalition", f"{path}/{obj['id']}").json()["text"] == expected


def test_a_template_is_sent_only_as_what_it_is(api: Api) -> None:
    templates = {t["name"]: t for t in api.get("coalition", "/v1/templates").json()["items"]}
    asking = next(n for n, t in templates.items() if t["request"])
    telling = next(n for n, t in templates.items() if not t["request"] and not t["fields"])
    fields = dict.fromkeys(templates[asking]["fields"], "x")
    r = api.post("coalition", "/v1/messages", message_body(template=asking, fields=fields))
    assert (r.status_code, r.json()["errors"][0]["rule"]) == (422, "request_template")
    r = api.post("coalition", "/v1/requests", {"to": "russia", "template": telling})
    assert (r.status_code, r.json()["errors"][0]["rule"]) == (422, "message_template")
    assert api.get("russia", "/v1/messages").json()["items"] == []
    assert api.get("russia", "/v1/requests").json()["items"] == []
