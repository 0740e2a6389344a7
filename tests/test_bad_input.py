"""Malformed and hostile requests, as a table: each gets a 4xx problem document naming the field
and the rule it broke, and writes nothing.

Every case runs against a channel holding one declaration of the caller's; after the request the
number of declarations and that declaration (version and body) must be as before.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from conftest import PARTIES, PRINCIPALS, Api
from deconflict.disclosure import Role, Viewer
from deconflict.ledger import HIDDEN_SLOTS
from factories import box, declaration, line, point, volume

DECLARATIONS = "/v1/declarations"
EXISTING = "/v1/declarations/{id}"
CURRENT = "current"
"""``if_match`` placeholder: the version of the existing declaration at the time of the call."""
NO_BODY = object()

V0 = "/volumes/0"
G0 = f"{V0}/geometry"
C0 = f"{G0}/coordinates"


def good() -> dict[str, Any]:
    """A valid declaration: every case below breaks one thing in it."""
    return declaration("air_operation", "Night sortie", volume(box(36.0, 35.0, 36.5, 35.5)))


def changed(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``good()`` (or ``base``) with the member at a slash-separated ``path`` replaced, or
    removed when ``value`` is ``NO_BODY``."""
    body = copy.deepcopy(base if base is not None else good())
    *parents, last = path.strip("/").split("/")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is NO_BODY:
        del node[last]
    else:
        node[last] = value
    return body


