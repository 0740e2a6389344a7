"""Webhooks over real HTTP on loopback: a `deconflict serve` process POSTs a party's events to a
receiver run here (a small HTTP server in a thread that records every request and answers with
the status a test chooses). Signatures are checked with the party's secret, both with
``deconflict.webhooks.verify`` and recomputed here with hmac; order, retries, failures and
removal are checked as the receiver and the party see them.

Waits are generous and bounded: nothing here asserts how fast a delivery is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from conftest import make_channel_parties
from databases import raw_sql
from deconflict.disclosure import Role
from deconflict.runtime import open_channel
from deconflict.settings import Settings
from deconflict.webhooks import Webhook, new_secret, verify
from factories import declaration, point, volume
from servers import KEEP_2017, free_port, running

pytestmark = pytest.mark.slow

WAIT_S = 30.0
"""How long a test waits for what must come (generous: the machine may be busy)."""
TICK_S = "0.2"
WEBHOOK = "/v1/webhook"
T = TypeVar("T")


def wait_for(found: Callable[[], T | None], what: str, within_s: float = WAIT_S) -> T:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"not within {within_s} s: {what}")


# The receiver ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event_id(self) -> str:
        return self.headers["deconflict-event-id"]


@dataclass
class Receiver:
    """Records every POST; answers with ``status[path]`` (200 if not set)."""

    url: str = ""
    status: dict[str, int] = field(default_factory=dict)
    _requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self.status[path] = status

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self._requests if r.path == path]

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.status.get(path, 200)
            self._requests.append(Received(path, headers, body, status))
            return status


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.record(self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads what it needs from the receiver

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT_S)


# The service ------------------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    tokens: dict[str, str]
    settings: Settings

    def call(self, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=WAIT_S,
        )

    def set_webhook(self, who: str, url: str) -> bytes:
        """Point the party's webhook at ``url``; the secret it answers with."""
        r = self.call(who, "PUT", WEBHOOK, {"url": url})
        assert r.status_code == 200, r.text
        assert r.json()["url"] == url
        return base64.b64decode(r.json()["secret"], validate=True)

    def webhook(self, who: str) -> dict[str, Any]:
        r = self.call(who, "GET", WEBHOOK)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    def conflict(self, lon: float) -> dict[str, Any]:
        """Two air operations of coalition and russia that conflict; the conflict."""
        for who, dlon in (("coalition", 0.0), ("russia", 0.02)):
            body = declaration(
                "air_operation", "Sortie", volume(point(lon + dlon, 35.0), buffer_m=5_000)
            )
            r = self.call(who, "POST", "/v1/declarations", body)
            assert r.status_code == 201, r.text
        (conflict,) = r.json()["conflicts"]
        found: dict[str, Any] = conflict
        return found

    def message(self, sender: str, to: str) -> str:
        r = self.call(sender, "POST", "/v1/messages", {"to": to, "text": "Channel check."})
        assert r.status_code == 201, r.text
        message_id: str = r.json()["message"]["id"]
        return message_id

    def events_of(self, party: str, after: int = 0) -> list[dict[str, Any]]:
        """The party's events as stored, oldest first: what its webhook must get."""
        with raw_sql(self.settings) as db:
            rows = db.execute(
                "SELECT type, data FROM events WHERE party = ? AND seq > ? ORDER BY seq",
                (party, after),
            ).fetchall()
        return [{"type": kind, "data": json.loads(data)} for kind, data in rows]

    def last_event(self) -> int:
        with raw_sql(self.settings) as db:
            (top,) = db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        return int(top)


