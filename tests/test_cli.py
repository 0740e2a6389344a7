"""The command-line tool: offline checks of a GeoJSON file, and administration of a data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deconflict.api.app import create_app
from deconflict.cli import app
from deconflict.settings import Settings

runner = CliRunner()


def feature(fid: str, party: str, kind: str, lon: float, buffer_m: float, **props: Any) -> Any:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
        "properties": {
            "party": party,
            "kind": kind,
            "title": fid,
            "buffer_m": buffer_m,
            "altitude": {"lower": 0, "upper": 20_000, "units": "ft", "reference": "AMSL"},
            "time": {"start": "2017-04-06T18:00:00Z", "end": "2017-04-07T06:00:00Z"},
            **props,
        },
    }


def write(tmp_path: Path, *features: Any) -> Path:
    path = tmp_path / "declarations.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def test_check_lists_the_conflicts_of_a_geojson_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        feature("hospital", "medics", "protected_site", 36.60, 100, released_to=["russia"]),
        feature("strike", "russia", "strike", 36.605, 300),
        feature("own-strike", "medics", "strike", 36.60, 300),
        feature("far", "coalition", "air_operation", 40.0, 1_000),
    )
    result = runner.invoke(app, ["check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (conflict,) = json.loads(result.stdout)
    assert {conflict["a"], conflict["b"]} == {"hospital", "strike"}
    assert (conflict["kind"], conflict["severity"]) == ("protected_object_at_risk", "critical")
    table = runner.invoke(app, ["check", str(path)])
    assert table.exit_code == 0
    assert "1 conflicts among 4 declarations" in table.stdout


def test_check_applies_a_changed_separation(tmp_path: Path) -> None:
    # Centres 0.2° of longitude apart at 35° N: about 18.3 km; buffers 2 km each leave 14.3 km,
    # more than 5 NM (9.3 km) and less than 10 NM (18.5 km).
    path = write(
        tmp_path,
        feature("a", "coalition", "air_operation", 39.0, 2_000),
        feature("b", "russia", "air_operation", 39.2, 2_000),
    )
    default = runner.invoke(app, ["check", str(path), "--json"])
    assert json.loads(default.stdout) == []
    wider = runner.invoke(app, ["check", str(path), "--json", "--set", "air_separation_nm=10"])
    assert [c["kind"] for c in json.loads(wider.stdout)] == ["airspace_conflict"]


def test_check_names_the_feature_and_rule_of_bad_input(tmp_path: Path) -> None:
    bad = feature("a", "coalition", "air_operation", 39.0, 2_000)
    bad["geometry"]["coordinates"] = [239.0, 35.0]
    result = runner.invoke(app, ["check", str(write(tmp_path, bad))])
    assert result.exit_code == 2
    assert "/features/0/geometry/coordinates/0" in result.stderr
    assert "lon_range" in result.stderr
    unknown = runner.invoke(app, ["check", str(tmp_path / "missing.geojson")])
    assert unknown.exit_code == 2


def test_admin_creates_parties_and_principals_whose_tokens_work(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert runner.invoke(app, ["admin", "init", "--data-dir", data]).exit_code == 0
    assert (
        runner.invoke(app, ["admin", "add-party", "ngo", "An NGO", "--data-dir", data]).exit_code
        == 0
    )
    again = runner.invoke(app, ["admin", "add-party", "ngo", "Again", "--data-dir", data])
    assert again.exit_code == 2
    added = runner.invoke(
        app, ["admin", "add-principal", "ngo", "Coordinator", "--role", "relay", "--data-dir", data]
    )
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    listing = runner.invoke(app, ["admin", "principals", "--data-dir", data])
    assert "Coordinator" in listing.stdout
    assert token not in listing.stdout
    principal_id = listing.stdout.split("prn_")[1].split()[0]

    with TestClient(create_app(Settings(data_dir=Path(data)))) as client:
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert (me["party"], me["role"], me["name"]) == ("ngo", "relay", "Coordinator")
    assert (
        runner.invoke(app, ["admin", "revoke", "prn_" + principal_id, "--data-dir", data]).exit_code
        == 0
    )
    with TestClient(create_app(Settings(data_dir=Path(data)))) as client:
        r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(write(tmp_path)), "--set", "nonsense=1"])
    assert result.exit_code == 2
    assert "unknown setting" in result.output


def test_admin_init_names_the_ledger_and_keeps_its_key(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    init = ["admin", "init", "--data-dir", data, "--set", "ledger_origin=ops.example.org/syria"]
    assert runner.invoke(app, init).exit_code == 0
    public = (tmp_path / "data" / "ledger.pub").read_text()
    assert public.startswith("ops.example.org/syria+")
    assert (tmp_path / "data" / "ledger.key").stat().st_mode & 0o077 == 0  # owner only
    assert runner.invoke(app, ["admin", "add-party", "un", "UN", "--data-dir", data]).exit_code == 0
    assert (tmp_path / "data" / "ledger.pub").read_text() == public
    assert runner.invoke(app, ["verify", "--data-dir", data]).exit_code == 0


def test_a_damaged_ledger_key_stops_the_service_with_a_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert runner.invoke(app, ["admin", "init", "--data-dir", str(data)]).exit_code == 0
    (data / "ledger.key").write_text("PRIVATE+KEY+garbage\n")
    result = runner.invoke(app, ["serve", "--data-dir", str(data), "--port", "1"])
    assert result.exit_code == 2
    assert "ledger key" in result.output


def test_a_ledger_name_with_a_space_is_refused(tmp_path: Path) -> None:
    init = ["admin", "init", "--data-dir", str(tmp_path / "d"), "--set", "ledger_origin=a b"]
    result = runner.invoke(app, init)
    assert result.exit_code == 2
    assert "no spaces" in result.output


def _principal(output: str) -> str:
    """The id in ``admin add-principal``'s first line: "principal prn_… (role) of party"."""
    return output.split("principal ", 1)[1].split(maxsplit=1)[0]