def with_geometry(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return declaration("air_operation", "Night sortie", volume(geometry, **kw))


def polygon(*ring: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def raw_json(body: Any, **literals: str) -> bytes:
    """JSON text of ``body`` with the strings ``"<NAME>"`` replaced by the literal given for
    NAME: ``NaN``, ``Infinity``, a 400-digit integer, ..."""
    text = json.dumps(body)
    for name, literal in literals.items():
        text = text.replace(f'"<{name}>"', literal)
    return text.encode()


def circle_ring(n: int) -> list[list[float]]:
    """A closed ring of ``n`` positions around (36, 35), about 10 km across."""
    ring = [
        [
            36.0 + 0.05 * math.cos(2 * math.pi * i / (n - 1)),
            35.0 + 0.05 * math.sin(2 * math.pi * i / (n - 1)),
        ]
        for i in range(n - 1)
    ]
    return [*ring, ring[0]]


@dataclass(frozen=True)
class Bad:
    """One bad request and the problem it must get: ``status``, ``code`` and, for a 422, the
    ``field`` and ``rule`` of the first error. ``url`` may name the existing declaration as
    ``{id}``; ``if_match`` may be :data:`CURRENT`."""

    name: str
    status: int
    code: str
    field: str | None = None
    rule: str | None = None
    method: str = "POST"
    url: str = DECLARATIONS
    body: Any = NO_BODY
    content: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    who: str | None = "coalition"
    if_match: str | bytes | None = None
    cancel_first: bool = False


def post(name: str, body: Any, field_: str, rule: str, url: str = DECLARATIONS) -> Bad:
    return Bad(name, 422, "invalid_input", field_, rule, body=body, url=url)


def raw(
    name: str,
    content: bytes,
    status: int,
    code: str,
    field_: str | None = None,
    rule: str | None = None,
    content_type: str = "application/json",
) -> Bad:
    return Bad(name, status, code, field_, rule, content=content, content_type=content_type)


def patch(
    name: str,
    body: Any,
    status: int,
    code: str,
    field_: str | None = None,
    rule: str | None = None,
    *,
    if_match: str | bytes | None = CURRENT,
    cancel_first: bool = False,
    who: str = "coalition",
) -> Bad:
    return Bad(
        name,
        status,
        code,
        field_,
        rule,
        method="PATCH",
        url=EXISTING,
        body=body,
        if_match=if_match,
        cancel_first=cancel_first,
        who=who,
    )


def get(name: str, url: str, field_: str, rule: str) -> Bad:
    return Bad(name, 422, "invalid_input", field_, rule, method="GET", url=url)


BIG_BOX = box(30.0, -5.0, 40.0, 5.0)  # 10° x 10° at the equator: about 1.2 million km²
FOUR_HUNDRED_DIGITS = "1" * 400
LOG_SIZE = len(PARTIES) + len(PRINCIPALS) + 1 + HIDDEN_SLOTS
"""Leaves in the log when a case runs: the parties, the principals, and one declaration with its
slots for conflicts hidden from its writer."""
INCLUSION = "/v1/ledger/inclusion"
CONSISTENCY = "/v1/ledger/consistency"

CASES: list[Bad] = [
    # geometry
    post(
        "ring_not_closed",
        with_geometry(polygon((36, 35), (36.5, 35), (36.5, 35.5), (36, 35.5), (36.1, 35))),
        f"{C0}/0",
        "ring_not_closed",
    ),
    post(
        "bow_tie_ring",
        with_geometry(polygon((36, 35), (36.5, 35.5), (36.5, 35), (36, 35.5), (36, 35))),
        G0,
        "self_intersection",
    ),
    post(
        "ring_of_three_positions",
        with_geometry(polygon((36, 35), (36.5, 35), (36, 35))),
        f"{C0}/0",
        "ring_min_positions",
    ),
    post(
        "hole_outside_shell",
        with_geometry(
            {
                "type": "Polygon",
                "coordinates": [
                    box(36, 35, 36.5, 35.5)["coordinates"][0],
                    box(37, 36, 37.1, 36.1)["coordinates"][0],
                ],
            }
        ),
        G0,
        "self_intersection",
    ),
    post(
        "lon_out_of_range",
        with_geometry(polygon((36, 35), (181, 35), (36.5, 35.5), (36, 35))),
        f"{C0}/0/1/0",
        "lon_range",
    ),
    post(
        "lat_out_of_range",
        with_geometry(polygon((36, 35), (36.5, 35), (36.5, 91), (36, 35))),
        f"{C0}/0/2/1",
        "lat_range",
    ),
    post(
        "point_lon_out_of_range",
        with_geometry(point(-180.5, 35), buffer_m=100),
        f"{C0}/0",
        "lon_range",
    ),
    post(
        "empty_coordinates",
        with_geometry({"type": "Polygon", "coordinates": []}),
        C0,
        "polygon_rings",
    ),
    post(
        "empty_polygon_ring",
        with_geometry({"type": "Polygon", "coordinates": [[]]}),
        f"{C0}/0",
        "ring_min_positions",
    ),
    post("missing_coordinates", with_geometry({"type": "Polygon"}), C0, "required"),
    post(
        "zero_area_collinear_ring",
        with_geometry(polygon((36, 35), (36, 35.5), (36, 36), (36, 35))),
        G0,
        "zero_area",
    ),
    post(
        "zero_area_tiny_triangle",
        with_geometry(polygon((36, 35), (36.0000001, 35), (36, 35.0000001), (36, 35))),
        G0,
        "zero_area",
    ),
    post("area_over_500000_km2", with_geometry(BIG_BOX), G0, "max_area"),
    post(
        "more_than_10000_vertices",
        with_geometry({"type": "Polygon", "coordinates": [circle_ring(10_001)]}),
        f"{C0}/0",
        "max_vertices",
    ),
    post(
        "ring_enclosing_north_pole",
        with_geometry(polygon((0, 80), (90, 80), (180, 80), (-90, 80), (0, 80))),
        f"{C0}/0",
        "encloses_pole",
    ),
    post(
        "line_longer_than_extent",
        with_geometry(line((5, 30), (45, 30)), buffer_m=10),
        G0,
        "max_extent",
    ),
    post(
        "position_with_three_numbers",
        with_geometry(
            {
                "type": "Polygon",
                "coordinates": [[[36, 35, 100], [36.5, 35], [36.5, 35.5], [36, 35]]],
            }
        ),
        f"{C0}/0/0",
        "position_dimensions",
    ),
    post(
        "strings_for_numbers",
        with_geometry({"type": "Point", "coordinates": ["36.0", "35.0"]}, buffer_m=100),
        C0,
        "type",
    ),
    post(
        "booleans_for_numbers",
        with_geometry({"type": "Point", "coordinates": [True, 35.0]}, buffer_m=100),
        C0,
        "type",
    ),
    post(
        "multipolygon_of_numbers",
        with_geometry({"type": "MultiPolygon", "coordinates": [[1, 2]]}),
        f"{C0}/0/0",
        "type",
    ),
    post(
        "unknown_geometry_type",
        with_geometry({"type": "Circle", "coordinates": [36, 35]}),
        f"{G0}/type",
        "geometry_type",
    ),
    post(
        "unknown_geometry_member",
        with_geometry(point(36, 35) | {"crs": "EPSG:4326"}, buffer_m=100),
        f"{G0}/crs",
        "unknown_field",
    ),
    post("point_without_buffer", with_geometry(point(36, 35)), f"{V0}/buffer_m", "buffer_required"),
    post(
        "linestring_with_one_position",
        with_geometry({"type": "LineString", "coordinates": [[36, 35]]}, buffer_m=100),
        C0,
        "line_min_positions",
    ),
    post(
        "negative_buffer",
        with_geometry(point(36, 35), buffer_m=-1),
        f"{V0}/buffer_m",
        "buffer_range",
    ),
    post(
        "huge_buffer", with_geometry(point(36, 35), buffer_m=1e7), f"{V0}/buffer_m", "buffer_range"
    ),
    post(
        "buffer_as_string", with_geometry(point(36, 35), buffer_m="500"), f"{V0}/buffer_m", "type"
    ),
    raw(
        "nan_longitude",
        raw_json(with_geometry(point("<NAN>", 35), buffer_m=100), NAN="NaN"),
        422,
        "invalid_input",
        "",
        "finite",
    ),
    raw(
        "infinity_buffer",
        raw_json(with_geometry(point(36, 35), buffer_m="<INF>"), INF="Infinity"),
        422,
        "invalid_input",
        "",
        "finite",
    ),
    raw(
        "minus_infinity_altitude",
        raw_json(changed(f"{V0}/altitude/lower", "<INF>"), INF="-Infinity"),
        422,
        "invalid_input",
        "",
        "finite",
    ),
    raw(
        "integer_too_large_for_a_float",
        raw_json(with_geometry(point("<BIG>", 35), buffer_m=100), BIG=FOUR_HUNDRED_DIGITS),
        422,
        "invalid_input",
        C0,
        "finite",
    ),
    raw(
        "buffer_too_large_for_a_float",
        raw_json(with_geometry(point(36, 35), buffer_m="<BIG>"), BIG=FOUR_HUNDRED_DIGITS),
        422,
        "invalid_input",
        f"{V0}/buffer_m",
        "buffer_range",
    ),
    # time
    post(
        "time_without_offset",
        changed(f"{V0}/time/start", "2017-04-06T18:00:00"),
        f"{V0}/time/start",
        "time_offset",
    ),
    post(
        "time_not_rfc3339",
        changed(f"{V0}/time/start", "06/04/2017 18:00"),
        f"{V0}/time/start",
        "rfc3339",
    ),
    post(
        "time_without_seconds",
        changed(f"{V0}/time/start", "2017-04-06T18:00Z"),
        f"{V0}/time/start",
        "rfc3339",
    ),
    post(
        "time_iso_basic_format",
        changed(f"{V0}/time/end", "20170407T060000Z"),
        f"{V0}/time/end",
        "rfc3339",
    ),
    post("time_as_number", changed(f"{V0}/time/start", 1491501600), f"{V0}/time/start", "type"),
    post(
        "time_year_1_beyond_range",
        changed(f"{V0}/time/start", "0001-01-01T00:00:00+14:00"),
        f"{V0}/time/start",
        "time_range",
    ),
    post(
        "end_before_start",
        changed(f"{V0}/time/end", "2017-04-06T17:59:59Z"),
        f"{V0}/time/end",
        "time_order",
    ),
    post(
        "end_equal_to_start",
        changed(f"{V0}/time/end", "2017-04-06T18:00:00Z"),
        f"{V0}/time/end",
        "time_order",
    ),
    post(
        "window_longer_than_400_days",
        changed(f"{V0}/time/end", "2018-05-12T18:00:00Z"),
        f"{V0}/time/end",
        "max_window",
    ),
    post("time_without_end", changed(f"{V0}/time/end", NO_BODY), f"{V0}/time/end", "required"),
    # altitude
    post(
        "altitude_without_units",
        changed(f"{V0}/altitude/units", NO_BODY),
        f"{V0}/altitude/units",
        "required",
    ),
    post(
        "altitude_without_reference",
        changed(f"{V0}/altitude/reference", NO_BODY),
        f"{V0}/altitude/reference",
        "required",
    ),
    post(
        "altitude_in_yards",
        changed(f"{V0}/altitude/units", "yards"),
        f"{V0}/altitude/units",
        "altitude_units",
    ),
    post(
        "altitude_reference_agl",
        changed(f"{V0}/altitude/reference", "AGL"),
        f"{V0}/altitude/reference",
        "altitude_reference",
    ),
    post(
        "lower_above_upper",
        changed(f"{V0}/altitude/lower", 12_000),
        f"{V0}/altitude/lower",
        "altitude_order",
    ),
    post(
        "absurd_altitude",
        changed(f"{V0}/altitude/upper", 1e9),
        f"{V0}/altitude/upper",
        "altitude_range",
    ),
    post(
        "altitude_as_string",
        changed(f"{V0}/altitude/upper", "3000"),
        f"{V0}/altitude/upper",
        "type",
    ),
    # declaration
    post("unknown_kind", changed("kind", "picnic"), "/kind", "enum"),
    post("kind_null", changed("kind", None), "/kind", "enum"),
    post("missing_kind", changed("kind", NO_BODY), "/kind", "required"),
    post("unknown_top_level_field", changed("nickname", "Viper"), "/nickname", "unknown_field"),
    post(
        "unknown_field_in_volume", changed(f"{V0}/colour", "red"), f"{V0}/colour", "unknown_field"
    ),
    post(
        "unknown_field_in_altitude",
        changed(f"{V0}/altitude/agl", True),
        f"{V0}/altitude/agl",
        "unknown_field",
    ),
    post(
        "released_to_on_air_operation",
        changed("released_to", ["medics"]),
        "/released_to",
        "not_applicable",
    ),
    post(
        "site_type_on_humanitarian_movement",
        changed("site_type", "hospital", changed("kind", "humanitarian_movement")),
        "/site_type",
        "not_applicable",
    ),
    post(
        "unknown_site_type",
        changed("site_type", "castle", changed("kind", "protected_site")),
        "/site_type",
        "enum",
    ),
    post("empty_volumes", changed("volumes", []), "/volumes", "volumes_count"),
    post(
        "fifty_one_volumes", changed("volumes", good()["volumes"] * 51), "/volumes", "volumes_count"
    ),
    post(
        "volumes_not_an_array",
        changed("volumes", good()["volumes"][0]),
        "/volumes",
        "volumes_count",
    ),
    post("volume_not_an_object", changed("volumes", ["box"]), V0, "type"),
    post("missing_title", changed("title", NO_BODY), "/title", "required"),
    post("empty_title", changed("title", ""), "/title", "length"),
    post("blank_title", changed("title", " \t\n "), "/title", "length"),
    post("nul_in_title", changed("title", "a\u0000b"), "/title", "control_character"),
    post("escape_in_purpose", changed("purpose", "x\u001b[31m"), "/purpose", "control_character"),
    post("slash_in_unknown_field", {**good(), "a/b~c": 1}, "/a~1b~0c", "unknown_field"),
    post("title_of_201_chars", changed("title", "x" * 201), "/title", "length"),
    post("title_as_number", changed("title", 7), "/title", "type"),
    post(
        "unknown_party_in_released_to",
        changed("released_to", ["medics", "nobody"], changed("kind", "protected_site")),
        "/released_to/1",
        "unknown_party",
    ),
    post(
        "malformed_party_id_in_released_to",
        changed("released_to", ["Not A Party"], changed("kind", "protected_site")),
        "/released_to/0",
        "party_id",
    ),
    post(
        "unknown_controlling_party",
        changed("controlling_party", "nobody", changed("kind", "coordination_measure")),
        "/controlling_party",
        "unknown_party",
    ),
    post("state_ended_on_create", changed("state", "ended"), "/state", "initial_state"),
    post("state_unknown", changed("state", "paused"), "/state", "enum"),
    raw(
        "lone_surrogate_in_title",
        raw_json(changed("title", "<S>"), S='"\\ud800 sortie"'),
        422,
        "invalid_input",
        "/title",
        "unicode",
    ),
    # body and transport
    raw("body_not_json", b"kind=air_operation", 422, "invalid_input", "", "json"),
    raw("body_truncated_json", json.dumps(good()).encode()[:-1], 422, "invalid_input", "", "json"),
    raw("body_not_utf8", b'{"title": "\xff\xfe"}', 422, "invalid_input", "", "json"),
    raw("body_json_array", b"[]", 422, "invalid_input", "", "type"),
    raw("body_json_null", b"null", 422, "invalid_input", "", "type"),
    raw("body_json_string", b'"air_operation"', 422, "invalid_input", "", "type"),
    raw("body_empty", b"", 422, "invalid_input", "", "required"),
    raw(
        "integer_of_5000_digits",
        raw_json(changed("title", "<BIG>"), BIG="9" * 5000),
        422,
        "invalid_input",
        "",
        "json",
    ),
    raw(
        "text_plain",
        json.dumps(good()).encode(),
        415,
        "unsupported_media_type",
        content_type="text/plain",
    ),
    raw(
        "form_urlencoded",
        b"kind=air_operation&title=x",
        415,
        "unsupported_media_type",
        content_type="application/x-www-form-urlencoded",
    ),
    raw(
        "body_over_2_mib",
        b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        413,
        "payload_too_large",
    ),
    raw("body_nested_1000_deep", b"[" * 1000 + b"]" * 1000, 422, "invalid_input", "", "max_depth"),
    # authentication
    Bad("missing_bearer_token", 401, "authentication_required", body=good(), who=None),
    Bad(
        "unknown_bearer_token",
        401,
        "authentication_required",
        body=good(),
        who=None,
        headers=(("Authorization", "Bearer dcf_not-a-token"),),
    ),
    Bad(
        "basic_auth_instead_of_bearer",
        401,
        "authentication_required",
        body=good(),
        who=None,
        headers=(("Authorization", "Basic Y29hbGl0aW9uOnNlY3JldA=="),),
    ),
    Bad("viewer_cannot_declare", 403, "forbidden", body=good(), who="coalition_viewer"),
    # POST /v1/check validates the same way
    post(
        "check_bow_tie",
        with_geometry(polygon((36, 35), (36.5, 35.5), (36.5, 35), (36, 35.5), (36, 35))),
        G0,
        "self_intersection",
        url="/v1/check",
    ),
    post(
        "check_unknown_party",
        changed("released_to", ["nobody"], changed("kind", "protected_site")),
        "/released_to/0",
        "unknown_party",
        url="/v1/check",
    ),
    Bad(
        "check_nan",
        422,
        "invalid_input",
        "",
        "finite",
        url="/v1/check",
        content=raw_json(changed(f"{V0}/altitude/upper", "<NAN>"), NAN="NaN"),
    ),
    Bad(
        "check_text_plain",
        415,
        "unsupported_media_type",
        url="/v1/check",
        content=b"{}",
        content_type="text/plain",
    ),
    # PATCH /v1/declarations/{id}
    patch(
        "patch_without_if_match", {"title": "Renamed"}, 428, "precondition_required", if_match=None
    ),
    patch(
        "patch_if_match_not_a_number",
        {"title": "Renamed"},
        422,
        "invalid_input",
        "If-Match",
        "version",
        if_match='"abc"',
    ),
    patch(
        "patch_if_match_superscript_digit",
        {"title": "Renamed"},
        422,
        "invalid_input",
        "If-Match",
        "version",
        if_match=b'"\xb2"',
    ),
    patch("patch_stale_if_match", {"title": "Renamed"}, 412, "version_mismatch", if_match='"7"'),
    patch("patch_changing_kind", {"kind": "strike"}, 422, "invalid_input", "/kind", "immutable"),
    patch(
        "patch_cancelled_to_active",
        {"state": "active"},
        409,
        "illegal_transition",
        cancel_first=True,
    ),
    patch("patch_planned_to_ended", {"state": "ended"}, 409, "illegal_transition"),
    patch(
        "patch_amending_cancelled",
        {"title": "Renamed"},
        409,
        "illegal_transition",
        cancel_first=True,
    ),
    patch("patch_empty_object", {}, 422, "invalid_input", "", "type"),
    patch("patch_json_array", [{"title": "Renamed"}], 422, "invalid_input", "", "type"),
    patch(
        "patch_volumes_null", {"volumes": None}, 422, "invalid_input", "/volumes", "volumes_count"
    ),
    patch("patch_blank_title", {"title": "  "}, 422, "invalid_input", "/title", "length"),
    patch(
        "patch_lat_out_of_range",
        {"volumes": [volume(polygon((36, 35), (36.5, 35), (36.5, 95), (36, 35)))]},
        422,
        "invalid_input",
        f"{C0}/0/2/1",
        "lat_range",
    ),
    patch(
        "patch_window_too_long",
        {"volumes": [volume(box(36, 35, 36.5, 35.5), end="2019-01-01T00:00:00Z")]},
        422,
        "invalid_input",
        f"{V0}/time/end",
        "max_window",
    ),
    patch(
        "patch_by_party_that_cannot_see_it", {"title": "Renamed"}, 404, "not_found", who="russia"
    ),
    Bad(
        "patch_unknown_declaration",
        404,
        "not_found",
        method="PATCH",
        url="/v1/declarations/dcl_nope",
        body={"title": "Renamed"},
        if_match='"1"',
    ),
    Bad("delete_without_if_match", 428, "precondition_required", method="DELETE", url=EXISTING),
    Bad(
        "delete_stale_if_match",
        412,
        "version_mismatch",
        method="DELETE",
        url=EXISTING,
        if_match='"2"',
    ),
    # GET /v1/declarations query parameters
    get("limit_zero", f"{DECLARATIONS}?limit=0", "limit", "limit_range"),
    get("limit_1001", f"{DECLARATIONS}?limit=1001", "limit", "limit_range"),
    get("limit_abc", f"{DECLARATIONS}?limit=abc", "limit", "limit_range"),
    get("limit_negative", f"{DECLARATIONS}?limit=-1", "limit", "limit_range"),
    get("limit_superscript_two", f"{DECLARATIONS}?limit=%C2%B2", "limit", "limit_range"),
    get("limit_of_5000_digits", f"{DECLARATIONS}?limit={'1' * 5000}", "limit", "limit_range"),
    get("cursor_not_base64", f"{DECLARATIONS}?cursor=!!!", "cursor", "cursor"),
    get("cursor_forged", f"{DECLARATIONS}?cursor=eDE=", "cursor", "cursor"),
    get("bbox_three_numbers", f"{DECLARATIONS}?bbox=1,2,3", "bbox", "bbox"),
    get("bbox_nan", f"{DECLARATIONS}?bbox=nan,0,1,1", "bbox", "bbox"),
    get("bbox_south_above_north", f"{DECLARATIONS}?bbox=0,10,10,0", "bbox", "bbox_range"),
    get("bbox_lat_out_of_range", f"{DECLARATIONS}?bbox=0,-91,1,1", "bbox", "bbox_range"),
    get("start_not_a_time", f"{DECLARATIONS}?start=yesterday", "start", "rfc3339"),
    get(
        "start_without_offset", f"{DECLARATIONS}?start=2017-04-06T18:00:00", "start", "time_offset"
    ),
    get(
        "start_year_1_beyond_range",
        f"{DECLARATIONS}?start=0001-01-01T00:00:00%2B14:00",
        "start",
        "time_range",
    ),
    get("unknown_kind_filter", f"{DECLARATIONS}?kind=picnic", "kind", "enum"),
    get("unknown_state_filter", f"{DECLARATIONS}?state=paused", "state", "enum"),
    get("conflicts_unknown_state", "/v1/conflicts?state=paused", "state", "enum"),
    get("conflicts_limit_superscript", "/v1/conflicts?limit=%C2%B2", "limit", "limit_range"),
    # GET /v1/ledger: the log holds LOG_SIZE leaves here
    get(
        "inclusion_tree_size_beyond_the_log",
        f"{INCLUSION}?leaf_index=0&tree_size={LOG_SIZE + 1}",
        "tree_size",
        "in_log",
    ),
    get("inclusion_tree_size_zero", f"{INCLUSION}?leaf_index=0&tree_size=0", "tree_size", "in_log"),
    get(
        "inclusion_leaf_index_equal_to_tree_size",
        f"{INCLUSION}?leaf_index=5&tree_size=5",
        "leaf_index",
        "in_tree",
    ),
    get(
        "inclusion_leaf_index_not_a_number",
        f"{INCLUSION}?leaf_index=abc&tree_size=5",
        "leaf_index",
        "whole_number",
    ),
    get(
        "inclusion_leaf_index_negative",
        f"{INCLUSION}?leaf_index=-1&tree_size=5",
        "leaf_index",
        "whole_number",
    ),
    get(
        "inclusion_tree_size_superscript_two",
        f"{INCLUSION}?leaf_index=0&tree_size=%C2%B2",
        "tree_size",
        "whole_number",
    ),
    get(
        "inclusion_tree_size_of_400_digits",
        f"{INCLUSION}?leaf_index=0&tree_size={FOUR_HUNDRED_DIGITS}",
        "tree_size",
        "whole_number",
    ),
    get("inclusion_without_tree_size", f"{INCLUSION}?leaf_index=0", "tree_size", "required"),
    get("inclusion_without_leaf_index", f"{INCLUSION}?tree_size=5", "leaf_index", "required"),
    get("consistency_first_zero", f"{CONSISTENCY}?first=0&second=5", "first", "in_tree"),
    get("consistency_first_above_second", f"{CONSISTENCY}?first=6&second=5", "first", "in_tree"),
    get(
        "consistency_second_beyond_the_log",
        f"{CONSISTENCY}?first=1&second={LOG_SIZE + 1}",
        "second",
        "in_log",
    ),
    get("consistency_first_decimal", f"{CONSISTENCY}?first=1.5&second=5", "first", "whole_number"),
    get("consistency_without_second", f"{CONSISTENCY}?first=1", "second", "required"),
    get("leaf_index_not_a_number", "/v1/ledger/leaves/abc", "index", "whole_number"),
    get("leaf_index_negative", "/v1/ledger/leaves/-1", "index", "whole_number"),
    get("leaf_index_of_19_digits", f"/v1/ledger/leaves/{'9' * 19}", "index", "whole_number"),
    Bad("leaf_beyond_the_log", 404, "not_found", method="GET", url=f"/v1/ledger/leaves/{'9' * 18}"),
    Bad("evidence_of_unknown_object", 404, "not_found", method="GET", url="/v1/ledger/evidence/x"),
    Bad(
        "ledger_without_token",
        401,
        "authentication_required",
        method="GET",
        url="/v1/ledger/checkpoint",
        who=None,
    ),
    Bad(
        "list_without_token",
        401,
        "authentication_required",
        method="GET",
        url=DECLARATIONS,
        who=None,
    ),
]


def _send(api: Api, case: Bad, existing_id: str, version: int) -> Any:
    headers: dict[str, Any] = api.headers(case.who) | dict(case.headers)
    if case.if_match is not None:
        headers["If-Match"] = f'"{version}"' if case.if_match == CURRENT else case.if_match
    kw: dict[str, Any] = {}
    if case.content is not None:
        kw["content"] = case.content
        headers["Content-Type"] = case.content_type
    elif case.body is not NO_BODY:
        kw["json"] = case.body
    url = case.url.format(id=existing_id)
    if any(isinstance(v, bytes) for v in headers.values()):
        return _send_raw(api, case.method, url, headers, kw)
    return api.client.request(case.method, url, headers=headers, **kw)


def _send_raw(api: Api, method: str, url: str, headers: dict[str, Any], kw: dict[str, Any]) -> Any:
    """Send header bytes as they are: the test client re-encodes non-ASCII header values as
    UTF-8, while a server hands the application the bytes it got (read as Latin-1)."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, url, headers=headers, **kw)

    return anyio.run(call)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_request_gets_a_problem_and_writes_nothing(api: Api, case: Bad) -> None:
    existing = api.declare("coalition", good())["declaration"]
    if case.cancel_first:
        r = api.delete("coalition", f"{DECLARATIONS}/{existing['id']}", existing["version"])
        assert r.status_code == 200, r.text
        existing = r.json()["declaration"]
    count = api.declaration_count()

    r = _send(api, case, existing["id"], existing["version"])

    assert r.status_code == case.status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == r.status_code
    assert problem["code"] == case.code
    assert problem["type"] == f"/problems/{case.code}"
    assert isinstance(problem["title"], str)
    assert isinstance(problem["detail"], str)
    assert problem["title"]
    assert problem["detail"]
    if case.status == 422:
        first = problem["errors"][0]
        assert (first["field"], first["rule"]) == (case.field, case.rule), problem
        assert first["detail"]
    assert api.declaration_count() == count
    after = api.get("coalition", f"{DECLARATIONS}/{existing['id']}")
    assert after.status_code == 200
    assert after.json() == existing
    assert after.headers["ETag"] == f'"{existing["version"]}"'


def test_the_table_covers_enough_cases() -> None:
    assert len(CASES) >= 50
    names = [c.name for c in CASES + INBOX_CASES + EXCHANGE_CASES]
    assert len(set(names)) == len(names)


# The inbox ---------------------------------------------------------------------------------------
# Every case below runs against a channel where the coalition has one pending notification (of an
# airspace conflict with Russia) and a roster. After the request the notification, the roster,
# the ledger and the party's event stream must be as before. ``{id}`` in a URL is the
# notification's id, ``if_match=CURRENT`` its version; ``<name>`` in a body is the principal id of
# conftest's principal of that name.

ACK = "/v1/notifications/{id}/ack"
NOTIFICATIONS = "/v1/notifications"
ROSTER = "/v1/roster"
M0 = "/levels/0/members/0"


def ack(
    name: str,
    body: Any,
    status: int = 422,
    code: str = "invalid_input",
    field_: str | None = None,
    rule: str | None = None,
    *,
    if_match: str | bytes | None = CURRENT,
    who: str | None = "coalition",
    url: str = ACK,
) -> Bad:
    return Bad(name, status, code, field_, rule, url=url, body=body, if_match=if_match, who=who)


def ack_raw(
    name: str,
    content: bytes,
    status: int,
    code: str,
    field_: str | None = None,
    rule: str | None = None,
    content_type: str = "application/json",
) -> Bad:
    return Bad(
        name,
        status,
        code,
        field_,
        rule,
        url=ACK,
        content=content,
        content_type=content_type,
        if_match=CURRENT,
    )


def duty(*members: tuple[Any, Any], name: Any = "duty officer") -> dict[str, Any]:
    return {"name": name, "members": [{"principal": p, "shift": s} for p, s in members]}


def roster(name: str, body: Any, field_: str | None, rule: str | None, **kw: Any) -> Bad:
    kw.setdefault("who", "coalition_admin")
    status, code = kw.pop("status", 422), kw.pop("code", "invalid_input")
    return Bad(name, status, code, field_, rule, method="PUT", url=ROSTER, body=body, **kw)


def listing(name: str, query: str, field_: str, rule: str) -> Bad:
    return get(name, f"{NOTIFICATIONS}?{query}", field_, rule)


ALWAYS = "00:00-00:00"
ON_DUTY = ("<coalition>", ALWAYS)

INBOX_CASES: list[Bad] = [
    # GET /v1/notifications
    listing("notifications_unknown_state", "state=read", "state", "enum"),
    listing("notifications_state_in_capitals", "state=PENDING", "state", "enum"),
    listing("notifications_state_of_conflicts", "state=open", "state", "enum"),
    listing("notifications_cursor_not_base64", "cursor=!!!", "cursor", "cursor"),
    listing("notifications_cursor_forged", "cursor=eDE=", "cursor", "cursor"),
    listing("notifications_limit_zero", "limit=0", "limit", "limit_range"),
    listing("notifications_limit_1001", "limit=1001", "limit", "limit_range"),
    listing("notifications_limit_decimal", "limit=1.5", "limit", "limit_range"),
    listing("notifications_limit_superscript_two", "limit=%C2%B2", "limit", "limit_range"),
    # POST /v1/notifications/{id}/ack: the precondition
    ack("ack_without_if_match", {}, 428, "precondition_required", if_match=None),
    ack("ack_if_match_not_a_number", {}, 422, "invalid_input", "If-Match", "version",
        if_match='"abc"'),
    ack("ack_if_match_negative", {}, 422, "invalid_input", "If-Match", "version",
        if_match='"-1"'),
    ack("ack_if_match_two_versions", {}, 422, "invalid_input", "If-Match", "version",
        if_match='"1", "2"'),
    ack("ack_if_match_any", {}, 422, "invalid_input", "If-Match", "version", if_match="*"),
    ack("ack_if_match_superscript_digit", {}, 422, "invalid_input", "If-Match", "version",
        if_match=b'"\xb2"'),
    ack("ack_stale_if_match", {}, 412, "version_mismatch", if_match='"7"'),
    # the body
    ack("ack_body_array", [], 422, "invalid_input", "", "type"),
    ack("ack_body_string", "seen", 422, "invalid_input", "", "type"),
    ack_raw("ack_body_null", b"null", 422, "invalid_input", "", "type"),
    ack("ack_unknown_field", {"reply": "seen", "by": "prn_someone"}, 422, "invalid_input",
        "/by", "unknown_field"),
    ack("ack_reply_a_number", {"reply": 5}, 422, "invalid_input", "/reply", "type"),
    ack("ack_reply_an_object", {"reply": {"text": "seen"}}, 422, "invalid_input", "/reply",
        "type"),
    ack("ack_reply_of_2001_chars", {"reply": "x" * 2001}, 422, "invalid_input", "/reply",
        "length"),
    ack_raw("ack_reply_lone_surrogate", b'{"reply": "\\ud800 seen"}', 422, "invalid_input",
            "/reply", "unicode"),
    ack_raw("ack_body_not_json", b"reply=seen", 422, "invalid_input", "", "json"),
    ack_raw("ack_body_empty", b"", 422, "invalid_input", "", "required"),
    ack_raw("ack_body_nested_1000_deep", b"[" * 1000 + b"]" * 1000, 422, "invalid_input", "",
            "max_depth"),
    ack_raw("ack_text_plain", b"{}", 415, "unsupported_media_type", content_type="text/plain"),
    # who and what
    ack("ack_by_a_viewer", {}, 403, "forbidden", who="coalition_viewer"),
    ack("ack_unknown_notification", {}, 404, "not_found", url="/v1/notifications/ntf_nope/ack",
        if_match='"1"'),
    ack("ack_without_token", {}, 401, "authentication_required", who=None),
    # PUT /v1/roster
    roster("roster_not_an_object", [duty(ON_DUTY)], "", "type"),
    roster("roster_without_levels", {}, "/levels", "required"),
    roster("roster_unknown_field", {"levels": [duty(ON_DUTY)], "party": "russia"}, "/party",
           "unknown_field"),
    roster("roster_no_levels", {"levels": []}, "/levels", "length"),
    roster("roster_levels_not_a_list", {"levels": duty(ON_DUTY)}, "/levels", "length"),
    roster("roster_eleven_levels", {"levels": [duty(ON_DUTY)] * 11}, "/levels", "length"),
    roster("roster_level_not_an_object", {"levels": ["duty officer"]}, "/levels/0", "type"),
    roster("roster_level_unknown_field", {"levels": [duty(ON_DUTY) | {"colour": "red"}]},
           "/levels/0/colour", "unknown_field"),
    roster("roster_level_without_name", {"levels": [{"members": []}]}, "/levels/0/name",
           "required"),
    roster("roster_level_name_empty", {"levels": [duty(ON_DUTY, name="")]}, "/levels/0/name",
           "length"),
    roster("roster_level_name_a_number", {"levels": [duty(ON_DUTY, name=1)]},
           "/levels/0/name", "type"),
    roster("roster_members_not_a_list", {"levels": [{"name": "duty", "members": "all"}]},
           "/levels/0/members", "length"),
    roster("roster_201_members", {"levels": [duty(*[ON_DUTY] * 201)]}, "/levels/0/members",
           "length"),
    roster("roster_member_without_shift",
           {"levels": [{"name": "duty", "members": [{"principal": "<coalition>"}]}]},
           f"{M0}/shift", "required"),
    roster("roster_member_unknown_field",
           {"levels": [{"name": "duty", "members": [
               {"principal": "<coalition>", "shift": ALWAYS, "role": "flag officer"}]}]},
           f"{M0}/role", "unknown_field"),
    roster("roster_principal_a_number", {"levels": [duty((7, ALWAYS))]}, f"{M0}/principal",
           "type"),
    roster("roster_principal_empty", {"levels": [duty(("", ALWAYS))]}, f"{M0}/principal",
           "type"),
    roster("roster_shift_to_24_00", {"levels": [duty(("<coalition>", "18:00-24:00"))]},
           f"{M0}/shift", "shift"),
    roster("roster_shift_local_time", {"levels": [duty(("<coalition>", "09:00+03:00-21:00"))]},
           f"{M0}/shift", "shift"),
    roster("roster_shift_without_minutes", {"levels": [duty(("<coalition>", "6-18"))]},
           f"{M0}/shift", "shift"),
    roster("roster_shift_a_number", {"levels": [duty(("<coalition>", 600))]}, f"{M0}/shift",
           "shift"),
    roster("roster_principal_of_another_party",
           {"levels": [duty(ON_DUTY, ("<russia>", ALWAYS))]}, "/levels", "unknown_principal"),
    roster("roster_unknown_principal", {"levels": [duty(("prn_nobody", ALWAYS))]}, "/levels",
           "unknown_principal"),
    roster("roster_by_a_duty_officer", {"levels": [duty(ON_DUTY)]}, None, None, who="coalition",
           status=403, code="forbidden"),
    roster("roster_by_a_viewer", {"levels": [duty(ON_DUTY)]}, None, None,
           who="coalition_viewer", status=403, code="forbidden"),
    Bad("roster_body_not_json", 422, "invalid_input", "", "json", method="PUT", url=ROSTER,
        content=b"levels=1", who="coalition_admin"),
    Bad("roster_text_plain", 415, "unsupported_media_type", method="PUT", url=ROSTER,
        content=b'{"levels": []}', content_type="text/plain", who="coalition_admin"),
]  # fmt: skip


def _principals(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every ``"<name>"`` string replaced by that principal's id."""
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_principals(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _principals(v, ids) for k, v in value.items()}
    return value


def _inbox_state(api: Api, notification_id: str) -> tuple[Any, ...]:
    with api.channel.store.read() as txn:
        n = txn.get_notification(notification_id)
        r = txn.get_roster("coalition")
        return (
            n.to_json() if n else None,
            r.to_json() if r else None,
            txn.ledger_size(),
            txn.last_event_id(),
            txn.count_declarations(),
        )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in INBOX_CASES])
