"""Declaring, reading, amending and cancelling through the HTTP API, and how conflicts follow."""

from __future__ import annotations

from typing import Any

from conftest import Api
from factories import box, declaration, line, point, volume


def air_op(lon: float, lat: float = 35.0, **kw: Any) -> dict[str, Any]:
    return declaration("air_operation", "CAP", volume(point(lon, lat), buffer_m=2_000, **kw))


def test_declaring_returns_the_declaration_its_version_and_an_etag(api: Api) -> None:
    r = api.post("coalition", "/v1/declarations", air_op(39.0))
    assert r.status_code == 201
    decl = r.json()["declaration"]
    assert decl["party"] == "coalition"
    assert decl["version"] == 1
    assert decl["state"] == "planned"
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/v1/declarations/{decl['id']}"
    again = api.get("coalition", r.headers["Location"])
    assert again.json() == decl


def test_overlapping_air_operations_of_two_parties_conflict_for_both(api: Api) -> None:
    first = api.declare("coalition", air_op(39.0))
    second = api.declare("russia", air_op(39.05))
    assert first["conflicts"] == []
    (seen_by_russia,) = second["conflicts"]
    assert seen_by_russia["kind"] == "airspace_conflict"
    assert seen_by_russia["severity"] == "high"
    assert seen_by_russia["declaration_id"] == second["declaration"]["id"]
    assert seen_by_russia["other_party"] == "coalition"
    (seen_by_coalition,) = api.get("coalition", "/v1/conflicts").json()["items"]
    assert seen_by_coalition["id"] == seen_by_russia["id"]
    assert seen_by_coalition["declaration_id"] == first["declaration"]["id"]
    assert seen_by_coalition["other_party"] == "russia"
    assert seen_by_coalition["other_kind"] == "air_operation"


def test_amending_a_declaration_away_resolves_its_conflict(api: Api) -> None:
    api.declare("coalition", air_op(39.0))
    mine = api.declare("russia", air_op(39.05))["declaration"]
    r = api.patch(
        "russia",
        f"/v1/declarations/{mine['id']}",
        {"volumes": [volume(point(42.0, 35.0), buffer_m=2_000)]},
        version=1,
    )
    assert r.status_code == 200, r.text
    assert r.json()["declaration"]["version"] == 2
    assert r.json()["conflicts"] == []
    (conflict,) = api.get("coalition", "/v1/conflicts").json()["items"]
    assert conflict["state"] == "resolved"
    assert api.get("coalition", "/v1/conflicts", params={"state": "open"}).json()["items"] == []


def test_amending_a_declaration_into_another_creates_the_conflict(api: Api) -> None:
    api.declare("coalition", air_op(39.0))
    mine = api.declare("russia", air_op(41.0))["declaration"]
    r = api.patch(
        "russia",
        f"/v1/declarations/{mine['id']}",
        {"volumes": [volume(point(39.0, 35.0), buffer_m=2_000)]},
        version=1,
    )
    assert [c["kind"] for c in r.json()["conflicts"]] == ["airspace_conflict"]


