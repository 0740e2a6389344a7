"""Malformed and hostile track reports, as a table: each gets a 4xx problem document naming the
field and the rule it broke, and keeps nothing of its batch."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import Api

TRACKS = "/v1/tracks"


def good(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    report: dict[str, Any] = {
        "track_id": "VIPER11",
        "time": now.isoformat().replace("+00:00", "Z"),
        "lat": 35.0,
        "lon": 39.0,
        "altitude": {"value": 18_000, "units": "ft", "reference": "AMSL"},
        "ground_speed": {"value": 420, "units": "kt"},
        "track_deg": 95.0,
        "vertical_rate": {"value": -1500, "units": "ft/min"},
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = report
        for p in parents:
            target = target[p]
        if value is DROP:
            del target[last]
        else:
            target[last] = value
    return report


DROP = object()


def batch(*reports: dict[str, Any]) -> dict[str, Any]:
    return {"tracks": [copy.deepcopy(r) for r in reports]}


@dataclass(frozen=True)
class Later:
    """A report time relative to when the test runs, not to when the cases were collected
    (a long suite runs a case many minutes after collecting it)."""

    delta: timedelta


def _time(delta: timedelta) -> Later:
    return Later(delta)


def timed(body: Any) -> Any:
    """``body`` with each :class:`Later` made a time, now."""
    if isinstance(body, Later):
        return (
            (datetime.now(UTC).replace(microsecond=0) + body.delta)
            .isoformat()
            .replace("+00:00", "Z")
        )
    if isinstance(body, dict):
        return {k: timed(v) for k, v in body.items()}
    if isinstance(body, list):
        return [timed(v) for v in body]
    return body


CASES: list[tuple[str, Any, str, str]] = [
    ("no tracks member", {}, "/tracks", "required"),
    ("tracks not an array", {"tracks": {"a": 1}}, "/tracks", "type"),
    ("an empty batch", {"tracks": []}, "/tracks", "batch_size"),
    ("an unknown member", {"tracks": [], "party": "russia"}, "/party", "unknown_field"),
    ("a report not an object", {"tracks": [42]}, "/tracks/0", "type"),
    ("the second report bad", batch(good(), good(lat=91)), "/tracks/1/lat", "lat_range"),
    ("longitude out of range", batch(good(lon=-180.5)), "/tracks/0/lon", "lon_range"),
    ("latitude a string", batch(good(lat="35")), "/tracks/0/lat", "type"),
    ("latitude a boolean", batch(good(lat=True)), "/tracks/0/lat", "type"),
    ("missing altitude", batch(good(altitude=DROP)), "/tracks/0/altitude", "required"),
    (
        "altitude units unknown",
        batch(good(altitude__units="furlong")),
        "/tracks/0/altitude/units",
        "altitude_units",
    ),
    (
        "altitude reference unknown",
        batch(good(altitude__reference="QNH")),
        "/tracks/0/altitude/reference",
        "altitude_reference",
    ),
    (
        "altitude in space",
        batch(good(altitude__value=400_000)),
        "/tracks/0/altitude/value",
        "altitude_range",
    ),
    (
        "negative ground speed",
        batch(good(ground_speed__value=-1)),
        "/tracks/0/ground_speed/value",
        "speed",
    ),
    (
        "ground speed in mach",
        batch(good(ground_speed__units="mach")),
        "/tracks/0/ground_speed/units",
        "speed_units",
    ),
    (
        "a speed no aircraft flies",
        batch(good(ground_speed__value=3_000, ground_speed__units="m/s")),
        "/tracks/0/ground_speed/value",
        "speed",
    ),
    (
        "a vertical rate no aircraft flies",
        batch(good(vertical_rate__value=600, vertical_rate__units="m/s")),
        "/tracks/0/vertical_rate/value",
        "vertical_rate",
    ),
    (
        "vertical rate units unknown",
        batch(good(vertical_rate__units="fpm")),
        "/tracks/0/vertical_rate/units",
        "vertical_rate_units",
    ),
    ("track of 360 degrees", batch(good(track_deg=360)), "/tracks/0/track_deg", "track_range"),
    ("negative track", batch(good(track_deg=-1)), "/tracks/0/track_deg", "track_range"),
    ("empty track id", batch(good(track_id="")), "/tracks/0/track_id", "track_id"),
    ("track id too long", batch(good(track_id="V" * 65)), "/tracks/0/track_id", "track_id"),
    ("track id a number", batch(good(track_id=11)), "/tracks/0/track_id", "track_id"),
    (
        "a time without offset",
        batch(good(time="2026-11-22T10:00:00")),
        "/tracks/0/time",
        "time_offset",
    ),
    (
        "a time in the future",
        batch(good(time=_time(timedelta(minutes=5)))),
        "/tracks/0/time",
        "track_time_future",
    ),
    (
        "a time older than the retention",
        batch(good(time=_time(-timedelta(hours=2)))),
        "/tracks/0/time",
        "track_time_expired",
    ),
    ("an extra member", batch(good(party="russia")), "/tracks/0/party", "unknown_field"),
]


@pytest.mark.parametrize(
    ("body", "field_", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_track_batch_names_the_field_and_the_rule_and_keeps_nothing(
    api: Api, body: Any, field_: str, rule: str
) -> None:
    r = api.post("coalition", TRACKS, timed(body))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "invalid_input"
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field_, rule)
    assert api.get("coalition", TRACKS).json() == {"items": []}


def _with_lat(literal: bytes) -> bytes:
    """A good batch whose latitude is a literal JSON cannot carry."""
    return json.dumps(batch(good())).encode().replace(b'"lat": 35.0', b'"lat": ' + literal)


@pytest.mark.parametrize(
    ("raw", "status", "rule"),
    [
        (_with_lat(b"NaN"), 422, "finite"),
        (_with_lat(b"1e400"), 422, "finite"),
        (b"[" * 5_000 + b"]" * 5_000, 422, "max_depth"),
        (b'{"tracks": ' + b'"x"' * 1 + b"}", 422, "type"),
        (b"not json", 422, "json"),
    ],
    ids=["NaN", "a number beyond a float", "deep nesting", "a string", "not JSON"],
)
def test_hostile_track_bodies_are_refused(api: Api, raw: bytes, status: int, rule: str) -> None:
    r = api.client.post(
        TRACKS,
        content=raw,
        headers=api.headers("coalition", {"Content-Type": "application/json"}),
    )
    assert r.status_code == status, r.text
    assert rule in {e["rule"] for e in r.json().get("errors", [])}, r.text
    assert api.get("coalition", TRACKS).json() == {"items": []}


def test_a_batch_larger_than_the_body_limit_is_refused(api: Api) -> None:
    reports = [good(track_id=f"V{k}") for k in range(10_000)]
    r = api.post("coalition", TRACKS, {"tracks": reports})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert api.get("coalition", TRACKS).json() == {"items": []}
