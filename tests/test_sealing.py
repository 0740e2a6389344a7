"""Numbers a party is shown are sealed: list cursors and event ids tell it nothing about the
rows of other parties, and only the party they were given to can use them."""

from __future__ import annotations

import base64

from conftest import Api
from deconflict.sealing import SealedIds
from factories import declaration, point, volume


def test_a_sealed_number_opens_only_for_its_party() -> None:
    ids = SealedIds(bytes(range(16)))
    assert ids.open("russia", ids.event_id("russia", 7)) == 7
    assert ids.open("russia", ids.position("russia", 7)) == 7
    assert ids.open("coalition", ids.event_id("russia", 7)) is None
    assert ids.open("russia", "not-a-sealed-number!!") is None


def test_two_positions_of_the_same_number_differ() -> None:
    ids = SealedIds(bytes(16))
    assert ids.position("russia", 7) != ids.position("russia", 7)
    assert ids.event_id("russia", 7) == ids.event_id("russia", 7)


def sortie(lon: float) -> dict[str, object]:
    return declaration("air_operation", f"Sortie {lon}", volume(point(lon, 35.0), buffer_m=500))


def test_a_list_cursor_holds_no_row_number_and_works_only_for_its_party(api: Api) -> None:
    for lon in (36.0, 37.0, 38.0):
        api.declare("russia", sortie(lon))
    first = api.get("russia", "/v1/declarations", params={"limit": 1}).json()
    cursor = first["next"]
    raw = base64.urlsafe_b64decode(cursor + "==")
    assert len(raw) == 16  # one cipher block, not "s<seq>"
    second = api.get("russia", "/v1/declarations", params={"limit": 1, "cursor": cursor})
    assert second.status_code == 200
    assert second.json()["items"][0]["id"] != first["items"][0]["id"]
    theirs = api.get("coalition", "/v1/declarations", params={"limit": 1, "cursor": cursor})
    assert theirs.status_code == 422
    assert theirs.json()["errors"][0] == {
        "field": "cursor",
        "rule": "cursor",
        "detail": "not a cursor this service gave your party",
    }
