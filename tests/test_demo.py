"""The demo scenario: `deconflict demo` starts a real server, and each party sees exactly the
conflicts the scenario was built to contain.

The expected pairs were derived from the scenario's geography (geodesic distances against the
rules table), not from running the detector; see the scenario's note.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.demo import scenario
from servers import free_port, running

# (declaration, its party, its kind) x (declaration, its party, its kind) -> kind, severity
PAIRS = [
    (
        "Strike on the eastern outskirts of Saraqib",
        "Saraqib hospital",
        "protected_object_at_risk",
        "critical",
    ),
    (
        "Strike on the northern edge of Kafr Nabl",
        "Kafr Nabl surgical hospital",
        "protected_object_at_risk",
        "critical",
    ),
    (
        "Strike near Kafr Hamra, north-west of Aleppo",
        "UN convoy via the Castello Road",
        "protected_object_at_risk",
        "critical",
    ),
    (
        "Shayrat airbase strike",
        "Russian helicopter detachment at Shayrat",
        "fratricide_risk",
        "critical",
    ),
    ("Kalibr launch from the Caspian Sea", "SDF advise-and-assist, Tabqa", "launch_hazard", "high"),
    (
        "Kalibr launch from the Caspian Sea",
        "Maarrat al-Nu'man central hospital",
        "launch_hazard",
        "critical",
    ),
    (
        "ISR orbit over Raqqa",
        "Su-24 armed reconnaissance, Ma'adan-Sabkha",
        "airspace_conflict",
        "high",
    ),
    (
        "MQ-9 orbit over western Idlib",
        "Hmeimim air-defence engagement zone",
        "air_defense_exposure",
        "high",
    ),
    ("Manbij presence patrols", "Russian military police at Arima", "ground_clash_risk", "high"),
    (
        "Strike east of the Euphrates at Deir ez-Zor",
        "Euphrates deconfliction line",
        "area_entry",
        "medium",
    ),
    (
        "Su-34 patrol, Palmyra to the al-Tanf road",
        "At-Tanf 55 km deconfliction zone",
        "area_entry",
        "medium",
    ),
    ("Kalibr launch from the Caspian Sea", "Euphrates deconfliction line", "area_entry", "medium"),
    (
        "Su-24 armed reconnaissance, Ma'adan-Sabkha",
        "Euphrates deconfliction line",
        "area_entry",
        "medium",
    ),
]

# Conflicts each demo party's duty officer sees, by the rules of PRODUCT.md: both sides, except
# that a strike's owner is not told of a hospital not released to it (Saraqib hospital is
# released to nobody); the relay sees every conflict with a protected object.
EXPECTED_COUNTS = {"coalition": 9, "russia": 12, "medics": 3, "relay": 4}

RULE_ROWS = {
    ("protected_object_at_risk", "critical"),
    ("fratricide_risk", "critical"),
    ("launch_hazard", "high"),
    ("launch_hazard", "critical"),
    ("airspace_conflict", "high"),
    ("air_defense_exposure", "high"),
    ("ground_clash_risk", "high"),
    ("area_entry", "medium"),
}


def test_the_scenario_covers_every_row_of_the_rules_table() -> None:
    assert {(k, s) for _, _, k, s in PAIRS} == RULE_ROWS
    titles = {e["declaration"]["title"] for e in scenario()["declarations"]}
    assert {t for a, b, _, _ in PAIRS for t in (a, b)} <= titles


@pytest.mark.slow
def test_demo_serves_the_scenario_and_each_party_sees_its_conflicts(tmp_path: Path) -> None:
    data, port = tmp_path / "demo", free_port()
    info = {
        e["declaration"]["title"]: (e["party"], e["declaration"])
        for e in scenario()["declarations"]
    }
    with running(["demo", "--data-dir", str(data), "--port", str(port)], port, tmp_path / "log"):
        tokens = json.loads((data / "demo-tokens.json").read_text())
        assert set(tokens) == {"coalition", "russia", "relay", "medics"}
        seen: dict[str, set[tuple[str, str, str, str, str]]] = {}
        for party, token in tokens.items():
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            ) as client:
                items = client.get("/v1/conflicts", params={"limit": 1000}).json()["items"]
                seen[party] = {
                    (
                        client.get(f"/v1/declarations/{c['declaration_id']}").json()["title"],
                        c["other_party"],
                        c["other_kind"],
                        c["kind"],
                        c["severity"],
                    )
                    for c in items
                }
            assert len(items) == EXPECTED_COUNTS[party], (party, sorted(seen[party]))

    expected: dict[str, set[tuple[str, str, str, str, str]]] = {p: set() for p in tokens}
    for a, b, kind, severity in PAIRS:
        for own, other in ((a, b), (b, a)):
            own_party, _ = info[own]
            other_party, other_decl = info[other]
            released = other_decl.get("released_to", [own_party])
            if (
                own_party in released
                or other_decl["kind"] not in ("protected_site", "humanitarian_movement")
                or info[own][1]["kind"] in ("protected_site", "humanitarian_movement")
            ):
                expected[own_party].add((own, other_party, other_decl["kind"], kind, severity))
            if info[own][1]["kind"] in ("protected_site", "humanitarian_movement") and (
                own_party != "relay"
            ):
                expected["relay"].add((own, other_party, other_decl["kind"], kind, severity))
    assert seen == expected


def ledger_head(port: int, token: str) -> tuple[str, str]:
    """The ledger's verifier key and latest checkpoint."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{port}/v1/ledger"
    return (
        httpx.get(f"{url}/key", headers=headers).text,
        httpx.get(f"{url}/checkpoint", headers=headers).text,
    )


