"""Tracks over the API: reporting in batches and on the WebSocket stream, reading back only one's
own, retention, and encounters told to both parties once, with only the encounter."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from conftest import Api, make_channel_parties
from deconflict.api.app import create_app
from deconflict.geodesy import GEOD
from deconflict.ledger import Ledger
from deconflict.notes import SignerKey
from deconflict.rules import default_rules
from deconflict.runtime import open_channel
from deconflict.service import Channel, utc_now
from deconflict.settings import Settings
from deconflict.store.sqlite import SqliteStore
from deconflict.surveillance import TrackPolicy
from factories import box, declaration, volume
from servers import DECONFLICT, KEEP_2017, free_port, running
from test_inbox import T0, FakeClock, stamp

FL200_FT = 20_000


def report(
    track_id: str,
    lon: float,
    lat: float,
    track_deg: float,
    *,
    at: Any = None,
    altitude_ft: float = FL200_FT,
    speed_kt: float = 400.0,
) -> dict[str, Any]:
    return {
        "track_id": track_id,
        "time": stamp(at or T0),
        "lat": lat,
        "lon": lon,
        "altitude": {"value": altitude_ft, "units": "ft", "reference": "AMSL"},
        "ground_speed": {"value": speed_kt, "units": "kt"},
        "track_deg": track_deg,
        "vertical_rate": {"value": 0, "units": "ft/min"},
    }


class Ops:
    """A channel with a fake clock on one SQLite file; cycles run by hand."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "deconflict.db"
        self.key = SignerKey.generate("test/ledger")
        self.clock = FakeClock(T0)
        self.tokens: dict[str, str] = {}
        self.api = self._open()
        self.tokens.update(make_channel_parties(self.channel))

    def _open(self) -> Api:
        channel = Channel(
            SqliteStore(self.path),
            default_rules(),
            Ledger(self.key),
            clock=self.clock,
            track_policy=TrackPolicy(retention=timedelta(minutes=10)),
        )
        app = create_app(Settings(data_dir=self.path.parent), channel)
        return Api(TestClient(app), self.tokens, app)

    @property
    def channel(self) -> Channel:
        return self.api.channel

    def restart(self) -> None:
        self.channel.store.close()
        self.api = self._open()

    def send(self, who: str, *reports: dict[str, Any]) -> Any:
        return self.api.post(who, "/v1/tracks", {"tracks": list(reports)})

    def encounters(self, party: str) -> list[dict[str, Any]]:
        with self.channel.store.read() as txn:
            return [
                n.to_json()
                for n in txn.all_notifications()
                if n.party == party and n.subject == "encounter"
            ]


@pytest.fixture
def ops(tmp_path: Path) -> Any:
    o = Ops(tmp_path)
    yield o
    o.channel.store.close()


def head_on(ops: Ops, *, gap_deg: float = 0.6) -> None:
    """VIPER11 (coalition) eastbound and FULCRUM7 (russia) westbound on one parallel, 100 ft
    apart: they meet halfway between in gap / (2 * speed)."""
    assert ops.send("coalition", report("VIPER11", 38.0, 35.0, 90.0)).status_code == 200
    r = ops.send(
        "russia",
        report("FULCRUM7", 38.0 + gap_deg, 35.0, 270.0, altitude_ft=FL200_FT + 100),
    )
    assert r.status_code == 200, r.text


def test_a_party_reads_back_only_its_own_tracks(ops: Ops) -> None:
    head_on(ops)
    own = ops.api.get("coalition", "/v1/tracks").json()["items"]
    assert [t["track_id"] for t in own] == ["VIPER11"]
    assert own[0]["altitude"]["value"] == pytest.approx(FL200_FT * 0.3048)
    assert own[0]["ground_speed"]["value"] == pytest.approx(400 * 1852 / 3600)
    theirs = ops.api.get("russia", "/v1/tracks").json()["items"]
    assert [t["track_id"] for t in theirs] == ["FULCRUM7"]
    for who in ("medics", "relay", "channel_admin"):
        assert ops.api.get(who, "/v1/tracks").json() == {"items": []}
    assert ops.api.get(None, "/v1/tracks").status_code == 401


def test_a_viewer_cannot_report_tracks(ops: Ops) -> None:
    r = ops.send("coalition_viewer", report("VIPER11", 38.0, 35.0, 90.0))
    assert r.status_code == 403
    assert ops.api.get("coalition", "/v1/tracks").json() == {"items": []}


def test_a_batch_with_one_bad_report_keeps_nothing(ops: Ops) -> None:
    bad = report("VIPER12", 38.0, 91.0, 90.0)
    r = ops.send("coalition", report("VIPER11", 38.0, 35.0, 90.0), bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0] == {
        "field": "/tracks/1/lat",
        "rule": "lat_range",
        "detail": r.json()["errors"][0]["detail"],
    }
    assert ops.api.get("coalition", "/v1/tracks").json() == {"items": []}


