"""The dashboard's "Roster and health" and "Record" views in a real browser against a demo
server: every party's suspension and last seen, a suspension shown live without a reload, an
object's ledger entries with receipts checked in the page, the evidence file exported byte for
byte and accepted by ``deconflict verify``, need-to-know on the record, and the tabs by keyboard.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from browser import Watched, chromium, sign_in, watched_page
from deconflict.demo import load_scenario
from deconflict.disclosure import Role
from deconflict.runtime import open_channel
from deconflict.settings import Settings
from servers import free_port, running

TABS = ["map", "inbox", "exchanges", "channel", "record"]
SUSPENSION_SHOWN_WITHIN_MS = 20_000  # the view refreshes every 15 s; live events do it at once
NOT_FOUND_LOGGED = "the server responded with a status of 404"


@dataclass
class Demo:
    url: str
    data: Path
    tokens: dict[str, str]
    """Party id → the demo's duty officer (the relay's relay); ``russia_admin`` a party admin."""

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )

    def declaration_id(self, who: str, title: str) -> str:
        items = self.get(who, "/v1/declarations", limit=1000).json()["items"]
        (found,) = [d["id"] for d in items if d["title"] == title]
        return str(found)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("dashboard-channel")
    data, port = tmp / "demo", free_port()
    # Load the scenario here, with a party admin of Russia besides the demo's principals; the
    # demo command then keeps the database it finds.
    channel = open_channel(Settings(data_dir=data, database_url=module_database_url))
    try:
        tokens = load_scenario(channel, data)
        _, tokens["russia_admin"] = channel.add_principal("russia", "admin", Role.PARTY_ADMIN)
    finally:
        channel.store.close()
    args = ["demo", "--data-dir", str(data), "--port", str(port), "--no-traffic"]
    with running(args, port, tmp / "log", database_url=module_database_url):
        yield Demo(f"http://127.0.0.1:{port}", data, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def open_view(w: Watched, view: str) -> None:
    w.page.click(f"#tabs button[data-view={view}]")
    w.page.wait_for_selector(f"#view-{view}:not([hidden])")


def show_record(page: Page, object_id: str) -> None:
    page.fill("#record-id", object_id)
    page.press("#record-id", "Enter")


def drop_logged_not_found(w: Watched) -> int:
    """Chromium logs every 4xx answer to a fetch as a console error; an expected 404 is none of
    the page's errors. Returns how many were dropped."""
    before = len(w.errors)
    w.errors[:] = [e for e in w.errors if NOT_FOUND_LOGGED not in e]
    return before - len(w.errors)


def leaf_hash(leaf_b64: str) -> str:
    return base64.b64encode(hashlib.sha256(b"\0" + base64.b64decode(leaf_b64)).digest()).decode()


def test_health_shows_every_party_and_a_suspension_appears_without_reload(
    demo: Demo, browser: Browser
) -> None:
    demo.get("relay", "/v1/me")  # the relay is seen; medics and Russia's principals are not
    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["coalition"])
        open_view(w, "channel")
        page.wait_for_selector("#health-table tbody tr")
        health = demo.get("coalition", "/v1/health").json()["parties"]
        assert len(health) == 4
        for party in health:
            row = page.locator(f"#health-table tbody tr[data-party={party['id']}]")
            assert party["name"] in row.inner_text()
            assert row.locator(".state").inner_text() == "Active"
            seen = row.locator(".last-seen time")
            if party["id"] == "coalition":  # the page's own requests keep moving it
                assert seen.get_attribute("datetime")
            else:
                assert seen.get_attribute("datetime") == (party["last_seen"] or "")
                assert (seen.inner_text() == "never") == (party["last_seen"] is None)
        assert page.locator("#channel-suspensions .suspension-banner").count() == 0
        own = page.locator("#health-table tbody tr[data-party=coalition]")
        assert "nobody on shift at level 1" in own.inner_text()  # its own roster gaps only
        assert "(you)" in own.inner_text()
        assert "no roster" in page.inner_text("#channel-roster").lower()
        figures = demo.get("coalition", "/v1/figures").json()
        sent = page.locator("#figures-table tbody tr").first.locator("td")
        assert [sent.nth(0).inner_text(), sent.nth(1).inner_text()] == [
            str(figures["party"]["sent"]),
            str(figures["channel"]["sent"]),
        ]

        page.evaluate("window.notReloaded = true")
        suspended = httpx.post(
            demo.url + "/v1/suspension",
            json={"reason": "Line suspended after the Shayrat strike"},
            headers={"Authorization": f"Bearer {demo.tokens['russia_admin']}"},
        )
        assert suspended.status_code == 200, suspended.text
        started = time.monotonic()
        page.wait_for_selector(
            "#channel-suspensions .suspension-banner[data-party=russia]",
            timeout=SUSPENSION_SHOWN_WITHIN_MS,
        )
        shown_after_s = time.monotonic() - started
        banner = page.inner_text("#channel-suspensions")
        assert "SUSPENDED" in banner
        assert "Line suspended after the Shayrat strike" in banner
        russia = page.locator("#health-table tbody tr[data-party=russia]")
        assert russia.locator(".state .state-badge.suspended").text_content() == "Suspended"
        assert "suspended" in russia.locator(".alarms").inner_text()
        # Russia's admin was seen suspending: its last seen is the service's now
        seen = demo.get("coalition", "/v1/health").json()["parties"]
        (russia_now,) = [p for p in seen if p["id"] == "russia"]
        assert russia_now["last_seen"] is not None
        page.wait_for_function(
            "(at) => document.querySelector('#health-table tr[data-party=russia] .last-seen time')"
            ".getAttribute('datetime') === at",
            arg=russia_now["last_seen"],
        )
        assert page.evaluate("window.notReloaded") is True
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366

        resumed = httpx.delete(
            demo.url + "/v1/suspension",
            headers={"Authorization": f"Bearer {demo.tokens['russia_admin']}"},
        )
        assert resumed.status_code == 200, resumed.text
        page.wait_for_selector(
            "#health-table tr[data-party=russia] .state-badge.active",
            timeout=SUSPENSION_SHOWN_WITHIN_MS,
        )
        assert page.locator("#channel-suspensions .suspension-banner").count() == 0
        assert page.evaluate("window.notReloaded") is True
        w.assert_clean()
    print(f"suspension shown {shown_after_s:.2f} s after the API call")