def test_admin_roster_sets_and_shows_a_partys_roster(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    dd = ["--data-dir", data]
    assert runner.invoke(app, ["admin", "init", *dd]).exit_code == 0
    assert runner.invoke(app, ["admin", "add-party", "ngo", "An NGO", *dd]).exit_code == 0
    duty = runner.invoke(app, ["admin", "add-principal", "ngo", "Duty", *dd])
    senior = runner.invoke(app, ["admin", "add-principal", "ngo", "Senior", *dd])
    duty_id, senior_id = _principal(duty.stdout), _principal(senior.stdout)
    token = duty.stdout.strip().splitlines()[-1]

    empty = runner.invoke(app, ["admin", "roster", "ngo", *dd])
    assert empty.exit_code == 0
    assert "no roster" in empty.stdout

    levels = [
        {"name": "Duty officer", "members": [{"principal": duty_id, "shift": "06:00-18:00"}]},
        {"name": "Coordinator", "members": [{"principal": senior_id, "shift": "18:00-06:00"}]},
    ]
    path = tmp_path / "roster.json"
    path.write_text(json.dumps({"levels": levels}))
    wide = {"COLUMNS": "200"}
    result = runner.invoke(app, ["admin", "roster", "ngo", str(path), *dd], env=wide)
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["admin", "roster", "ngo", *dd], env=wide)
    for out in (result.stdout, shown.stdout):
        rows = [line for line in out.splitlines() if "prn_" in line]
        assert len(rows) == 2
        assert all(t in rows[0] for t in ("1", "Duty officer", duty_id, "06:00-18:00"))
        assert all(t in rows[1] for t in ("2", "Coordinator", senior_id, "18:00-06:00"))

    with TestClient(create_app(Settings(data_dir=Path(data)))) as client:
        r = client.get("/v1/roster", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["levels"] == [
            {"level": n, **level} for n, level in enumerate(levels, start=1)
        ]


def test_admin_roster_refuses_a_bad_file_and_keeps_the_roster(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    dd = ["--data-dir", data]
    runner.invoke(app, ["admin", "init", *dd])
    for party in ("ngo", "army"):
        runner.invoke(app, ["admin", "add-party", party, party.upper(), *dd])
    ours = _principal(runner.invoke(app, ["admin", "add-principal", "ngo", "Duty", *dd]).stdout)
    theirs = _principal(runner.invoke(app, ["admin", "add-principal", "army", "Duty", *dd]).stdout)

    def roster_file(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    def member(principal: str, shift: str) -> str:
        member = {"principal": principal, "shift": shift}
        return json.dumps({"levels": [{"name": "Duty", "members": [member]}]})

    good = roster_file("good.json", member(ours, "00:00-00:00"))
    assert runner.invoke(app, ["admin", "roster", "ngo", good, *dd]).exit_code == 0
    before = runner.invoke(app, ["admin", "roster", "ngo", *dd], env={"COLUMNS": "200"}).stdout

    bad = {
        "not_json": (roster_file("a.json", '{"levels": ['), "a.json"),
        "missing": (str(tmp_path / "missing.json"), "missing.json"),
        "bad_shift": (roster_file("b.json", member(ours, "18:00-24:00")), "/shift"),
        "another_partys_principal": (roster_file("c.json", member(theirs, "00:00-00:00")), theirs),
        "unknown_party": (good, "nobody"),
    }
    for name, (path, named) in bad.items():
        party = "nobody" if name == "unknown_party" else "ngo"
        result = runner.invoke(app, ["admin", "roster", party, path, *dd])
        assert result.exit_code == 2, (name, result.output)
        # the message names the file or field; a narrow console may wrap it anywhere
        assert named in "".join(result.stderr.split()), (name, result.stderr)
    after = runner.invoke(app, ["admin", "roster", "ngo", *dd], env={"COLUMNS": "200"}).stdout
    assert after == before