def test_bad_inbox_request_gets_a_problem_and_writes_nothing(api: Api, case: Bad) -> None:
    api.tokens["coalition_admin"] = api.channel.add_principal(
        "coalition", "coalition_admin", Role.PARTY_ADMIN
    )[1]
    ids = {who: api.channel.authenticate(token).id for who, token in api.tokens.items()}
    api.channel.inbox.set_roster(None, "coalition", {"levels": [duty((ids["coalition"], ALWAYS))]})
    api.declare("coalition", good())
    api.declare("russia", good())
    with api.channel.store.read() as txn:
        (notification,) = [n for n in txn.all_notifications() if n.party == "coalition"]
    before = _inbox_state(api, notification.id)
    assert before[0]["state"] == "pending"

    if case.body is not NO_BODY:
        case = dataclasses.replace(case, body=_principals(case.body, ids))
    r = _send(api, case, notification.id, notification.version)

    assert r.status_code == case.status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    problem = r.json()
    assert (problem["status"], problem["code"]) == (r.status_code, case.code)
    assert problem["detail"]
    if case.status == 422:
        first = problem["errors"][0]
        assert (first["field"], first["rule"]) == (case.field, case.rule), problem
    assert _inbox_state(api, notification.id) == before


def test_a_multipolygon_of_zero_area_parts_is_refused_not_a_server_error(api: Api) -> None:
    """Found by the OpenAPI fuzzer on POST /v1/incidents: degenerate parts joined to nothing."""
    flat = [[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    body = declaration(
        "air_operation",
        "Flat",
        volume({"type": "MultiPolygon", "coordinates": [flat, flat]}),
    )
    r = api.post("coalition", "/v1/declarations", body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["rule"] == "zero_area"


# Correspondence and the webhook ------------------------------------------------------------------
# Every case below runs against a channel where the coalition has reported an incident to Russia,
# asked Russia a pending request (``{request}`` in a URL, ``if_match=CURRENT`` its version) and sent
# it a message, and where the coalition's admin has set its webhook. After the request the
# incidents, requests, messages, webhooks, ledger and event log must be as before.

INCIDENTS = "/v1/incidents"
REQUESTS = "/v1/requests"
MESSAGES = "/v1/messages"
REPLIES = "/v1/incidents/{incident}/replies"
ANSWER = "/v1/requests/{request}/answer"
WEBHOOK = "/v1/webhook"
HOOK_URL = "http://127.0.0.1:9/coalition-hook"


def an_incident(**extra: Any) -> dict[str, Any]:
    """A valid incident report: every case below breaks one thing in it."""
    body = {
        "kind": "unsafe_intercept",
        "title": "Su-35 passed 150 m ahead of our P-8",
        "occurred_at": "2017-06-18T14:40:00Z",
        "place": {"geometry": point(38.0, 35.9), "buffer_m": 500},
        "parties": ["russia"],
    }
    return {k: v for k, v in (body | extra).items() if v is not NO_BODY}


def crossing(**extra: Any) -> dict[str, Any]:
    body = {
        "to": "russia",
        "template": "request_to_cross_line",
        "fields": {"line": "the Euphrates", "time": "16:00Z", "what": "two F/A-18E"},
    }
    return {k: v for k, v in (body | extra).items() if v is not NO_BODY}


def exchange(
    name: str,
    url: str,
    body: Any,
    field_: str | None = None,
    rule: str | None = None,
    *,
    status: int = 422,
    code: str = "invalid_input",
    **kw: Any,
) -> Bad:
    return Bad(name, status, code, field_, rule, url=url, body=body, **kw)


def answering(
    name: str, body: Any, field_: str | None = None, rule: str | None = None, **kw: Any
) -> Bad:
    kw.setdefault("if_match", CURRENT)
    kw.setdefault("who", "russia")
    return exchange(name, ANSWER, body, field_, rule, **kw)


def hook(
    name: str, body: Any, field_: str | None = None, rule: str | None = None, **kw: Any
) -> Bad:
    kw.setdefault("who", "coalition_admin")
    return exchange(name, WEBHOOK, body, field_, rule, method="PUT", **kw)


BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[36, 35], [36.5, 35.5], [36.5, 35], [36, 35.5], [36, 35]]],
}

