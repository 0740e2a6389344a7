"""The dashboard's map view in a real browser, against the demo served by a real process: it
shows exactly the caller's conflicts, follows the live stream, declares through a drawn
footprint after a dry run, filters by time, and puts nothing on the page that the caller may
not see."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from browser import Watched, chromium, sign_in, watched_page
from deconflict.demo import scenario
from servers import free_port, running

pytestmark = pytest.mark.slow

WAIT_MS = 10_000
PROTECTED = {"protected_site", "humanitarian_movement"}


class Demo:
    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.tokens = tokens

    def client(self, party: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.tokens[party]}"}
        )

    def get(self, party: str, path: str, **params: Any) -> Any:
        with self.client(party) as c:
            r = c.get(path, params=params)
            r.raise_for_status()
            return r.json()

    def post(self, party: str, path: str, body: Any) -> Any:
        with self.client(party) as c:
            r = c.post(path, json=body)
            assert r.status_code in (200, 201), r.text
            return r.json()

    def items(self, party: str, path: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(
                party, path, limit=1000, **params, **({"cursor": cursor} if cursor else {})
            )
            out.extend(page["items"])
            cursor = page["next"]
            if not cursor:
                return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Demo]:
    tmp: Path = tmp_path_factory.mktemp("map")
    data, port = tmp / "demo", free_port()
    args = ["demo", "--data-dir", str(data), "--port", str(port), "--no-traffic"]
    with running(args, port, tmp / "log", database_url=module_database_url):
        yield Demo(port, json.loads((data / "demo-tokens.json").read_text()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def coalition(browser: Browser, demo: Demo) -> Iterator[Watched]:
    """The coalition's duty officer on the map, loaded, with the live stream up."""
    with watched_page(browser, demo.base_url) as watched:
        sign_in(watched, demo.tokens["coalition"])
        watched.page.wait_for_selector('#map-list[aria-busy="false"] li', timeout=WAIT_MS)
        watched.page.wait_for_selector("#live:not(.down):not([hidden])", timeout=WAIT_MS)
        yield watched


def listed(page: Page, attribute: str) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        f"#map-list li[{attribute}]", f"els => els.map(e => e.getAttribute('{attribute}'))"
    )
    return ids


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_map_lists_exactly_the_conflicts_the_api_gives_the_coalition(
    coalition: Watched, demo: Demo
) -> None:
    page = coalition.page
    expected = demo.items("coalition", "/v1/conflicts")
    assert expected
    shown = listed(page, "data-conflict-id")
    assert sorted(shown) == sorted(c["id"] for c in expected)
    assert len(shown) == len(set(shown))
    # each has its overlap drawn, by severity, in the conflicts' own pane
    assert page.locator("#map-canvas .leaflet-conflicts-pane path").count() >= len(expected)
    # declarations: exactly those the API lists for it
    declarations = demo.items("coalition", "/v1/declarations")
    assert sorted(listed(page, "data-declaration-id")) == sorted(d["id"] for d in declarations)

    # keyboard: the first entry, then the next with the arrow key, chosen with Enter
    page.locator("#map-list li[data-conflict-id] button").first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    chosen = page.locator("#map-list li.selected").get_attribute("data-conflict-id")
    conflict = next(c for c in expected if c["id"] == chosen)
    assert chosen == shown[1]
    band = page.locator('#map-details [data-field="altitude"]').first.inner_text()
    altitude = conflict["overlaps"][0]["altitude"]
    assert band.endswith(f"{altitude['units']} {altitude['reference']}")
    window = page.locator('#map-details [data-field="time"]').first.inner_text()
    time = conflict["overlaps"][0]["time"]
    assert window == f"{time['start']} → {time['end']}"
    assert page.locator("#map-details").get_by_text(conflict["other_party"]).count() >= 1
    coalition.assert_clean()

    page.click("#map-record")
    page.wait_for_selector("#view-record:not([hidden])", timeout=WAIT_MS)
    assert page.locator("#view-map").is_hidden()


def test_a_conflict_declared_by_russia_appears_live(coalition: Watched, demo: Demo) -> None:
    page = coalition.page
    before = {c["id"] for c in demo.items("coalition", "/v1/conflicts")}
    assert set(listed(page, "data-conflict-id")) == before
    page.evaluate("window.__notReloaded = true")

    # an orbit inside the coalition's ISR orbit over Raqqa, same band, same night
    demo.post(
        "russia",
        "/v1/declarations",
        {
            "kind": "air_operation",
            "title": f"Su-30 orbit {uuid.uuid4().hex[:8]}",
            "volumes": [
                {
                    "geometry": {"type": "Point", "coordinates": [39.05, 35.97]},
                    "buffer_m": 5000,
                    "altitude": {"lower": 5000, "upper": 6000, "units": "m", "reference": "AMSL"},
                    "time": {"start": "2017-04-06T20:00:00Z", "end": "2017-04-06T22:00:00Z"},
                }
            ],
        },
    )
    after = {c["id"] for c in demo.items("coalition", "/v1/conflicts")}
    assert after > before
    page.wait_for_function(
        """want => {
            const ids = [...document.querySelectorAll('#map-list li[data-conflict-id]')]
                .map(e => e.dataset.conflictId).sort();
            return JSON.stringify(ids) === JSON.stringify(want);
        }""",
        arg=sorted(after),
        timeout=WAIT_MS,
    )
    assert page.evaluate("window.__notReloaded") is True
    new = next(iter(after - before))
    assert page.locator(f'#map-list li[data-conflict-id="{new}"]').is_visible()
    coalition.assert_clean()


