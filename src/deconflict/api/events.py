"""The live event stream: ``GET /v1/events`` as Server-Sent Events, one party's events only.

Each party's events are rows of the store's event log, written in the same transaction as the
change they announce. A stream replays its party's rows after the resume point, then follows
the log live. One :class:`Bell` per app polls the log's newest id and, when it grows, reads
the new rows once per listening party and wakes every stream; so the service needs no global
state and no notification channel from the database, and several workers over one database each
see every write. See docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from deconflict.api.schemas import problem_doc
from deconflict.errors import Gone, InvalidInput
from deconflict.principals import Principal
from deconflict.sealing import SealedIds
from deconflict.service import Channel

__all__ = ["Bell", "build_events_router"]

log = logging.getLogger(__name__)

READ_BATCH = 500
"""Events read per query; a longer backlog is sent in pages of this size."""

RETRY_MS = 2000
"""How long a client waits before it reconnects (the SSE ``retry`` field)."""

REVOCATION_CHECK_S = 1.0
"""How often the bell looks for revoked principals among the listeners: the longest a revoked
token's stream keeps running."""

CLAIMS_KEPT = 10_000
"""Notification versions remembered as recorded delivered, so that a party's many listeners
record each delivery once and not once each."""

KEEPALIVE = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class _Event:
    seq: int
    frame: bytes
    pending: tuple[str, int] | None
    """(id, version) of a notification that this event shows as not yet delivered"""


@dataclass(frozen=True, slots=True)
class _Tick:
    """What one poll found: every event after ``start`` up to ``top``, by listening party. A
    party missing from ``events`` (it began listening during the poll, or had more than a
    batch) reads the store itself."""

    start: int
    top: int
    events: Mapping[str, tuple[_Event, ...]]


class _Listener:
    __slots__ = ("revoked", "who")

    def __init__(self, who: Principal) -> None:
        self.who = who
        self.revoked = False


def _pending(kind: str, data: str) -> tuple[str, int] | None:
    if kind not in ("notification", "escalation"):
        return None
    raw: Any = json.loads(data)
    n = raw if kind == "notification" else raw.get("notification")
    if isinstance(n, dict) and n.get("state") == "pending":
        return str(n["id"]), int(n["version"])
    return None