EXCHANGE_CASES: list[Bad] = [
    # POST /v1/incidents
    exchange("incident_body_array", INCIDENTS, [an_incident()], "", "type"),
    exchange("incident_without_parties", INCIDENTS, an_incident(parties=NO_BODY), "/parties",
             "required"),
    exchange("incident_without_place", INCIDENTS, an_incident(place=NO_BODY), "/place",
             "required"),
    exchange("incident_unknown_field", INCIDENTS, an_incident(severity="high"), "/severity",
             "unknown_field"),
    exchange("incident_unknown_kind", INCIDENTS, an_incident(kind="dogfight"), "/kind", "enum"),
    exchange("incident_kind_a_list", INCIDENTS, an_incident(kind=["near_miss"]), "/kind", "enum"),
    exchange("incident_blank_title", INCIDENTS, an_incident(title="  "), "/title", "length"),
    exchange("incident_title_of_201_chars", INCIDENTS, an_incident(title="x" * 201), "/title",
             "length"),
    exchange("incident_escape_in_description", INCIDENTS,
             an_incident(description="x\u001b[31m"), "/description", "control_character"),
    exchange("incident_in_the_future", INCIDENTS, an_incident(occurred_at="2199-01-01T00:00:00Z"),
             "/occurred_at", "in_future"),
    exchange("incident_time_without_offset", INCIDENTS,
             an_incident(occurred_at="2017-06-18T14:40:00"), "/occurred_at", "time_offset"),
    exchange("incident_point_without_buffer", INCIDENTS,
             an_incident(place={"geometry": point(38.0, 35.9)}), "/place/buffer_m",
             "buffer_required"),
    exchange("incident_place_unknown_member", INCIDENTS,
             an_incident(place={"geometry": point(38.0, 35.9), "buffer_m": 5, "radius": 5}),
             "/place", "type"),
    exchange("incident_place_bow_tie", INCIDENTS, an_incident(place={"geometry": BOW_TIE}),
             "/place/geometry", "self_intersection"),
    exchange("incident_place_lat_out_of_range", INCIDENTS,
             an_incident(place={"geometry": point(38.0, 95.0), "buffer_m": 500}),
             "/place/geometry/coordinates/1", "lat_range"),
    exchange("incident_naming_its_own_party", INCIDENTS, an_incident(parties=["coalition"]),
             "/parties", "other_party"),
    exchange("incident_naming_nobody", INCIDENTS, an_incident(parties=[]), "/parties",
             "other_party"),
    exchange("incident_unknown_party", INCIDENTS, an_incident(parties=["nobody"]), "/parties/0",
             "unknown_party"),
    exchange("incident_malformed_party_id", INCIDENTS, an_incident(parties=["Not A Party"]),
             "/parties/0", "type"),
    exchange("incident_21_parties", INCIDENTS, an_incident(parties=["russia"] * 21), "/parties",
             "type"),
    exchange("incident_declaration_ids_null", INCIDENTS, an_incident(declaration_ids=None),
             "/declaration_ids", "type"),
    exchange("incident_unknown_declaration", INCIDENTS,
             an_incident(declaration_ids=["dcl_nope"]), "/declaration_ids/0",
             "unknown_declaration"),
    exchange("incident_by_a_viewer", INCIDENTS, an_incident(), status=403, code="forbidden",
             who="coalition_viewer"),
    Bad("incident_body_not_json", 422, "invalid_input", "", "json", url=INCIDENTS,
        content=b"kind=near_miss"),
    Bad("incident_text_plain", 415, "unsupported_media_type", url=INCIDENTS,
        content=json.dumps(an_incident()).encode(), content_type="text/plain"),
    # POST /v1/incidents/{id}/replies
    exchange("reply_without_text", REPLIES, {}, "", "type", who="russia"),
    exchange("reply_with_a_party", REPLIES, {"text": "Not us.", "party": "medics"}, "", "type",
             who="russia"),
    exchange("reply_blank", REPLIES, {"text": " \n "}, "/text", "length", who="russia"),
    exchange("reply_of_4001_chars", REPLIES, {"text": "x" * 4001}, "/text", "length",
             who="russia"),
    exchange("reply_nul", REPLIES, {"text": "a\u0000b"}, "/text", "control_character",
             who="russia"),
    exchange("reply_by_the_relay", REPLIES, {"text": "Noted."}, status=403, code="forbidden",
             who="relay"),
    exchange("reply_by_a_party_not_named", REPLIES, {"text": "Noted."}, status=404,
             code="not_found", who="medics"),
    exchange("reply_to_an_unknown_incident", "/v1/incidents/inc_nope/replies", {"text": "x"},
             status=404, code="not_found", who="russia"),
    # POST /v1/requests
    exchange("request_to_own_party", REQUESTS, crossing(to="coalition"), "/to", "other_party"),
    exchange("request_to_unknown_party", REQUESTS, crossing(to="nobody"), "/to",
             "unknown_party"),
    exchange("request_to_a_list", REQUESTS, crossing(to=["russia"]), "/to", "party_id"),
    exchange("request_template_and_text", REQUESTS, crossing(text="May we?"), "",
             "template_or_text"),
    exchange("request_without_template_or_text", REQUESTS,
             crossing(template=NO_BODY, fields=NO_BODY), "", "template_or_text"),
    exchange("request_unknown_template", REQUESTS, crossing(template="request_lunch"),
             "/template", "enum"),
    exchange("request_template_a_list", REQUESTS, crossing(template=["request_to_cross_line"]),
             "/template", "enum"),
    exchange("request_with_a_message_template", REQUESTS,
             crossing(template="confirm_channel_test", fields=NO_BODY), "/template",
             "message_template"),
    exchange("request_field_missing", REQUESTS, crossing(fields={"line": "x", "time": "y"}),
             "/fields/what", "length"),
    exchange("request_unknown_field_of_template", REQUESTS,
             crossing(fields=crossing()["fields"] | {"colour": "red"}), "/fields/colour",
             "unknown_field"),
    exchange("request_fields_a_list", REQUESTS, crossing(fields=["the Euphrates"]), "/fields",
             "type"),
    exchange("request_field_a_number", REQUESTS,
             crossing(fields=crossing()["fields"] | {"time": 1600}), "/fields/time", "length"),
    exchange("request_respond_by_in_the_past", REQUESTS,
             crossing(respond_by="2017-06-18T15:30:00Z"), "/respond_by", "respond_by_range"),
    exchange("request_respond_by_beyond_7_days", REQUESTS,
             crossing(respond_by="2199-01-01T00:00:00Z"), "/respond_by", "respond_by_range"),
    exchange("request_respond_by_without_offset", REQUESTS,
             crossing(respond_by="2199-01-01T00:00:00"), "/respond_by", "time_offset"),
    exchange("request_declaration_id_a_number", REQUESTS, crossing(declaration_id=7),
             "/declaration_id", "type"),
    exchange("request_unknown_declaration", REQUESTS, crossing(declaration_id="dcl_nope"),
             "/declaration_id", "unknown_declaration"),
    exchange("request_unknown_member", REQUESTS, crossing(urgent=True), "/urgent",
             "unknown_field"),
    exchange("request_text_with_nul", REQUESTS,
             {"to": "russia", "text": "a\u0000b"}, "/text", "control_character"),
    exchange("request_by_a_viewer", REQUESTS, crossing(), status=403, code="forbidden",
             who="coalition_viewer"),
    # GET lists and one request
    get("requests_cursor_forged", f"{REQUESTS}?cursor=eDE=", "cursor", "cursor"),
    get("requests_limit_zero", f"{REQUESTS}?limit=0", "limit", "limit_range"),
    get("incidents_limit_1001", f"{INCIDENTS}?limit=1001", "limit", "limit_range"),
    get("incidents_cursor_not_base64", f"{INCIDENTS}?cursor=!!!", "cursor", "cursor"),
    get("messages_limit_decimal", f"{MESSAGES}?limit=1.5", "limit", "limit_range"),
    get("messages_cursor_of_another_kind", f"{MESSAGES}?cursor=czE=", "cursor", "cursor"),
    Bad("request_unknown", 404, "not_found", method="GET", url="/v1/requests/req_nope"),
    Bad("message_unknown", 404, "not_found", method="GET", url="/v1/messages/msg_nope"),
    # POST /v1/requests/{id}/answer
    answering("answer_without_if_match", {"decision": "approve"}, status=428,
              code="precondition_required", if_match=None),
    answering("answer_stale_if_match", {"decision": "approve"}, status=412,
              code="version_mismatch", if_match='"7"'),
    answering("answer_if_match_not_a_number", {"decision": "approve"}, "If-Match", "version",
              if_match='"abc"'),
    answering("answer_maybe", {"decision": "maybe"}, "/decision", "enum"),
    answering("answer_decision_a_list", {"decision": ["approve"]}, "/decision", "enum"),
    answering("answer_without_decision", {"text": "Yes."}, "", "type"),
    answering("answer_unknown_member", {"decision": "approve", "by": "prn_x"}, "", "type"),
    answering("answer_text_a_number", {"decision": "approve", "text": 5}, "/text", "length"),
    answering("answer_text_of_4001_chars", {"decision": "approve", "text": "x" * 4001}, "/text",
              "length"),
    answering("answer_text_with_nul", {"decision": "approve", "text": "a\u0000b"}, "/text",
              "control_character"),
    answering("answer_by_the_asker", {"decision": "approve"}, status=403, code="forbidden",
              who="coalition"),
    answering("answer_by_a_viewer_of_the_party_asked", {"decision": "approve"}, status=403,
              code="forbidden", who="russia_viewer"),
    answering("answer_by_a_third_party", {"decision": "approve"}, status=404, code="not_found",
              who="medics"),
    Bad("answer_body_not_json", 422, "invalid_input", "", "json", url=ANSWER,
        content=b"decision=approve", if_match=CURRENT, who="russia"),
    # POST /v1/messages
    exchange("message_template_an_object", MESSAGES,
             {"to": "russia", "template": {"name": "confirm_channel_test"}}, "/template",
             "enum"),
    exchange("message_with_a_request_template", MESSAGES, crossing(), "/template",
             "request_template"),
    exchange("message_unknown_template", MESSAGES, {"to": "russia", "template": "hello"},
             "/template", "enum"),
    exchange("message_field_with_escape", MESSAGES,
             {"to": "russia", "template": "received_deconflicting",
              "fields": {"time": "16:00Z\u001b[2J"}}, "/fields/time", "control_character"),
    exchange("message_of_4001_chars", MESSAGES, {"to": "russia", "text": "x" * 4001}, "/text",
             "length"),
    exchange("message_to_own_party", MESSAGES, {"to": "coalition", "text": "hi"}, "/to",
             "other_party"),
    exchange("message_unknown_member", MESSAGES, {"to": "russia", "text": "hi", "urgent": True},
             "/urgent", "unknown_field"),
    exchange("message_by_a_viewer", MESSAGES, {"to": "russia", "text": "hi"}, status=403,
             code="forbidden", who="coalition_viewer"),
    # PUT and DELETE /v1/webhook
    hook("webhook_not_an_object", [HOOK_URL], "", "type"),
    hook("webhook_with_a_secret", {"url": HOOK_URL, "secret": "c2VjcmV0"}, "", "type"),
    hook("webhook_ftp_url", {"url": "ftp://127.0.0.1/hook"}, "/url", "url"),
    hook("webhook_url_without_host", {"url": "http:///hook"}, "/url", "url"),
    hook("webhook_url_a_number", {"url": 8080}, "/url", "url"),
    hook("webhook_url_of_2001_chars", {"url": "http://h/" + "x" * 1992}, "/url", "url"),
    hook("webhook_url_unclosed_ipv6", {"url": "http://[::1/hook"}, "/url", "url"),
    hook("webhook_url_port_not_a_number", {"url": "http://127.0.0.1:http/hook"}, "/url", "url"),
    hook("webhook_by_a_duty_officer", {"url": HOOK_URL}, status=403, code="forbidden",
         who="coalition"),
    hook("webhook_by_a_viewer", {"url": HOOK_URL}, status=403, code="forbidden",
         who="coalition_viewer"),
    Bad("webhook_removed_by_a_duty_officer", 403, "forbidden", method="DELETE", url=WEBHOOK),
    Bad("webhook_read_without_token", 401, "authentication_required", method="GET", url=WEBHOOK,
        who=None),
    Bad("webhook_text_plain", 415, "unsupported_media_type", method="PUT", url=WEBHOOK,
        content=json.dumps({"url": HOOK_URL}).encode(), content_type="text/plain",
        who="coalition_admin"),
]  # fmt: skip


