"""The live event stream, over real HTTP on loopback: every client here is an SSE connection to a
``deconflict serve`` process. A conflict reaches both sides within a second; a stream resumed
with Last-Event-ID gets exactly what it missed; and no stream ever carries another party's
events, nor ids from which to count them."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from conftest import make_channel_parties
from databases import raw_sql
from deconflict.disclosure import Role
from deconflict.notes import SignerKey
from deconflict.runtime import LEDGER_KEY_FILE, open_channel
from deconflict.sealing import SealedIds
from deconflict.settings import Settings
from factories import box, declaration, point, volume
from servers import KEEP_2017, free_port, running

pytestmark = pytest.mark.slow

REACH_S = 1.0
"""The issue's bound: a conflicting declaration reaches both parties within one second."""
WAIT_S = 15.0
"""How long a test waits for what must come (generous: the machine may be busy)."""


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: str | None
    retry: str | None

    def json(self) -> Any:
        return json.loads(self.data or "null")


@dataclass
class Stream:
    """One SSE client on its own task of the portal's event loop; what it received so far."""

    frames: list[Frame] = field(default_factory=list)
    comments: int = 0
    status: int | None = None
    problem: Any = None
    text: str = ""
    ended: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[Frame]:
        with self._lock:
            return [f for f in self.frames if f.data is not None]

    def wait(self, found: Callable[[Stream], Any], within_s: float = WAIT_S) -> Any:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with self._lock:
                result = found(self)
            if result:
                return result
            time.sleep(0.005)
        raise AssertionError(f"not received within {within_s} s; got {self.frames}")

    def event(self, match: Callable[[Frame], bool], within_s: float = WAIT_S) -> Frame:
        frame: Frame = self.wait(
            lambda s: next((f for f in s.frames if f.data is not None and match(f)), None),
            within_s,
        )
        return frame

    @property
    def start(self) -> Frame:
        """The first frame: the retry delay and, for a fresh stream, its resume point."""
        first: Frame = self.wait(lambda s: s.frames[0] if s.frames else None)
        return first


@dataclass
class Served:
    url: str
    tokens: dict[str, str]
    data_dir: Path
    database_url: str
    portal: BlockingPortal
    server: subprocess.Popen[bytes]
    log: Path

    @contextmanager
    def stream(
        self,
        who: str,
        *,
        last_event_id: str | None = None,
        query: str | None = None,
        token: str | None = None,
    ) -> Iterator[Stream]:
        headers = {"Authorization": f"Bearer {token or self.tokens[who]}"} if who else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        params = {"last_event_id": query} if query is not None else {}
        stream = Stream()
        future = self.portal.start_task_soon(_listen, self.url, headers, params, stream)
        try:
            if stream.wait(lambda s: s.status is not None) == 200:
                _ = stream.start  # the server has fixed the stream's start
            yield stream
        finally:
            future.cancel()
            stream.ended.wait(WAIT_S)

    def declare(self, who: str, body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(
            f"{self.url}/v1/declarations",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=WAIT_S,
        )
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    def expected(self, party: str, after_id: str) -> list[str]:
        """The party's event ids after ``after_id``, read from the database itself."""
        ids = stream_ids(self.data_dir)
        after = ids.open(party, after_id)
        assert after is not None
        with raw_sql(Settings(data_dir=self.data_dir, database_url=self.database_url)) as db:
            rows = db.execute(
                "SELECT seq FROM events WHERE party = ? AND seq > ? ORDER BY seq", (party, after)
            ).fetchall()
        return [ids.event_id(party, seq) for (seq,) in rows]


async def _listen(url: str, headers: dict[str, str], params: dict[str, str], out: Stream) -> None:
    try:
        async with (
            httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(WAIT_S, read=None)) as client,
            client.stream("GET", "/v1/events", headers=headers, params=params) as r,
        ):
            if r.status_code != 200:
                out.problem = json.loads(await r.aread())
                out.status = r.status_code
                return
            out.status = r.status_code
            fields: dict[str, str] = {}
            async for line in r.aiter_lines():
                out.text += line + "\n"
                if line.startswith(":"):
                    out.comments += 1
                elif line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = f"{fields[name]}\n{value}" if name in fields else value
                elif fields:
                    frame = Frame(fields.get("id"), fields.get("event"), fields.get("data"),
                                  fields.get("retry"))  # fmt: skip
                    with out._lock:
                        out.frames.append(frame)
                    fields = {}
    except httpx.HTTPError:
        pass  # the server went away: the stream has ended
    finally:
        out.ended.set()