@pytest.mark.parametrize(
    ("offset", "rule"),
    [(timedelta(seconds=6), "track_time_future"), (-timedelta(minutes=11), "track_time_expired")],
)
def test_a_report_outside_the_clock_window_is_refused(
    ops: Ops, offset: timedelta, rule: str
) -> None:
    r = ops.send("coalition", report("VIPER11", 38.0, 35.0, 90.0, at=T0 + offset))
    assert r.status_code == 422
    assert r.json()["errors"][0]["rule"] == rule
    assert r.json()["errors"][0]["field"] == "/tracks/0/time"


def test_an_older_report_does_not_replace_a_newer_one(ops: Ops) -> None:
    ops.send("coalition", report("VIPER11", 38.5, 35.0, 90.0))
    ops.send("coalition", report("VIPER11", 38.0, 35.0, 90.0, at=T0 - timedelta(seconds=10)))
    (kept,) = ops.api.get("coalition", "/v1/tracks").json()["items"]
    assert kept["lon"] == 38.5


def test_converging_aircraft_of_two_parties_are_each_told_once_with_only_the_encounter(
    ops: Ops,
) -> None:
    head_on(ops)
    cycle = ops.channel.surveillance.cycle()
    assert (cycle.opened, cycle.tracks) == (1, 2)
    (blue,) = ops.encounters("coalition")
    (red,) = ops.encounters("russia")
    assert blue["severity"] == red["severity"] == "critical"
    assert blue["subject_id"] == red["subject_id"]
    speed = 400 * 1852 / 3600
    _, _, gap_m = GEOD.inv(38.0, 35.0, 38.6, 35.0)
    meet = T0 + timedelta(seconds=gap_m / (2 * speed))
    for n, own, other in ((blue, "VIPER11", "russia"), (red, "FULCRUM7", "coalition")):
        body = n["body"]
        assert body["own_track"] == own
        assert body["other_party"] == other
        assert body["kind"] == "separation"
        assert body["state"] == "predicted"
        closest = body["closest_at"]
        assert abs((_t(closest) - meet).total_seconds()) <= 1
        assert body["closest_distance_m"] <= 10
        assert body["place"]["lon"] == pytest.approx(38.3, abs=0.002)
        # the band spans both aircraft, rounded outwards to 100 ft and then to the centimetre
        assert body["altitude_band"]["lower"] <= FL200_FT * 0.3048 + 0.005
        assert body["altitude_band"]["upper"] >= (FL200_FT + 100) * 0.3048 - 0.005
    # The other party's track, speed and heading appear nowhere in what a party is told.
    assert "FULCRUM7" not in json.dumps(blue)
    assert "VIPER11" not in json.dumps(red)
    for n in (blue, red):
        assert not {"speed", "ground_speed", "track_deg", "heading", "lat", "lon"} & set(n["body"])

    # Later cycles while the encounter lasts tell nobody anything new.
    for _ in range(3):
        ops.clock.advance(timedelta(seconds=1))
        assert ops.channel.surveillance.cycle().opened == 0
    assert [n["version"] for n in ops.encounters("coalition")] == [blue["version"]]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_an_encounter_is_over_once_the_aircraft_turn_away(ops: Ops) -> None:
    head_on(ops)
    ops.channel.surveillance.cycle()
    ops.clock.advance(timedelta(seconds=1))
    ops.send("coalition", report("VIPER11", 38.0, 35.0, 270.0, at=ops.clock.now))
    ops.send("russia", report("FULCRUM7", 38.6, 35.0, 90.0, at=ops.clock.now, altitude_ft=20_100))
    assert ops.channel.surveillance.cycle().closed == 0  # not yet: within the grace period
    ops.clock.advance(TrackPolicy().grace)
    assert ops.channel.surveillance.cycle().closed == 1
    for party in ("coalition", "russia"):
        (n,) = ops.encounters(party)
        assert n["severity"] == "info"
        assert n["body"]["state"] == "over"


def test_aircraft_of_one_party_are_never_an_encounter(ops: Ops) -> None:
    ops.send(
        "coalition",
        report("VIPER11", 38.0, 35.0, 90.0),
        report("VIPER12", 38.6, 35.0, 270.0),
    )
    assert ops.channel.surveillance.cycle().opened == 0
    assert ops.encounters("coalition") == []


def test_open_encounters_survive_a_restart(ops: Ops) -> None:
    head_on(ops)
    ops.channel.surveillance.cycle()
    (before,) = ops.encounters("coalition")
    ops.restart()
    ops.clock.advance(timedelta(seconds=1))
    assert ops.channel.surveillance.cycle().opened == 0
    assert ops.encounters("coalition") == [before]


def test_reports_are_forgotten_after_the_retention(ops: Ops) -> None:
    head_on(ops)
    ops.clock.advance(timedelta(minutes=10, seconds=1))
    assert ops.channel.surveillance.cycle().purged == 2
    with ops.channel.store.read() as txn:
        assert txn.tracks_since(T0 - timedelta(days=1)) == []