def test_a_drawn_declaration_is_checked_then_declared(coalition: Watched, demo: Demo) -> None:
    page = coalition.page
    # look at the Shayrat strike's overlap with Russia's helicopter detachment
    page.click('#map-list li[data-conflict-kind="fratricide_risk"] button')
    page.click("#map-declare-open")
    page.select_option("#declare-kind", "ground_operation")
    page.select_option("#declare-geometry", "polygon")
    box = page.locator("#map-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-90, -70), (90, -70), (90, 80), (-90, 80)):
        page.mouse.click(cx + dx, cy + dy)
    coords = page.input_value("#declare-coords")
    positions = [[float(n) for n in p.split(",")] for p in coords.split(";")]
    assert len(positions) == 4
    title = f"Patrol around Shayrat {uuid.uuid4().hex[:8]}"
    page.fill("#declare-title", title)
    page.fill("#declare-lower", "0")
    page.fill("#declare-upper", "1000")
    page.fill("#declare-start", "2017-04-07T00:00:00Z")
    page.fill("#declare-end", "2017-04-07T03:00:00Z")

    page.click("#declare-check")
    page.wait_for_selector("#declare-results h4", timeout=WAIT_MS)
    predicted = sorted(
        page.eval_on_selector_all(
            "#declare-results li[data-predicted-kind]",
            "els => els.map(e => [e.dataset.predictedKind, e.dataset.severity,"
            " e.dataset.otherParty])",
        )
    )
    body = {
        "kind": "ground_operation",
        "title": title,
        "state": "planned",
        "volumes": [
            {
                "geometry": {"type": "Polygon", "coordinates": [[*positions, positions[0]]]},
                "altitude": {"lower": 0, "upper": 1000, "units": "m", "reference": "AMSL"},
                "time": {"start": "2017-04-07T00:00:00Z", "end": "2017-04-07T03:00:00Z"},
            }
        ],
    }
    dry_run = demo.post("coalition", "/v1/check", body)["conflicts"]
    assert predicted == sorted([c["kind"], c["severity"], c["other_party"]] for c in dry_run)
    assert ["ground_clash_risk", "high", "russia"] in predicted
    assert page.locator("#map-canvas .leaflet-predicted-pane path").count() >= len(dry_run)

    page.click("#declare-submit")
    item = page.locator("#map-list li[data-declaration-id]", has_text=title)
    item.wait_for(timeout=WAIT_MS)
    (declared,) = [d for d in demo.items("coalition", "/v1/declarations") if d["title"] == title]
    assert item.get_attribute("data-declaration-id") == declared["id"]
    assert declared["kind"] == "ground_operation"
    assert declared["volumes"][0]["geometry"] == body["volumes"][0]["geometry"]
    conflicts = demo.items("coalition", "/v1/conflicts", declaration_id=declared["id"])
    assert sorted(c["kind"] for c in conflicts) == sorted(c["kind"] for c in dry_run)
    for c in conflicts:
        page.locator(f'#map-list li[data-conflict-id="{c["id"]}"]').wait_for(timeout=WAIT_MS)
    coalition.assert_clean()


def test_problems_are_shown_beside_the_form(coalition: Watched) -> None:
    page = coalition.page
    page.click("#map-declare-open")
    page.fill("#declare-title", "Bow tie")
    page.fill("#declare-coords", "36.5,34.5; 36.7,34.7; 36.7,34.5; 36.5,34.7")
    page.click("#declare-check")
    problem = page.locator('#declare-problems li[data-rule="self_intersection"]')
    problem.wait_for(timeout=WAIT_MS)
    assert problem.get_attribute("data-field", timeout=WAIT_MS).startswith("/volumes/0/geometry")
    assert page.get_attribute("#declare-coords", "aria-invalid") == "true"
    assert page.locator("#declare-results li").count() == 0
    # The browser reports the 422 response itself; nothing else may be in the console.
    assert [e for e in coalition.errors if "status of 422" not in e] == []
    assert coalition.blocked == []


def test_time_slider_hides_what_is_not_in_effect(coalition: Watched, demo: Demo) -> None:
    page = coalition.page
    conflicts = demo.items("coalition", "/v1/conflicts")
    # everything is shown at first, whatever its time
    assert not page.is_checked("#time-filter")
    assert page.locator("#map-list li.out-of-time").count() == 0

    page.click("#time-now")
    assert page.is_checked("#time-filter")
    shown = page.inner_text("#time-value")
    assert abs(datetime.fromisoformat(shown).timestamp() - datetime.now(UTC).timestamp()) < 120
    # the scenario is April 2017: at "now" every conflict is out of its window
    assert page.locator('#map-list li[data-conflict-id][data-in-time="true"]').count() == 0

    at = "2017-04-07T01:00:00Z"
    minutes = int(datetime.fromisoformat(at).timestamp() // 60)
    page.eval_on_selector(
        "#time-slider",
        "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }",
        str(minutes),
    )
    assert page.inner_text("#time-value") == at
    t = datetime.fromisoformat(at)
    for c in conflicts:
        windows = [
            (datetime.fromisoformat(v["time"]["start"]), datetime.fromisoformat(v["time"]["end"]))
            for v in c["overlaps"]
        ]
        expected = any(s <= t <= e for s, e in windows)
        flag = page.get_attribute(f'#map-list li[data-conflict-id="{c["id"]}"]', "data-in-time")
        assert flag == str(expected).lower(), c["kind"]
    assert page.locator('#map-list li[data-conflict-id][data-in-time="true"]').count() >= 1
    page.uncheck("#time-filter")
    assert page.locator("#map-list li.out-of-time").count() == 0
    coalition.assert_clean()


def track(track_id: str, lon: float, heading: float) -> dict[str, Any]:
    return {
        "track_id": track_id,
        "time": utc_now(),
        "lat": 35.0,
        "lon": lon,
        "altitude": {"value": 20000, "units": "ft", "reference": "AMSL"},
        "ground_speed": {"value": 400, "units": "kt"},
        "track_deg": heading,
        "vertical_rate": {"value": 0, "units": "ft/min"},
    }


def test_a_predicted_encounter_appears_live_as_a_marker(coalition: Watched, demo: Demo) -> None:
    page = coalition.page
    # head on at the same level, 27 km apart: separation is lost within the look-ahead
    demo.post("coalition", "/v1/tracks", {"tracks": [track("VIPER11", 38.0, 90.0)]})
    demo.post("russia", "/v1/tracks", {"tracks": [track("FLANKER1", 38.3, 270.0)]})
    item = page.locator("#map-list li[data-encounter-id]", has_text="VIPER11")
    item.wait_for(timeout=WAIT_MS)
    assert page.locator("#map-canvas .leaflet-encounters-pane path").count() >= 1
    item.locator("button").click()
    (told,) = [
        n for n in demo.items("coalition", "/v1/notifications") if n["subject"] == "encounter"
    ]
    assert item.get_attribute("data-record-id") == told["id"]
    details = page.inner_text("#map-details")
    assert "VIPER11" in details
    assert "russia" in details
    band = told["body"]["altitude_band"]
    shown = page.locator('#map-details [data-field="altitude"]').inner_text()
    assert shown.endswith(f"{band['units']} {band['reference']}")
    assert "FLANKER1" not in page.content()
    coalition.assert_clean()


def test_the_page_shows_nothing_the_coalition_may_not_see(coalition: Watched, demo: Demo) -> None:
    page = coalition.page
    hidden = [
        e["declaration"]["title"]
        for e in scenario()["declarations"]
        if e["party"] != "coalition"
        and e["declaration"]["kind"] != "coordination_measure"
        and "coalition" not in e["declaration"].get("released_to", [])
    ]
    assert "Saraqib hospital" in hidden
    others = demo.items("russia", "/v1/declarations") + demo.items("medics", "/v1/declarations")
    unseen = [
        d
        for d in others
        if d["party"] != "coalition"
        and d["kind"] != "coordination_measure"
        and not (d["kind"] in PROTECTED and "coalition" in d.get("released_to", []))
    ]
    assert {d["title"] for d in unseen} >= set(hidden)
    # A launch notice is told to every party by id, with its volumes (docs/api.md, "Lead
    # time"); no other unseen declaration's id reaches the coalition.
    told = json.dumps(demo.items("coalition", "/v1/notifications"))
    assert [d["kind"] for d in unseen if d["id"] in told] == ["launch_notice"]
    # every entry's details on screen in turn
    pages = [page.content()]
    for button in page.locator("#map-list li button").all():
        button.click()
        pages.append(page.content())
    text = "\n".join(pages)
    for d in unseen:
        assert d["title"] not in text, d["title"]
        assert d["id"] in told or d["id"] not in text, d["title"]
        for field in ("callsign", "purpose"):
            if d.get(field):
                assert d[field] not in text, (d["title"], field)
    coalition.assert_clean()