def test_a_party_admin_suspends_and_resumes_from_the_view(demo: Demo, browser: Browser) -> None:
    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["russia_admin"])
        open_view(w, "channel")
        page.fill("#suspend-reason", "Consultations in Moscow")
        page.press("#suspend-reason", "Enter")
        page.wait_for_selector("#channel-suspensions .suspension-banner[data-party=russia]")
        assert "Your party" in page.inner_text("#channel-suspensions")
        others = demo.get("coalition", "/v1/health").json()["parties"]
        (russia,) = [p for p in others if p["id"] == "russia"]
        assert russia["suspended"]["reason"] == "Consultations in Moscow"
        page.click("#channel-resume")
        page.wait_for_selector("#suspend-form")
        assert page.locator("#channel-suspensions .suspension-banner").count() == 0
        again = demo.get("coalition", "/v1/health").json()["parties"]
        assert [p["suspended"] for p in again if p["id"] == "russia"] == [None]
        w.assert_clean()


def test_the_record_shows_the_leaves_and_exports_evidence_that_verifies(
    demo: Demo, browser: Browser, tmp_path: Path
) -> None:
    object_id = demo.declaration_id("coalition", "Shayrat airbase strike")
    coalition_prn = demo.get("coalition", "/v1/me").json()["id"]
    evidence_url = f"**/v1/ledger/evidence/{object_id}"
    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["coalition"])
        open_view(w, "record")
        with page.expect_response(evidence_url) as answered:
            show_record(page, object_id)
        shown = answered.value.json()
        page.wait_for_selector("#record-table tbody tr[data-leaf-index]")
        rows = page.locator("#record-table tbody tr[data-leaf-index]")
        assert rows.count() == len(shown["entries"]) >= 2
        size = int(shown["checkpoint"].split("\n")[1])
        types = []
        for i, entry in enumerate(shown["entries"]):
            leaf = json.loads(base64.b64decode(entry["leaf"]))
            row = rows.nth(i)
            assert row.get_attribute("data-leaf-index") == str(entry["leaf_index"])
            assert row.locator(".type").inner_text() == leaf["type"]
            assert row.locator(".at").inner_text().startswith(leaf["at"][:19].replace("T", " "))
            assert row.locator(".by").inner_text().startswith(leaf["by"])
            assert row.locator(".leaf-hash").inner_text() == leaf_hash(entry["leaf"])
            assert row.locator(".tree-size").inner_text() == str(size)
            proof = row.locator(".proof").inner_text()
            assert proof.startswith(f"{len(entry['inclusion'])} hashes")
            assert "✓ verifies" in proof
            types.append(leaf["type"])
        assert types[0] == "declaration.created"
        assert "notification.created" in types  # the coalition's notice of the fratricide risk
        assert f"{coalition_prn} (you)" in rows.first.locator(".by").inner_text()
        assert "Shayrat airbase strike" in page.inner_text("#record-title")
        assert f"size {size}" in page.inner_text("#record-file-checkpoint")
        current = demo.get("coalition", "/v1/ledger/checkpoint").text.split("\n")
        assert f"size {current[1]}" in page.inner_text("#record-current")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366

        with page.expect_download() as downloading, page.expect_response(evidence_url) as again:
            page.click("#record-export")
        download = downloading.value
        assert download.suggested_filename == f"evidence-{object_id}.json"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        # byte for byte what the API answered the page, and that is the principal's evidence
        assert saved.read_bytes() == again.value.body()
        exported = json.loads(saved.read_bytes())
        fresh = demo.get("coalition", f"/v1/ledger/evidence/{object_id}").json()
        assert {k: v for k, v in exported.items() if k != "exported_at"} == {
            k: v for k, v in fresh.items() if k != "exported_at"
        }
        assert exported["exported_by"]["party"] == "coalition"
        w.assert_clean()

    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "deconflict",
            "verify",
            str(saved),
            "--key",
            str(demo.data / "ledger.pub"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified" in verified.stdout


def test_the_record_flags_a_leaf_that_does_not_match_its_proof(
    demo: Demo, browser: Browser
) -> None:
    object_id = demo.declaration_id("coalition", "Shayrat airbase strike")

    def altered(route: Route) -> None:
        answer = route.fetch()
        evidence = answer.json()
        leaf = base64.b64decode(evidence["entries"][0]["leaf"])
        evidence["entries"][0]["leaf"] = base64.b64encode(
            leaf.replace(b"Shayrat", b"Shayrak")
        ).decode()
        route.fulfill(response=answer, body=json.dumps(evidence))

    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["coalition"])
        page.route(f"**/v1/ledger/evidence/{object_id}", altered)
        open_view(w, "record")
        show_record(page, object_id)
        page.wait_for_selector("#record-table tbody tr[data-leaf-index]")
        proofs = page.locator("#record-table tbody tr[data-leaf-index] .proof").all_inner_texts()
        assert "✗ does not verify" in proofs[0]
        assert all("✓ verifies" in p for p in proofs[1:])
        assert "do not verify" in page.inner_text("#record-message")
        w.assert_clean()