def _exchange_state(api: Api, request_id: str, incident_id: str) -> tuple[Any, ...]:
    with api.channel.store.read() as txn:
        relay = Viewer("relay", Role.RELAY)
        webhooks = [txn.get_webhook(p) for p in PARTIES]
        return (
            txn.get_request(request_id),
            txn.get_incident(incident_id),
            txn.list_incidents(relay, 0, 1000).items,
            [txn.list_requests(p, 0, 1000).items for p in PARTIES],
            [txn.list_messages(p, 0, 1000).items for p in PARTIES],
            [None if w is None else (w.url, w.secret) for w in webhooks],
            txn.ledger_size(),
            txn.last_event_id(),
        )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in EXCHANGE_CASES])
def test_bad_correspondence_or_webhook_request_gets_a_problem_and_writes_nothing(
    api: Api, case: Bad
) -> None:
    for name, party, role in (
        ("coalition_admin", "coalition", Role.PARTY_ADMIN),
        ("russia_viewer", "russia", Role.VIEWER),
    ):
        api.tokens[name] = api.channel.add_principal(party, name, role)[1]
    set_hook = api.client.put(
        WEBHOOK, json={"url": HOOK_URL}, headers=api.headers("coalition_admin")
    )
    assert set_hook.status_code == 200, set_hook.text
    incident = api.post("coalition", INCIDENTS, an_incident())
    request = api.post("coalition", REQUESTS, crossing())
    message = api.post("coalition", MESSAGES, {"to": "russia", "text": "Channel check."})
    for r in (incident, request, message):
        assert r.status_code == 201, r.text
    incident_id, request_id = incident.json()["incident"]["id"], request.json()["request"]["id"]
    before = _exchange_state(api, request_id, incident_id)

    case = dataclasses.replace(
        case, url=case.url.replace("{request}", request_id).replace("{incident}", incident_id)
    )
    r = _send(api, case, "", request.json()["request"]["version"])

    assert r.status_code == case.status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    problem = r.json()
    assert (problem["status"], problem["code"]) == (r.status_code, case.code)
    assert problem["detail"]
    if case.status == 422:
        first = problem["errors"][0]
        assert (first["field"], first["rule"]) == (case.field, case.rule), problem
        assert first["detail"]
    assert _exchange_state(api, request_id, incident_id) == before


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({}, "/reason", "required"),
        ({"reason": "talks", "until": "never"}, "/until", "unknown_field"),
        ({"reason": 5}, "/reason", "length"),
        ({"reason": "   "}, "/reason", "length"),
        ({"reason": "a\u0000b"}, "/reason", "control_character"),
        ([], "", "type"),
    ],
)
def test_a_bad_suspension_names_the_field_and_suspends_nothing(
    api: Api, body: Any, field: str, rule: str
) -> None:
    api.tokens["russia_admin"] = api.channel.add_principal("russia", "admin", Role.PARTY_ADMIN)[1]
    r = api.post("russia_admin", "/v1/suspension", body)
    assert r.status_code == 422, r.text
    assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"]) == (field, rule)
    parties = {p["id"]: p for p in api.get("russia", "/v1/health").json()["parties"]}
    assert parties["russia"]["suspended"] is None