@pytest.mark.slow
def test_a_second_demo_start_keeps_the_database_and_its_ledger(tmp_path: Path) -> None:
    data, port = tmp_path / "demo", free_port()
    # Without the simulated traffic, whose encounters would grow the log between the starts.
    args = ["demo", "--data-dir", str(data), "--port", str(port), "--no-traffic"]
    with running(args, port, tmp_path / "log"):
        tokens = (data / "demo-tokens.json").read_text()
        token = json.loads(tokens)["coalition"]
        first = httpx.get(
            f"http://127.0.0.1:{port}/v1/declarations", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
        first_head = ledger_head(port, token)
    with running(args, port, tmp_path / "log"):
        assert (data / "demo-tokens.json").read_text() == tokens
        again = httpx.get(
            f"http://127.0.0.1:{port}/v1/declarations", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
        # the same signing key and the same log: nothing re-loaded, nothing re-signed
        assert ledger_head(port, token) == first_head
    assert again == first
    verified = CliRunner().invoke(app, ["verify", "--data-dir", str(data)])
    assert verified.exit_code == 0, verified.output
    assert len(first) == sum(
        1
        for e in scenario()["declarations"]
        if e["party"] == "coalition"
        or e["declaration"]["kind"] == "coordination_measure"
        or "coalition" in e["declaration"].get("released_to", [])
    )


def _encounters(port: int, token: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"http://127.0.0.1:{port}/v1/notifications",
        headers={"Authorization": f"Bearer {token}"},
    )
    return [n for n in r.json()["items"] if n["subject"] == "encounter"]


def test_the_demo_traffic_crosses_and_both_parties_are_told(tmp_path: Path) -> None:
    """The A-10 and the Su-24 start half a leg from the crossing, inside the look-ahead: the
    first cycles must predict their meeting and tell both sides, each of its own aircraft."""
    data, port = tmp_path / "demo", free_port()
    with running(["demo", "--data-dir", str(data), "--port", str(port)], port, tmp_path / "log"):
        tokens = json.loads((data / "demo-tokens.json").read_text())
        deadline = time.monotonic() + 20
        while not _encounters(port, tokens["russia"]) and time.monotonic() < deadline:
            time.sleep(0.25)
        (red,) = _encounters(port, tokens["russia"])
        (blue,) = _encounters(port, tokens["coalition"])
        bystanders = {party: _encounters(port, tokens[party]) for party in ("medics", "relay")}
    assert (blue["body"]["own_track"], blue["body"]["other_party"]) == ("HOG21", "russia")
    assert (red["body"]["own_track"], red["body"]["other_party"]) == ("FENCER11", "coalition")
    assert blue["severity"] == red["severity"] == "critical"
    assert "HOG21" not in json.dumps(red)
    assert "FENCER11" not in json.dumps(blue)
    assert bystanders == {"medics": [], "relay": []}