def stream_ids(data_dir: Path) -> SealedIds:
    """The server's id codec, from the key in its data dir: what only the service can do."""
    key = SignerKey.from_text((data_dir / LEDGER_KEY_FILE).read_text().strip())
    return SealedIds.derived_from(key.seed)


def serve(tmp: Path, *extra: str, database_url: str | None = None) -> Iterator[Served]:
    """A server of its own; on ``database_url`` when given, else on the test's database."""
    settings = Settings(data_dir=tmp / "data", database_url=database_url or "")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    tokens["russia_2"] = channel.add_principal("russia", "russia_2", Role.DUTY_OFFICER)[1]
    channel.store.close()
    port = free_port()
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017, *extra]
    with (
        running(args, port, tmp / "server.log", database_url=database_url) as server,
        start_blocking_portal() as portal,
    ):
        url = f"http://127.0.0.1:{port}"
        yield Served(
            url,
            tokens,
            settings.data_dir,
            settings.postgres_url,
            portal,
            server,
            tmp / "server.log",
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("events"), database_url=module_database_url)


def air_op(lon: float, lat: float, title: str = "Armed reconnaissance") -> dict[str, Any]:
    return declaration("air_operation", title, volume(point(lon, lat), buffer_m=5_000))


def about_conflict(conflict_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.event == "notification" and f.json()["conflict_id"] == conflict_id


def test_a_conflicting_declaration_reaches_both_parties_within_a_second(served: Served) -> None:
    with served.stream("coalition") as coalition, served.stream("russia") as russia:
        served.declare("coalition", air_op(40.0, 34.0))
        (conflict,) = served.declare("russia", air_op(40.02, 34.0))["conflicts"]
        answered = time.monotonic()
        for stream, party in ((coalition, "coalition"), (russia, "russia")):
            left_s = REACH_S - (time.monotonic() - answered)
            told = stream.event(about_conflict(conflict["id"]), within_s=max(left_s, 0.0))
            n = told.json()
            assert (n["party"], n["subject"], n["severity"]) == (party, "conflict", "high")
            assert told.id


def test_a_notification_sent_on_a_stream_is_recorded_delivered_by_it(served: Served) -> None:
    with served.stream("coalition") as coalition:
        served.declare("coalition", air_op(41.0, 34.0))
        (conflict,) = served.declare("russia", air_op(41.02, 34.0))["conflicts"]
        first = coalition.event(about_conflict(conflict["id"]))
        assert first.json()["state"] == "pending"
        delivered = coalition.event(
            lambda f: about_conflict(conflict["id"])(f) and f.json()["state"] == "delivered"
        ).json()
        assert delivered["delivered_via"] == "stream"
        me = httpx.get(
            f"{served.url}/v1/me",
            headers={"Authorization": f"Bearer {served.tokens['coalition']}"},
        ).json()
        assert delivered["delivered_to"] == me["id"]


def test_a_resumed_stream_gets_exactly_the_events_it_missed(served: Served) -> None:
    with served.stream("russia") as steady:
        with served.stream("russia_2") as flaky:
            served.declare("coalition", air_op(42.0, 34.0, "Before the break"))
            (before,) = served.declare("russia", air_op(42.02, 34.0))["conflicts"]
            last_seen = flaky.event(about_conflict(before["id"])).id
            assert last_seen is not None
        # flaky is disconnected: three conflicts happen that it misses
        missed = []
        for k in range(3):
            served.declare("coalition", air_op(42.0 + 0.5 * (k + 1), 34.0, "During the break"))
            missed += served.declare("russia", air_op(42.02 + 0.5 * (k + 1), 34.0))["conflicts"]
        for c in missed:
            steady.event(about_conflict(c["id"]))
        with served.stream("russia_2", last_event_id=last_seen) as resumed:
            served.declare("coalition", air_op(45.0, 34.0, "After the break"))
            (marker,) = served.declare("russia", air_op(45.02, 34.0))["conflicts"]
            resumed.event(about_conflict(marker["id"]))
            steady.event(about_conflict(marker["id"]))
            got = [f.id for f in resumed.events()]
            seen = [f.id for f in steady.events()]
    # exactly the party's events after the resume point, in order: none missing, none twice
    assert got == served.expected("russia", last_seen)[: len(got)]
    assert got == seen[seen.index(last_seen) + 1 :][: len(got)]
    told = [f.json()["conflict_id"] for f in resumed.events() if f.event == "notification"]
    assert {c["id"] for c in missed} <= set(told)
    assert last_seen not in got


def test_the_resume_point_may_come_as_a_query_parameter(served: Served) -> None:
    with served.stream("russia") as live:
        served.declare("coalition", air_op(40.0, 33.0))
        (first,) = served.declare("russia", air_op(40.02, 33.0))["conflicts"]
        after = live.event(about_conflict(first["id"])).id
        served.declare("coalition", air_op(40.5, 33.0))
        (second,) = served.declare("russia", air_op(40.52, 33.0))["conflicts"]
        live.event(about_conflict(second["id"]))
    with served.stream("russia_2", query=after) as resumed:
        resumed.event(about_conflict(second["id"]))
        got = [f.id for f in resumed.events()]
    assert after not in got
    assert got == served.expected("russia", after)[: len(got)]


def test_a_stream_never_carries_another_partys_events(served: Served) -> None:
    streams = ("russia", "medics", "relay", "coalition")
    with contextmanager_all(served, streams) as live:
        site = served.declare(
            "medics",
            declaration(
                "protected_site",
                "Unreleased surgical hospital",
                volume(box(36.60, 35.90, 36.602, 35.902), upper=60),
                released_to=[],
                site_type="hospital",
            ),
        )["declaration"]
        strike = served.declare(
            "russia",
            declaration("strike", "Strike", volume(point(36.605, 35.905), buffer_m=300)),
        )
        assert strike["conflicts"] == []
        hidden = live["medics"].event(lambda f: f.event == "notification").json()
        assert hidden["declaration_id"] == site["id"]
        live["relay"].event(about_conflict(hidden["conflict_id"]))
        # then something russia is told, so that its stream has moved past the hidden conflict
        served.declare("coalition", air_op(38.0, 33.0))
        (marker,) = served.declare("russia", air_op(38.02, 33.0))["conflicts"]
        live["russia"].event(about_conflict(marker["id"]))
        live["coalition"].event(about_conflict(marker["id"]))
    for party in streams:
        for frame in live[party].events():
            n = frame.json()
            assert (n.get("notification") or n).get("party", party) == party, (party, n)
    assert hidden["conflict_id"] not in live["russia"].text
    assert site["id"] not in live["russia"].text
    assert "Unreleased surgical hospital" not in live["russia"].text
    assert hidden["conflict_id"] not in live["coalition"].text


@contextmanager
def contextmanager_all(served: Served, names: tuple[str, ...]) -> Iterator[dict[str, Stream]]:
    if not names:
        yield {}
        return
    with served.stream(names[0]) as first, contextmanager_all(served, names[1:]) as rest:
        yield {names[0]: first, **rest}


def test_ids_are_opaque_and_bound_to_the_party(served: Served) -> None:
    with served.stream("russia") as a, served.stream("russia") as b:
        # two fresh streams with nothing written between them cannot tell whether the
        # channel moved: their start ids differ all the same
        assert a.start.id != b.start.id
    with served.stream("medics") as medics:
        medics_id = medics.start.id
        assert medics_id is not None
        assert not medics_id.isdigit()
    with served.stream("russia", last_event_id=medics_id) as refused:
        assert refused.status == 422
        (error,) = refused.problem["errors"]
        assert (error["field"], error["rule"]) == ("Last-Event-ID", "cursor")


@pytest.mark.parametrize(
    ("where", "value", "field_name"),
    [
        ("header", "12", "Last-Event-ID"),
        ("header", "not an id", "Last-Event-ID"),
        ("header", "A" * 22, "Last-Event-ID"),
        ("query", "-1", "last_event_id"),
        ("query", "A" * 300, "last_event_id"),
    ],
)
def test_a_malformed_resume_point_is_a_problem_naming_it(
    served: Served, where: str, value: str, field_name: str
) -> None:
    kwargs = {"last_event_id": value} if where == "header" else {"query": value}
    with served.stream("russia", **kwargs) as refused:
        assert refused.status == 422
        assert refused.problem["code"] == "invalid_input"
        (error,) = refused.problem["errors"]
        assert (error["field"], error["rule"]) == (field_name, "cursor")


@pytest.mark.parametrize("token", ["", "dcf_not-a-token"])
def test_a_stream_needs_a_valid_token(served: Served, token: str) -> None:
    with served.stream("" if not token else "russia", token=token or None) as refused:
        assert refused.status == 401
        assert refused.problem["code"] == "authentication_required"


def test_a_revoked_principals_stream_ends(served: Served) -> None:
    settings = Settings(data_dir=served.data_dir, database_url=served.database_url)
    channel = open_channel(settings)
    try:
        principal, token = channel.add_principal("coalition", "leaver", Role.DUTY_OFFICER)
        with served.stream("coalition", token=token) as doomed:
            channel.revoke_principal(principal.id)
            doomed.ended.wait(WAIT_S)
            assert doomed.ended.is_set()
        with served.stream("coalition", token=token) as refused:
            assert refused.status == 401
    finally:
        channel.store.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Served]:
    settings = ("event_keepalive_s=0.05", "shutdown_grace_s=1")
    yield from serve(tmp_path, *(arg for pair in settings for arg in ("--set", pair)))


