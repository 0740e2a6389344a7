"""Need-to-know, endpoint by endpoint: another party cannot see or change what it must not.

Existence is not disclosed: what a caller may not see answers 404 exactly as if it did not
exist. A conflict shows the other side only as party, kind and overlap.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Api
from factories import box, declaration, hospital, point, volume

PUBLIC = {("GET", "/healthz"), ("GET", "/problems/{code}")}

# Every operation of the API and the tests in this module that cover it.
COVERED = {
    ("GET", "/v1/me"): "test_me_is_the_caller_only",
    ("GET", "/v1/parties"): "test_every_endpoint_refuses_a_missing_or_unknown_token",
    ("POST", "/v1/declarations"): "test_a_strike_owner_is_not_told_of_an_unreleased_hospital",
    ("POST", "/v1/check"): "test_a_dry_run_shows_the_other_side_only_as_party_kind_and_overlap",
    ("GET", "/v1/declarations"): "test_lists_hold_only_what_the_caller_may_see",
    ("GET", "/v1/declarations/{declaration_id}"): "test_another_partys_operation_is_not_found",
    ("PATCH", "/v1/declarations/{declaration_id}"): "test_another_party_cannot_change_or_cancel",
    ("DELETE", "/v1/declarations/{declaration_id}"): "test_another_party_cannot_change_or_cancel",
    (
        "GET",
        "/v1/declarations/{declaration_id}/conflicts",
    ): "test_conflicts_of_another_partys_declaration_are_not_found",
    ("GET", "/v1/conflicts"): "test_a_conflict_shows_the_other_side_only_as_party_kind_and_overlap",
    ("GET", "/v1/conflicts/{conflict_id}"): "test_a_third_party_cannot_read_a_conflict",
}

SECRET = {"callsign": "VIPER 31", "purpose": "Target: depot at grid 37S DU 1234 5678"}


def ops(api: Api) -> set[tuple[str, str]]:
    paths = api.client.get("/openapi.json").json()["paths"]
    return {(m.upper(), p) for p, item in paths.items() for m in item}


def test_every_endpoint_has_a_need_to_know_test(api: Api) -> None:
    assert ops(api) - PUBLIC == set(COVERED)
    assert all(name in globals() for name in COVERED.values())


def air_op(lon: float = 39.0, **extra: Any) -> dict[str, Any]:
    return declaration(
        "air_operation", "Armed reconnaissance", volume(point(lon, 35.0), buffer_m=5_000), **extra
    )


def test_every_endpoint_refuses_a_missing_or_unknown_token(api: Api) -> None:
    for method, path in ops(api) - PUBLIC:
        url = path.replace("{declaration_id}", "x").replace("{conflict_id}", "x")
        for headers in ({}, {"Authorization": "Bearer dcf_not-a-token"}, {"Authorization": "x"}):
            r = api.client.request(
                method,
                url,
                headers=headers | {"If-Match": '"1"'},
                json=air_op() if method in ("POST", "PATCH") else None,
            )
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["code"] == "authentication_required"


def test_a_revoked_token_is_refused(api: Api) -> None:
    me = api.get("coalition", "/v1/me").json()
    api.channel.revoke_principal(me["id"])
    assert api.get("coalition", "/v1/me").status_code == 401


def test_me_is_the_caller_only(api: Api) -> None:
    me = api.get("russia", "/v1/me").json()
    assert (me["party"], me["role"]) == ("russia", "duty_officer")
    assert "token" not in json.dumps(me)


def test_another_partys_operation_is_not_found(api: Api) -> None:
    mine = api.declare("coalition", air_op(**SECRET))["declaration"]
    r = api.get("russia", f"/v1/declarations/{mine['id']}")
    missing = api.get("russia", "/v1/declarations/dcl_does_not_exist")
    assert r.status_code == missing.status_code == 404
    assert r.json()["detail"].replace(mine["id"], "X") == missing.json()["detail"].replace(
        "dcl_does_not_exist", "X"
    )
    assert api.get("coalition_viewer", f"/v1/declarations/{mine['id']}").status_code == 200


def test_coordination_measures_are_visible_to_every_party(api: Api) -> None:
    line = api.declare(
        "coalition",
        declaration(
            "coordination_measure",
            "Deconfliction line",
            volume(
                {"type": "LineString", "coordinates": [[39.0, 36.0], [40.0, 35.0]]}, buffer_m=1_000
            ),
            measure="line",
        ),
    )["declaration"]
    for who in ("russia", "medics", "relay"):
        assert api.get(who, f"/v1/declarations/{line['id']}").json()["title"] == line["title"]


def test_protected_objects_are_visible_only_where_released_and_to_the_relay(api: Api) -> None:
    site = api.declare(
        "medics",
        declaration(
            "protected_site",
            "Field hospital",
            volume(box(36.6, 35.9, 36.61, 35.91), upper=50),
            released_to=["coalition"],
            site_type="hospital",
        ),
    )["declaration"]
    url = f"/v1/declarations/{site['id']}"
    assert api.get("coalition", url).status_code == 200
    assert api.get("relay", url).status_code == 200
    assert api.get("russia", url).status_code == 404


def test_lists_hold_only_what_the_caller_may_see(api: Api) -> None:
    ours = api.declare("coalition", air_op(**SECRET))["declaration"]["id"]
    theirs = api.declare("russia", air_op(41.0))["declaration"]["id"]
    hidden = api.declare(
        "medics",
        declaration(
            "protected_site",
            "Unreleased clinic",
            volume(point(36.6, 35.9), buffer_m=100),
        ),
    )["declaration"]["id"]
    listed = {
        w: {d["id"] for d in api.get(w, "/v1/declarations").json()["items"]}
        for w in ("coalition", "russia", "medics", "relay")
    }
    assert listed["coalition"] == {ours}
    assert listed["russia"] == {theirs}
    assert listed["medics"] == {hidden}
    assert listed["relay"] == {hidden}
    for kind in ("air_operation", "protected_site"):
        filtered = api.get("russia", "/v1/declarations", params={"kind": kind}).json()["items"]
        assert ours not in {d["id"] for d in filtered}
        assert hidden not in {d["id"] for d in filtered}


def test_another_party_cannot_change_or_cancel(api: Api) -> None:
    mine = api.declare("coalition", air_op())["declaration"]
    url = f"/v1/declarations/{mine['id']}"
    assert api.patch("russia", url, {"title": "hijacked"}, version=1).status_code == 404
    assert api.delete("russia", url, version=1).status_code == 404
    assert api.patch("relay", url, {"title": "hijacked"}, version=1).status_code == 404
    after = api.get("coalition", url).json()
    assert (after["title"], after["state"], after["version"]) == (mine["title"], "planned", 1)


def test_a_released_object_can_be_seen_but_not_changed_by_its_recipient(api: Api) -> None:
    site = api.declare("medics", hospital(released_to=["russia"]))["declaration"]
    url = f"/v1/declarations/{site['id']}"
    assert api.patch("russia", url, {"released_to": []}, version=1).status_code == 403
    assert api.delete("russia", url, version=1).status_code == 403
    assert api.get("medics", url).json()["version"] == 1


def test_the_relay_may_release_an_object_but_not_rewrite_it(api: Api) -> None:
    site = api.declare("medics", hospital())["declaration"]
    url = f"/v1/declarations/{site['id']}"
    assert api.patch("relay", url, {"title": "renamed"}, version=1).status_code == 403
    assert api.delete("relay", url, version=1).status_code == 403
    r = api.patch("relay", url, {"released_to": ["russia"]}, version=1)
    assert r.status_code == 200
    assert api.get("russia", url).status_code == 200


def strike_near_hospital(api: Api, released_to: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    site = api.declare(
        "medics",
        declaration(
            "protected_site",
            "Surgical hospital",
            volume(box(36.60, 35.90, 36.602, 35.902), upper=60),
            released_to=released_to,
            site_type="hospital",
        ),
    )["declaration"]
    strike = api.declare(
        "russia",
        declaration(
            "strike",
            "Strike",
            volume(point(36.605, 35.905), buffer_m=300, upper=9_000),
            **SECRET,
        ),
    )
    return site, strike


def test_a_strike_owner_is_not_told_of_an_unreleased_hospital(api: Api) -> None:
    site, strike = strike_near_hospital(api, released_to=[])
    assert strike["conflicts"] == []
    assert api.get("russia", "/v1/conflicts").json()["items"] == []
    (for_medics,) = api.get("medics", "/v1/conflicts").json()["items"]
    (for_relay,) = api.get("relay", "/v1/conflicts").json()["items"]
    assert for_medics["declaration_id"] == for_relay["declaration_id"] == site["id"]
    assert (for_medics["other_party"], for_medics["kind"]) == ("russia", "protected_object_at_risk")
    assert api.get("coalition", "/v1/conflicts").json()["items"] == []
    api.patch("relay", f"/v1/declarations/{site['id']}", {"released_to": ["russia"]}, version=1)
    (for_russia,) = api.get("russia", "/v1/conflicts").json()["items"]
    assert for_russia["declaration_id"] == strike["declaration"]["id"]
    assert for_russia["severity"] == "critical"


def test_a_conflict_shows_the_other_side_only_as_party_kind_and_overlap(api: Api) -> None:
    ours = api.declare("coalition", air_op(**SECRET))["declaration"]
    api.declare("russia", air_op(39.02))
    (conflict,) = api.get("russia", "/v1/conflicts").json()["items"]
    text = json.dumps(conflict)
    for secret in (ours["id"], ours["title"], *SECRET.values()):
        assert secret not in text
    assert conflict["other_party"] == "coalition"
    assert conflict["other_kind"] == "air_operation"
    assert conflict["overlap"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_a_dry_run_shows_the_other_side_only_as_party_kind_and_overlap(api: Api) -> None:
    ours = api.declare("coalition", air_op(**SECRET))["declaration"]
    r = api.post("russia", "/v1/check", air_op(39.02))
    (conflict,) = r.json()["conflicts"]
    text = json.dumps(conflict)
    for secret in (ours["id"], ours["title"], *SECRET.values()):
        assert secret not in text
    _, _ = strike_near_hospital(api, released_to=[])
    dry = api.post(
        "russia",
        "/v1/check",
        declaration("strike", "Another strike", volume(point(36.605, 35.905), buffer_m=300)),
    )
    assert dry.json()["conflicts"] == []


def test_a_third_party_cannot_read_a_conflict(api: Api) -> None:
    api.declare("coalition", air_op())
    api.declare("russia", air_op(39.02))
    (conflict,) = api.get("russia", "/v1/conflicts").json()["items"]
    url = f"/v1/conflicts/{conflict['id']}"
    assert api.get("coalition", url).status_code == 200
    for who in ("medics", "relay", "channel_admin"):
        assert api.get(who, url).status_code == 404
        assert api.get(who, "/v1/conflicts").json()["items"] == []


@pytest.mark.parametrize("who", ["russia", "medics", "relay"])
def test_conflicts_of_another_partys_declaration_are_not_found(api: Api, who: str) -> None:
    ours = api.declare("coalition", air_op())["declaration"]
    api.declare("russia", air_op(39.02))
    assert (
        len(api.get("coalition", f"/v1/declarations/{ours['id']}/conflicts").json()["items"]) == 1
    )
    assert api.get(who, f"/v1/declarations/{ours['id']}/conflicts").status_code == 404
    filtered = api.get(who, "/v1/conflicts", params={"declaration_id": ours["id"]})
    assert filtered.status_code == 404