def test_a_stale_version_is_refused_with_412_and_changes_nothing(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    url = f"/v1/declarations/{mine['id']}"
    assert api.patch("coalition", url, {"title": "renamed"}, version=1).status_code == 200
    stale = api.patch("coalition", url, {"title": "again"}, version=1)
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"
    assert api.get("coalition", url).json()["title"] == "renamed"


def test_cancelling_takes_a_declaration_out_of_detection(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    other = api.declare("russia", air_op(39.05))
    assert len(other["conflicts"]) == 1
    r = api.delete("coalition", f"/v1/declarations/{mine['id']}", version=1)
    assert r.status_code == 200
    assert r.json()["declaration"]["state"] == "cancelled"
    assert api.get("russia", "/v1/conflicts", params={"state": "open"}).json()["items"] == []
    later = api.declare("russia", air_op(39.0))
    assert later["conflicts"] == []
    again = api.delete("coalition", f"/v1/declarations/{mine['id']}", version=2)
    assert again.status_code == 409


def test_ending_an_active_declaration_resolves_its_conflicts(api: Api) -> None:
    mine = api.declare("coalition", {**air_op(39.0), "state": "active"})["declaration"]
    api.declare("russia", air_op(39.05))
    r = api.patch("coalition", f"/v1/declarations/{mine['id']}", {"state": "ended"}, version=1)
    assert r.status_code == 200
    assert r.json()["conflicts"] == []
    assert api.get("russia", "/v1/conflicts", params={"state": "open"}).json()["items"] == []
    ended = api.patch("coalition", f"/v1/declarations/{mine['id']}", {"title": "x"}, version=2)
    assert ended.status_code == 409


def test_check_reports_conflicts_without_storing_anything(api: Api) -> None:
    api.declare("coalition", air_op(39.0))
    before = api.declaration_count()
    r = api.post("russia", "/v1/check", air_op(39.05))
    assert r.status_code == 200
    assert [c["other_party"] for c in r.json()["conflicts"]] == ["coalition"]
    assert api.declaration_count() == before
    assert api.get("coalition", "/v1/conflicts").json()["items"] == []


def test_a_protected_site_stops_being_protected_at_its_expiry(api: Api) -> None:
    site = declaration(
        "protected_site",
        "Clinic",
        volume(box(36.63, 35.92, 36.64, 35.93), upper=50),
        released_to=["russia"],
        expires_at="2017-04-06T12:00:00Z",
    )
    api.declare("medics", site)
    strike = declaration("strike", "Strike", volume(point(36.635, 35.925), buffer_m=1_000))
    assert api.declare("russia", strike)["conflicts"] == []
    api.declare("medics", {**site, "expires_at": "2017-05-01T00:00:00Z"})
    (conflict,) = api.declare("russia", strike)["conflicts"]
    assert (conflict["kind"], conflict["severity"]) == ("protected_object_at_risk", "critical")


def test_list_pages_through_every_declaration_once(api: Api) -> None:
    ids = {api.declare("coalition", air_op(36.0 + i))["declaration"]["id"] for i in range(7)}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        page = api.get("coalition", "/v1/declarations", params=params).json()
        pages += 1
        seen += [d["id"] for d in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert pages == 3
    assert sorted(seen) == sorted(ids)


def test_list_filters_by_kind_time_window_and_bbox(api: Api) -> None:
    early = api.declare("coalition", air_op(39.0))["declaration"]["id"]
    late = api.declare(
        "coalition", air_op(44.0, start="2017-05-01T00:00:00Z", end="2017-05-02T00:00:00Z")
    )["declaration"]["id"]
    ground = api.declare(
        "coalition",
        declaration(
            "ground_operation",
            "Patrol",
            volume(box(39.0, 36.0, 39.1, 36.1), upper=100),
        ),
    )["declaration"]["id"]

    def ids(**params: str) -> set[str]:
        return {
            d["id"] for d in api.get("coalition", "/v1/declarations", params=params).json()["items"]
        }

    assert ids(kind="air_operation") == {early, late}
    assert ids(start="2017-04-30T00:00:00Z") == {late}
    assert ids(end="2017-04-10T00:00:00Z") == {early, ground}
    assert ids(bbox="38.5,34.5,39.5,35.5") == {early}
    assert ids(bbox="38.9,35.9,39.2,36.2") == {ground}


def test_a_viewer_reads_but_cannot_declare(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    assert api.get("coalition_viewer", f"/v1/declarations/{mine['id']}").status_code == 200
    r = api.post("coalition_viewer", "/v1/declarations", air_op(39.0))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    r = api.patch("coalition_viewer", f"/v1/declarations/{mine['id']}", {"title": "x"}, 1)
    assert r.status_code == 403


def test_every_error_code_is_explained_at_its_problem_type(api: Api) -> None:
    r = api.get("coalition", "/v1/declarations/nope")
    assert r.status_code == 404
    doc = api.client.get(r.json()["type"])
    assert doc.status_code == 200
    assert doc.json()["code"] == "not_found"
    assert "disclosed" in doc.json()["description"]


def test_null_in_a_patch_resets_a_field_to_its_default(api: Api) -> None:
    site = api.declare(
        "medics",
        declaration(
            "protected_site",
            "Clinic",
            volume(point(36.6, 35.9), buffer_m=100),
            released_to=["russia"],
            verification="verified",
            callsign="MED 1",
        ),
    )["declaration"]
    url = f"/v1/declarations/{site['id']}"
    r = api.patch("medics", url, {"released_to": None, "verification": None, "callsign": None}, 1)
    assert r.status_code == 200, r.text
    after = r.json()["declaration"]
    assert (after["released_to"], after["verification"], after["callsign"]) == (
        [],
        "unverified",
        None,
    )
    assert api.get("russia", url).status_code == 404
    required = api.patch("medics", url, {"title": None}, 2)
    assert (required.status_code, required.json()["errors"][0]["field"]) == (422, "/title")


def test_a_conflict_lists_each_overlapping_pair_of_volumes(api: Api) -> None:
    early = volume(point(39.0, 35.0), buffer_m=2_000, end="2017-04-06T20:00:00Z")
    late = volume(point(40.0, 35.0), buffer_m=2_000, start="2017-04-07T04:00:00Z")
    api.declare("coalition", declaration("air_operation", "Two orbits", early, late))
    (conflict,) = api.declare(
        "russia",
        declaration(
            "air_operation",
            "Sweep",
            volume(line((38.9, 35.0), (40.1, 35.0)), buffer_m=1_000),
        ),
    )["conflicts"]
    times = sorted((o["time"]["start"], o["time"]["end"]) for o in conflict["overlaps"])
    assert times == [
        ("2017-04-06T18:00:00Z", "2017-04-06T20:00:00Z"),
        ("2017-04-07T04:00:00Z", "2017-04-07T06:00:00Z"),
    ]
    assert conflict["overlap"]["time"] == {
        "start": "2017-04-06T18:00:00Z",
        "end": "2017-04-07T06:00:00Z",
    }
    assert conflict["overlap"]["geometry"]["type"] == "MultiPolygon"
    stored = api.get("coalition", f"/v1/conflicts/{conflict['id']}").json()
    assert stored["overlaps"] == conflict["overlaps"]