class Bell:
    """One per app: polls the store's newest event id every ``poll_s`` while anyone listens,
    reads the new events once per listening party, and wakes every stream. It also ends the
    streams of revoked principals and records what streams delivered."""

    def __init__(
        self, channel: Channel, *, poll_s: float, keepalive_s: float, ids: SealedIds | None = None
    ) -> None:
        self._store = channel.store
        self._inbox = channel.inbox
        self.ids = ids or channel.sealed
        self.poll_s = poll_s
        self.keepalive_s = keepalive_s
        self._listeners: set[_Listener] = set()
        self._tick: _Tick | None = None
        self._ringing: asyncio.Event | None = None
        self._checked_at = 0.0
        self._claims: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._deliveries: set[asyncio.Task[None]] = set()

    # the poller --------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until cancelled (the app's lifespan), then wait for deliveries in flight."""
        self._ringing = asyncio.Event()
        try:
            while True:
                try:
                    await self._poll()
                except Exception:  # a failed poll is retried at the next; the bell must not die
                    log.exception("event poll failed")
                await asyncio.sleep(self.poll_s)
        finally:
            if self._deliveries:
                await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _poll(self) -> None:
        if not self._listeners:
            self._tick = None  # idle: the next listener starts from a fresh read
            return
        if time.monotonic() - self._checked_at >= REVOCATION_CHECK_S:
            self._checked_at = time.monotonic()
            await self._end_revoked()
        start = None if self._tick is None else self._tick.top
        parties = {listener.who.party for listener in self._listeners}
        tick = await run_in_threadpool(self._read_tick, start, parties)
        if self._tick is None or tick.top > self._tick.top:
            self._tick = tick
            self._ring()

    def _read_tick(self, start: int | None, parties: set[str]) -> _Tick:
        with self._store.read() as txn:
            top = txn.last_event_id()
            if start is None or top <= start:
                return _Tick(top, top, {})
            events: dict[str, tuple[_Event, ...]] = {}
            for party in parties:
                rows = txn.events_after(party, start, READ_BATCH)
                if len(rows) < READ_BATCH:
                    events[party] = self._events(party, rows)
        return _Tick(start, top, events)

    async def _end_revoked(self) -> None:
        listening = {listener.who.id for listener in self._listeners}
        revoked = await run_in_threadpool(self._revoked, listening)
        if revoked:
            for listener in self._listeners:
                listener.revoked = listener.revoked or listener.who.id in revoked
            self._ring()

    def _revoked(self, principal_ids: set[str]) -> set[str]:
        with self._store.read() as txn:
            found = {i: txn.get_principal(i) for i in principal_ids}
        return {i for i, p in found.items() if p is None or p.revoked_at is not None}

    def _ring(self) -> None:
        ringing, self._ringing = self._ringing, asyncio.Event()
        if ringing is not None:
            ringing.set()

    # reading -----------------------------------------------------------------------------
    def _events(self, party: str, rows: Sequence[tuple[int, str, str]]) -> tuple[_Event, ...]:
        return tuple(
            _Event(seq, self._frame(party, seq, kind, data), _pending(kind, data))
            for seq, kind, data in rows
        )

    def _frame(self, party: str, seq: int, kind: str, data: str) -> bytes:
        # Stored JSON is compact, so one line; split anyway, as SSE ends a field at a newline.
        lines = "".join(f"data: {line}\n" for line in re.split(r"\r\n|\r|\n", data))
        return f"id: {self.ids.event_id(party, seq)}\nevent: {kind}\n{lines}\n".encode()

    def _read(self, party: str, after: int) -> tuple[tuple[_Event, ...], int, bool]:
        """The party's events after ``after``, the position they reach and whether more wait."""
        with self._store.read() as txn:
            top = txn.last_event_id()
            rows = txn.events_after(party, after, READ_BATCH)
        if len(rows) == READ_BATCH:
            return self._events(party, rows), rows[-1][0], True
        return self._events(party, rows), max(top, after), False

    def _top(self) -> int:
        with self._store.read() as txn:
            return txn.last_event_id()

    async def top(self) -> int:
        """The log's newest position: where a stream without a resume point starts."""
        return await run_in_threadpool(self._top)

    def _purged_through(self, party: str) -> int:
        with self._store.read() as txn:
            return txn.events_purged_through(party)

    async def purged_through(self, party: str) -> int:
        """The newest of the party's events that retention purged: a stream resuming before it
        would miss events."""
        return await run_in_threadpool(self._purged_through, party)

    # streams -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _listening(self, who: Principal) -> Iterator[_Listener]:
        listener = _Listener(who)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    async def _next_tick(self, listener: _Listener, upto: int) -> _Tick | None:
        """The first tick past ``upto``; ``None`` after ``keepalive_s`` without one."""
        try:
            async with asyncio.timeout(self.keepalive_s):
                while not listener.revoked and (self._tick is None or self._tick.top <= upto):
                    if self._ringing is None:  # not running (no lifespan): time out
                        await asyncio.sleep(self.keepalive_s)
                    else:
                        await self._ringing.wait()
        except TimeoutError:
            return None
        return self._tick

    async def stream(self, who: Principal, after: int, head: bytes) -> AsyncIterator[bytes]:
        """The SSE body: ``head``, then the party's events after ``after``, for ever."""
        with self._listening(who) as listener:
            yield head
            upto, behind = after, True
            while not listener.revoked:
                if behind:
                    events, upto, behind = await run_in_threadpool(self._read, who.party, upto)
                else:
                    tick = await self._next_tick(listener, upto)
                    if listener.revoked:
                        break
                    if tick is None:
                        yield KEEPALIVE
                        continue
                    if tick.start > upto or who.party not in tick.events:
                        behind = True
                        continue
                    events = tuple(e for e in tick.events[who.party] if e.seq > upto)
                    upto = tick.top
                if events:
                    yield b"".join(e.frame for e in events)
                    self._delivered(who, events)

    # delivery ----------------------------------------------------------------------------
    def _claim(self, key: tuple[str, int]) -> bool:
        if key in self._claims:
            return False
        self._claims[key] = None
        if len(self._claims) > CLAIMS_KEPT:
            self._claims.popitem(last=False)
        return True

    def _delivered(self, who: Principal, events: Sequence[_Event]) -> None:
        """Record, off the event loop, that these notifications reached ``who``'s client. A
        failure is logged: the stream goes on, and the next fetch delivers them."""
        fresh = [e.pending[0] for e in events if e.pending is not None and self._claim(e.pending)]
        if fresh:
            task = asyncio.create_task(self._deliver(who, fresh))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, who: Principal, notification_ids: list[str]) -> None:
        try:
            await run_in_threadpool(self._inbox.deliver, who, notification_ids, "stream")
        except Exception:
            log.exception("recording delivery by stream failed")


def _resume_point(ids: SealedIds, party: str, header: str | None, query: str | None) -> int | None:
    """The position to resume after: the ``Last-Event-ID`` header (what a reconnecting
    EventSource sends), else the ``last_event_id`` parameter; ``None`` for neither."""
    for field, text in (("Last-Event-ID", header), ("last_event_id", query)):
        if text:
            seq = ids.open(party, text.strip())
            if seq is None:
                raise InvalidInput.one(
                    field, "cursor", "not an event id that this service sent to your party"
                )
            return seq
    return None


_DOC = {
    200: {
        "description": "Server-Sent Events: `id`, `event` (notification, escalation, roster)"
        " and `data` (JSON); a comment every keep-alive interval",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    401: problem_doc("no valid bearer token"),
    410: problem_doc("events after the resume point were purged (event_retention_days)"),
    422: problem_doc("Last-Event-ID (or last_event_id) is not an id of the caller's stream"),
}


def build_events_router(bell: Bell, caller: Any) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get(
        "/events",
        summary="Live events of the caller's party (Server-Sent Events, resumable)",
        response_class=StreamingResponse,
        responses=_DOC,  # type: ignore[arg-type]  # FastAPI's own type is narrower than it reads
    )
    async def events(
        *,
        who: Principal = caller,
        last_event_id_header: str | None = Header(
            None,
            alias="Last-Event-ID",
            description="Resume after this event (sent by a reconnecting EventSource)",
        ),
        last_event_id: str | None = Query(
            None, description="Resume after this event, for clients that cannot set headers"
        ),
    ) -> StreamingResponse:
        after = _resume_point(bell.ids, who.party, last_event_id_header, last_event_id)
        if after is not None and after < await bell.purged_through(who.party):
            raise Gone(
                "events after this id were purged (event_retention_days): open the stream"
                " without Last-Event-ID and read the backlog from GET /v1/notifications"
            )
        head = f"retry: {RETRY_MS}\n"
        if after is None:  # start from now; GET /v1/notifications holds the backlog
            after = await bell.top()
            head += f"id: {bell.ids.position(who.party, after)}\n"
        return StreamingResponse(
            bell.stream(who, after, (head + "\n").encode()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