def test_the_stream_answers_each_batch_and_refuses_a_bad_one_without_closing(ops: Ops) -> None:
    headers = ops.api.headers("coalition")
    with ops.api.client.websocket_connect("/v1/tracks/stream", headers=headers) as ws:
        ws.send_text(json.dumps({"tracks": [report("VIPER11", 38.0, 35.0, 90.0)]}))
        assert ws.receive_json() == {"seq": 1, "accepted": 1}
        ws.send_text(json.dumps({"tracks": [report("VIPER12", 38.0, 35.0, 360.0)]}))
        answer = ws.receive_json()
        assert answer["seq"] == 2
        assert answer["problem"]["errors"][0]["field"] == "/tracks/0/track_deg"
        ws.send_text("[" * 10_000)
        assert ws.receive_json()["problem"]["errors"][0]["rule"] == "max_depth"
        ws.send_text('{"tracks": [NaN]}')
        assert ws.receive_json()["problem"]["status"] == 422
        ws.send_text(json.dumps({"tracks": [report("VIPER13", 38.1, 35.0, 90.0)]}))
        assert ws.receive_json() == {"seq": 5, "accepted": 1}
    own = ops.api.get("coalition", "/v1/tracks").json()["items"]
    assert [t["track_id"] for t in own] == ["VIPER11", "VIPER13"]
    assert ops.api.get("russia", "/v1/tracks").json() == {"items": []}


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_the_stream_refuses_a_caller_without_a_valid_token(ops: Ops, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with ops.api.client.websocket_connect("/v1/tracks/stream", headers=headers) as ws:
        assert ws.receive_json()["problem"]["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def _encounters_of(port: int, token: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"http://127.0.0.1:{port}/v1/notifications",
        headers={"Authorization": f"Bearer {token}"},
    )
    return [n for n in r.json()["items"] if n["subject"] == "encounter"]


def test_a_live_server_detects_every_cycle_and_keeps_what_it_acknowledged_through_sigkill(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    channel.store.close()
    port = free_port()
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
    sent = []
    with (
        running(args, port, tmp_path / "log") as server,
        connect(
            f"ws://127.0.0.1:{port}/v1/tracks/stream",
            additional_headers={"Authorization": f"Bearer {tokens['coalition']}"},
        ) as ws,
    ):
        for k in range(20):
            track = report(f"VIPER{k}", 38.0, 35.0 + k / 10, 90.0, at=utc_now())
            ws.send(json.dumps({"tracks": [track]}))
            assert json.loads(ws.recv(timeout=10)) == {"seq": k + 1, "accepted": 1}
            sent.append(track["track_id"])
        # A Russian aircraft head-on to VIPER0: the server's own cycle must tell both sides.
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/tracks",
            json={"tracks": [report("FULCRUM7", 38.6, 35.0, 270.0, at=utc_now())]},
            headers={"Authorization": f"Bearer {tokens['russia']}"},
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 15
        while not _encounters_of(port, tokens["russia"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        (told,) = _encounters_of(port, tokens["russia"])
        assert told["body"]["other_party"] == "coalition"
        assert "VIPER0" not in json.dumps(told)
        server.send_signal(signal.SIGKILL)
        server.wait()
    with running(args, port, tmp_path / "log"):
        got = httpx.get(
            f"http://127.0.0.1:{port}/v1/tracks",
            headers={"Authorization": f"Bearer {tokens['coalition']}"},
        ).json()["items"]
        assert sorted(t["track_id"] for t in got) == sorted(sent)
        (theirs,) = _encounters_of(port, tokens["coalition"])
        assert theirs["subject_id"] == told["subject_id"]
        assert theirs["body"]["own_track"] == "VIPER0"
    verified = subprocess.run(
        [*DECONFLICT, "verify", "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_aircraft_heading_into_another_partys_air_defence_zone_warns_both(ops: Ops) -> None:
    zone = declaration(
        "air_defense_zone",
        "Engagement zone",
        volume(
            box(38.9, 34.9, 39.1, 35.1),
            lower=0,
            upper=40_000,
            start=stamp(T0 - timedelta(hours=1)),
            end=stamp(T0 + timedelta(hours=2)),
        ),
    )
    zone_id = ops.api.declare("russia", zone)["declaration"]["id"]
    assert ops.send("coalition", report("VIPER11", 38.5, 35.0, 90.0)).status_code == 200
    speed = 400 * 1852 / 3600
    _, _, to_edge_m = GEOD.inv(38.5, 35.0, 38.9, 35.0)
    assert ops.channel.surveillance.cycle().opened == 1
    (blue,) = ops.encounters("coalition")
    (red,) = ops.encounters("russia")
    assert blue["severity"] == red["severity"] == "critical"
    assert blue["body"]["kind"] == red["body"]["kind"] == "zone_entry"
    assert (blue["body"]["own_track"], blue["body"]["other_party"]) == ("VIPER11", "russia")
    assert zone_id not in json.dumps(blue)  # the zone is not released to the coalition
    assert red["body"]["declaration_id"] == zone_id
    assert red["body"]["other_party"] == "coalition"
    assert "VIPER11" not in json.dumps(red)
    entry = _t(red["body"]["entry_at"])
    assert abs((entry - (T0 + timedelta(seconds=to_edge_m / speed))).total_seconds()) <= 1
