"""GeoJSON across the antimeridian: RFC 7946 asks that such shapes be split at ±180 into a
MultiPolygon. deconflict accepts that form (and its own, where an edge more than 180° of
longitude long crosses the short way) and returns overlaps split the same way."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api
from factories import declaration, point, volume

SPLIT_BOX = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[179.5, 10.0], [180.0, 10.0], [180.0, 11.0], [179.5, 11.0], [179.5, 10.0]]],
        [[[-180.0, 10.0], [-179.5, 10.0], [-179.5, 11.0], [-180.0, 11.0], [-180.0, 10.0]]],
    ],
}
JUMP_BOX = {
    "type": "Polygon",
    "coordinates": [[[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0], [179.5, 10.0]]],
}


def ground(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return declaration("ground_operation", "Patrol", volume(geometry, upper=100, **kw))


@pytest.mark.parametrize("box", [SPLIT_BOX, JUMP_BOX], ids=["rfc7946_split", "short_way_edge"])
@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (-179.9, 10.5, True),  # inside, east of the antimeridian
        (179.9, 10.5, True),  # inside, west of it
        (180.0, 10.2, True),  # on it
        # 0.05° of longitude beyond the box's eastern edge at 10.5° N is about 5.5 km; the
        # point's 5 km buffer leaves a gap of about 470 m.
        (-179.45, 10.5, False),
        (0.0, 10.5, False),  # the other side of the earth (what a naive reading would span)
    ],
)
def test_a_box_across_the_antimeridian_conflicts_where_it_lies(
    api: Api, box: dict[str, Any], lon: float, lat: float, expected: bool
) -> None:
    api.declare("coalition", ground(box))
    found = api.declare("russia", ground(point(lon, lat), buffer_m=5_000))["conflicts"]
    assert bool(found) is expected


def test_overlapping_parts_of_a_multipolygon_are_refused(api: Api) -> None:
    overlapping = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
            [[[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5], [0.5, 0.5]]],
        ],
    }
    r = api.post("coalition", "/v1/declarations", ground(overlapping))
    assert r.status_code == 422
    assert r.json()["errors"][0]["rule"] == "self_intersection"


def test_an_overlap_across_the_antimeridian_comes_back_split(api: Api) -> None:
    orbit = {"lower": 3_000, "upper": 6_000}
    api.declare(
        "coalition",
        declaration("air_operation", "West", volume(point(179.98, 0.0), buffer_m=5_000, **orbit)),
    )
    (conflict,) = api.declare(
        "russia",
        declaration("air_operation", "East", volume(point(-179.98, 0.0), buffer_m=5_000, **orbit)),
    )["conflicts"]
    geometry = conflict["overlap"]["geometry"]
    assert geometry["type"] == "MultiPolygon"
    sides = set()
    for polygon in geometry["coordinates"]:
        lons = [lon for ring in polygon for lon, _ in ring]
        assert all(-180.0 <= lon <= 180.0 for lon in lons)
        assert max(lons) - min(lons) < 1.0  # no ring jumps across the earth
        sides.add(max(lons) > 0)
    assert sides == {True, False}
    # The overlap is a valid footprint in its own right: it can be declared back.
    again = api.post("coalition", "/v1/check", ground(geometry))
    assert again.status_code == 200, again.text


def test_a_bbox_whose_west_edge_is_east_of_its_east_edge_crosses_the_antimeridian(
    api: Api,
) -> None:
    across = api.declare("coalition", ground(JUMP_BOX))["declaration"]["id"]
    east = api.declare("coalition", ground(point(-170.0, 10.5), buffer_m=100))["declaration"]["id"]
    west = api.declare("coalition", ground(point(170.0, 10.5), buffer_m=100))["declaration"]["id"]
    far = api.declare("coalition", ground(point(0.0, 10.5), buffer_m=100))["declaration"]["id"]

    def ids(bbox: str) -> set[str]:
        page = api.get("coalition", "/v1/declarations", params={"bbox": bbox}).json()
        return {d["id"] for d in page["items"]}

    assert ids("179,10,-179,11") == {across}
    assert ids("169,10,-169,11") == {across, east, west}
    assert ids("-1,10,1,11") == {far}
    assert ids("-180,10,180,11") == {across, east, west, far}