def test_a_quiet_stream_gets_keep_alive_comments(own_server: Served) -> None:
    with own_server.stream("russia") as quiet:
        quiet.wait(lambda s: s.comments >= 2)
        assert quiet.events() == []


def test_the_server_stops_while_streams_are_open(own_server: Served) -> None:
    with own_server.stream("russia") as open_stream:
        own_server.server.terminate()
        # uvicorn stops gracefully, then re-raises the signal for the conventional exit status
        assert own_server.server.wait(timeout=WAIT_S) in (0, -signal.SIGTERM)
        open_stream.ended.wait(WAIT_S)
        assert open_stream.ended.is_set()
    assert "Application shutdown complete" in own_server.log.read_text()


def test_events_reach_a_party_whichever_worker_its_stream_is_on(
    tmp_path: Path, store_kind: str
) -> None:
    """Four workers on postgres (one on sqlite): several streams of one party, spread by the
    kernel over the workers' shared socket, each get every event, whichever worker wrote it."""
    workers = "4" if store_kind == "postgres" else "1"
    for served in serve(tmp_path, "--workers", workers):
        with contextlib.ExitStack() as streams:
            listening = [streams.enter_context(served.stream("russia")) for _ in range(6)]
            for k in range(4):
                served.declare("coalition", air_op(50.0 + k, 34.0))
                (conflict,) = served.declare("russia", air_op(50.02 + k, 34.0))["conflicts"]
                for stream in listening:
                    stream.event(about_conflict(conflict["id"]))