def test_a_medics_object_not_released_to_the_coalition_is_not_found_on_its_record(
    demo: Demo, browser: Browser
) -> None:
    hospital = demo.declaration_id("medics", "Saraqib hospital")
    assert demo.get("coalition", f"/v1/ledger/evidence/{hospital}").status_code == 404
    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["coalition"])
        open_view(w, "record")
        show_record(page, hospital)
        page.wait_for_selector("#record-message.error")
        hidden = page.inner_text("#record-message")
        show_record(page, "dcl_00000000000070008000000000000000")
        page.wait_for_selector("#record-message.error:has-text('dcl_0000')")
        missing = page.inner_text("#record-message")
        # the same words as for an object that does not exist, and nothing of the object
        assert hidden.replace(hospital, "ID") == missing.replace(
            "dcl_00000000000070008000000000000000", "ID"
        )
        assert hidden.startswith("Not found")
        body = page.inner_text("#view-record")
        assert "Saraqib" not in body
        assert page.locator("#record-table").count() == 0
        assert page.is_disabled("#record-export")
        assert drop_logged_not_found(w) == 2
        w.assert_clean()

    # The medics themselves reach the same record from their figures, through ctx.open.
    with watched_page(browser, demo.url) as w:
        page = w.page
        sign_in(w, demo.tokens["medics"])
        open_view(w, "channel")
        page.click(f"#protected-figures tr[data-object={hospital}] button")
        page.wait_for_selector("#view-record:not([hidden]) #record-table tbody tr")
        assert page.input_value("#record-id") == hospital
        assert "Saraqib hospital" in page.inner_text("#record-title")
        assert page.get_attribute("#tabs button[data-view=record]", "aria-current") == "page"
        w.assert_clean()


def test_the_tabs_are_reached_and_switched_by_keyboard_from_the_sign_in(
    demo: Demo, browser: Browser
) -> None:
    with watched_page(browser, demo.url) as w:
        page = w.page
        page.goto("/")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'token'")
        page.keyboard.type(demo.tokens["coalition"])
        page.keyboard.press("Enter")
        page.wait_for_selector("#tabs:not([hidden])")
        reached: list[str] = []
        for _ in range(60):
            page.keyboard.press("Tab")
            view = page.evaluate(
                "document.activeElement.closest('#tabs') && document.activeElement.dataset.view"
            )
            if view and view not in reached:
                reached.append(view)
                page.keyboard.press("Enter")
                page.wait_for_selector(f"#view-{view}:not([hidden])")
                assert (
                    page.get_attribute(f"#tabs button[data-view={view}]", "aria-current") == "page"
                )
                assert page.locator("section.view:not([hidden])").count() == 1
            if len(reached) == len(TABS):
                break
        assert reached == TABS
        # on from the record's tab into the record view itself, and a record read by keyboard
        object_id = demo.declaration_id("coalition", "Shayrat airbase strike")
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "record-id":
                break
        assert page.evaluate("document.activeElement.id") == "record-id"
        page.keyboard.type(object_id)
        page.keyboard.press("Enter")
        page.wait_for_selector("#record-table tbody tr[data-leaf-index]")
        w.assert_clean()