def serve(tmp: Path, before: Callable[[Any], None] | None = None, *sets: str) -> Iterator[Served]:
    settings = Settings(data_dir=tmp / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    for party in ("coalition", "russia"):
        tokens[f"{party}_admin"] = channel.add_principal(party, "admin", Role.PARTY_ADMIN)[1]
    if before is not None:
        before(channel)
    channel.store.close()
    port = free_port()
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
    args += [arg for pair in (f"webhook_tick_s={TICK_S}", *sets) for arg in ("--set", pair)]
    with running(args, port, tmp / "server.log"):
        yield Served(f"http://127.0.0.1:{port}", tokens, settings)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def notification_events(received: list[Received]) -> list[dict[str, Any]]:
    return [r.event["data"] for r in received if r.event["type"] == "notification"]


def delivered_by_webhook(received: list[Received], notification_id: str) -> bool:
    return any(
        n["id"] == notification_id and n["delivered_via"] == "webhook"
        for n in notification_events(received)
    )


# Signed delivery, in order ----------------------------------------------------------------------


def test_a_conflict_reaches_the_webhook_signed_with_the_partys_secret(
    served: Served, receiver: Receiver
) -> None:
    secret = served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
    conflict = served.conflict(40.0)

    first = wait_for(
        lambda: next(iter(receiver.requests("/coalition")), None), "the conflict's notification"
    )
    assert first.headers["content-type"] == "application/json"
    event = first.event
    assert set(event) == {"id", "type", "data"}
    assert event["type"] == "notification"
    n = event["data"]
    assert (n["party"], n["subject"], n["conflict_id"], n["state"]) == (
        "coalition",
        "conflict",
        conflict["id"],
        "pending",
    )
    assert first.event_id == str(event["id"])

    header = first.headers["deconflict-signature"]
    now_s = time.time()
    assert verify(secret, header, first.body, now_s=now_s)
    # the same check done independently: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>
    parts = dict(p.split("=", 1) for p in header.split(","))
    assert set(parts) == {"t", "v1"}
    mac = hmac.new(secret, parts["t"].encode() + b"." + first.body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"])
    assert abs(now_s - int(parts["t"])) < WAIT_S + 5
    # ... and it fails for another key, another body or an old timestamp
    assert not verify(new_secret(), header, first.body, now_s=now_s)
    assert not verify(secret, header, first.body.replace(b"pending", b"pendinG"), now_s=now_s)
    assert not verify(secret, header, first.body, now_s=int(parts["t"]) + 3600)

    # the 2xx delivered the notification, which is itself an event the receiver then gets
    wait_for(lambda: delivered_by_webhook(receiver.requests("/coalition"), n["id"]), "delivery")
    r = served.call("coalition", "GET", f"/v1/notifications/{n['id']}")
    assert (r.json()["state"], r.json()["delivered_via"]) == ("delivered", "webhook")
    evidence = served.call("coalition", "GET", f"/v1/ledger/evidence/{n['id']}").json()
    leaves = [json.loads(base64.b64decode(e["leaf"])) for e in evidence["entries"]]
    assert [(x["type"], x["object"]["delivered_via"]) for x in leaves] == [
        ("notification.created", None),
        ("notification.delivered", "webhook"),
    ]
    # russia has no webhook: it was told on its own inbox only
    assert receiver.requests("/russia") == []


def test_events_reach_the_webhook_in_order_each_once(served: Served, receiver: Receiver) -> None:
    start = served.last_event()
    secret = served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
    conflicts = [served.conflict(lon)["id"] for lon in (41.0, 42.0, 43.0)]

    def all_delivered() -> bool:
        told = notification_events(receiver.requests("/coalition"))
        return {n["conflict_id"] for n in told if n["delivered_via"] == "webhook"} == set(conflicts)

    wait_for(all_delivered, "every notification delivered by the webhook")
    expected = served.events_of("coalition", start)
    wait_for(
        lambda: len(receiver.requests("/coalition")) >= len(expected), "every event of the party"
    )
    received = receiver.requests("/coalition")
    # exactly the party's events since the webhook was set, in the order they happened
    assert [{"type": r.event["type"], "data": r.event["data"]} for r in received] == expected
    ids = [r.event_id for r in received]
    assert len(set(ids)) == len(ids)
    if all(i.isdigit() for i in ids):
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    for r in received:
        assert verify(secret, r.headers["deconflict-signature"], r.body, now_s=time.time())
    told = notification_events(received)
    assert [n["conflict_id"] for n in told if n["state"] == "pending"] == conflicts
    for n in told:
        if n["state"] == "delivered":
            pending = [m for m in told if m["id"] == n["id"] and m["state"] == "pending"]
            assert pending, n
            assert told.index(pending[0]) < told.index(n)
    assert str(served.webhook("coalition")["delivered_through"]) == ids[-1]


def test_webhook_ids_do_not_tell_how_many_events_other_parties_got(
    served: Served, receiver: Receiver
) -> None:
    """Between two of russia's events, medics is sent three messages. If the ids russia's
    webhook sees were the store's numbers, the gap would show it."""
    served.set_webhook("russia_admin", f"{receiver.url}/russia")

    def told_and_delivered(message_id: str) -> list[str]:
        ids = [
            r.event_id
            for r in receiver.requests("/russia")
            if r.event["data"].get("subject_id") == message_id
        ]
        return ids if len(ids) == 2 else []  # created, then delivered by the webhook

    m1 = served.message("coalition", "russia")
    first = wait_for(lambda: told_and_delivered(m1), "the first message, told and delivered")
    for _ in range(3):
        served.message("coalition", "medics")
    m2 = served.message("coalition", "russia")
    second = wait_for(lambda: told_and_delivered(m2), "the second message, told and delivered")
    ids = first + second
    if all(i.isdigit() for i in ids):
        gaps = [int(b) - int(a) for a, b in itertools.pairwise(ids)]
        assert len(set(gaps)) == 1, f"ids {ids} show other parties' events in between"
    shown = served.webhook("russia")["delivered_through"]
    assert str(shown) == ids[-1]


def _listen(served: Served, who: str, frames: list[dict[str, str]], stop: threading.Event) -> None:
    """Read the party's live stream into ``frames`` until ``stop`` (checked at each line; the
    server sends a keep-alive often enough)."""
    headers = {"Authorization": f"Bearer {served.tokens[who]}"}
    with httpx.stream("GET", f"{served.url}/v1/events", headers=headers, timeout=WAIT_S) as r:
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif not line and fields:
                frames.append(fields)
                fields = {}


@pytest.fixture
def served_with_keepalive(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, None, "event_keepalive_s=0.2")


def test_webhook_event_ids_are_those_of_the_partys_live_stream(
    served_with_keepalive: Served, receiver: Receiver
) -> None:
    served = served_with_keepalive
    frames: list[dict[str, str]] = []
    stop = threading.Event()
    listener = threading.Thread(target=_listen, args=(served, "coalition", frames, stop))
    listener.start()
    try:
        wait_for(lambda: frames, "the stream's start")
        served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
        conflict = served.conflict(49.0)
        wait_for(lambda: len(receiver.requests("/coalition")) >= 2, "two events of the conflict")
        sent = receiver.requests("/coalition")

        def on_stream(r: Received) -> str | None:
            return next(
                (
                    f["id"]
                    for f in list(frames)
                    if f.get("event") == r.event["type"]
                    and json.loads(f.get("data", "null")) == r.event["data"]
                ),
                None,
            )

        for r in sent:
            assert wait_for(lambda r=r: on_stream(r), "the same event on the stream") == r.event_id
        assert sent[0].event["data"]["conflict_id"] == conflict["id"]
    finally:
        stop.set()
        listener.join(WAIT_S)


# Failures and retries ---------------------------------------------------------------------------


def test_a_failing_receiver_gets_the_same_event_again_until_it_takes_it(
    served: Served, receiver: Receiver
) -> None:
    receiver.answer("/coalition", 500)
    secret = served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
    served.conflict(44.0)

    tries = wait_for(
        lambda: (
            receiver.requests("/coalition")[:2]
            if len(receiver.requests("/coalition")) >= 2
            else None
        ),
        "a second try after a failure",
    )
    assert tries[0].event_id == tries[1].event_id
    assert tries[0].event == tries[1].event
    event_id = tries[0].event_id
    for r in tries:
        assert verify(secret, r.headers["deconflict-signature"], r.body, now_s=time.time())

    failing = wait_for(
        lambda: (w := served.webhook("coalition"))["failed_attempts"] >= 2 and w,
        "two failures recorded",
    )
    assert failing["last_error"] == "HTTP 500"
    assert failing["next_attempt_at"] is not None
    assert len(failing["failures"]) == failing["failed_attempts"]
    for f in failing["failures"]:
        assert (str(f["event_id"]), f["status"], f["error"]) == (event_id, 500, "HTTP 500")
    # the viewer of the party sees the same record
    r = served.call("coalition_viewer", "GET", WEBHOOK)
    assert r.json()["failures"][: len(failing["failures"])] == failing["failures"]
    # nothing later went out while the first event was failing
    assert {r.event_id for r in receiver.requests("/coalition")} == {event_id}

    receiver.answer("/coalition", 200)
    taken = wait_for(
        lambda: next((r for r in receiver.requests("/coalition") if r.answered == 200), None),
        "a try after the receiver recovered",
    )
    assert (taken.event_id, taken.event) == (event_id, tries[0].event)
    recovered = wait_for(
        lambda: (w := served.webhook("coalition"))["failed_attempts"] == 0 and w,
        "the failure count reset",
    )
    assert (recovered["last_error"], recovered["next_attempt_at"]) == (None, None)
    assert len(recovered["failures"]) >= 2  # the record of what failed stays
    # then the next event (the notification, now delivered) follows
    n = taken.event["data"]
    wait_for(lambda: delivered_by_webhook(receiver.requests("/coalition"), n["id"]), "delivery")


def test_an_unreachable_receiver_is_recorded_with_no_status(served: Served) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/hook"
    served.set_webhook("coalition_admin", nobody)
    served.conflict(45.0)
    failing = wait_for(
        lambda: (w := served.webhook("coalition"))["failures"] and w, "a failure recorded"
    )
    (f, *_) = failing["failures"]
    assert f["status"] is None
    assert isinstance(f["error"], str)
    assert f["error"]
    assert failing["failed_attempts"] >= 1
    assert failing["last_error"] == failing["failures"][0]["error"]
    (n,) = [
        n
        for n in served.call("coalition", "GET", "/v1/notifications").json()["items"]
        if n["subject"] == "conflict"
    ]
    assert n["delivered_via"] == "fetch"  # not the webhook: it never got there


def test_removing_the_webhook_stops_deliveries(served: Served, receiver: Receiver) -> None:
    served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
    served.set_webhook("russia_admin", f"{receiver.url}/russia")
    served.conflict(46.0)
    for path in ("/coalition", "/russia"):
        wait_for(
            lambda path=path: any(
                n["delivered_via"] == "webhook"
                for n in notification_events(receiver.requests(path))
            ),
            f"delivery to {path}",
        )
    r = served.call("coalition_admin", "DELETE", WEBHOOK)
    assert r.status_code == 204, r.text
    assert served.call("coalition", "GET", WEBHOOK).status_code == 404
    before = len(receiver.requests("/coalition"))

    second = served.conflict(47.0)
    # russia's notification of the second conflict is delivered: a round of the driver after
    # the one that would have sent coalition's
    wait_for(
        lambda: any(
            n["conflict_id"] == second["id"] and n["delivered_via"] == "webhook"
            for n in notification_events(receiver.requests("/russia"))
        ),
        "delivery to russia",
    )
    assert len(receiver.requests("/coalition")) == before


def _store_unsendable_webhook(channel: Any) -> None:
    """A webhook for medics at a URL the service accepts but its HTTP client cannot send to
    (an IDNA host that does not decode): such a webhook exists as soon as the URL check and
    the client disagree on one URL."""
    with channel.store.write() as txn:
        txn.save_webhook(Webhook("medics", "http://xn--a/hook", new_secret(), txn.last_event_id()))


@pytest.fixture
def served_with_unsendable(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, _store_unsendable_webhook)


def test_a_webhook_that_cannot_be_sent_to_holds_up_no_other_party(
    served_with_unsendable: Served, receiver: Receiver
) -> None:
    served = served_with_unsendable
    served.set_webhook("coalition_admin", f"{receiver.url}/coalition")
    served.message("coalition", "medics")  # something for the medics' webhook to try
    conflict = served.conflict(48.0)
    first = wait_for(
        lambda: next(iter(receiver.requests("/coalition")), None), "the conflict's notification"
    )
    assert first.event["data"]["conflict_id"] == conflict["id"]
    wait_for(
        lambda: delivered_by_webhook(receiver.requests("/coalition"), first.event["data"]["id"]),
        "coalition's delivery recorded although medics' webhook fails",
    )
    # and the medics see why theirs got nothing
    failing = wait_for(lambda: (w := served.webhook("medics"))["failures"] and w, "a failure")
    assert failing["failures"][0]["status"] is None


@contextlib.contextmanager
def hanging(seconds: float) -> Iterator[str]:
    """A receiver that takes ``seconds`` to answer each POST; its URL."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(seconds)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT_S)


def test_a_slow_receiver_holds_up_only_its_own_party(served: Served, receiver: Receiver) -> None:
    with hanging(4.0) as slow:
        served.set_webhook("coalition_admin", slow)
        served.set_webhook("russia_admin", f"{receiver.url}/russia")
        served.conflict(41.0)
        started = time.monotonic()
        # russia's second event (its notification, now delivered by the webhook) follows its
        # first at once, although coalition's receiver has not answered its first yet
        wait_for(
            lambda: (
                [
                    n
                    for n in notification_events(receiver.requests("/russia"))
                    if n["delivered_via"] == "webhook"
                ]
                or None
            ),
            "russia's second event while coalition's receiver hangs",
            within_s=3.0,
        )
        assert time.monotonic() - started < 3.0
        assert served.webhook("coalition_admin")["delivered_through"] is not None
