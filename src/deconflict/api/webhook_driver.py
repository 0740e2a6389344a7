"""The webhook driver: sends each due webhook its next event over HTTP and records the
outcome. Every party's webhook is tried at once; a party's events go one at a time, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx
from fastapi.concurrency import run_in_threadpool

from deconflict.dispatch import Dispatch, Outgoing

__all__ = ["run_webhooks"]

log = logging.getLogger(__name__)


async def _send(client: httpx.AsyncClient, out: Outgoing) -> tuple[int | None, str | None]:
    try:
        r = await client.post(out.url, content=out.body, headers=out.headers)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return r.status_code, None


async def _deliver(client: httpx.AsyncClient, dispatch: Dispatch, out: Outgoing) -> None:
    """Send ``out``; while the receiver takes them, go straight on with the party's next event
    (a backlog drains at the receiver's pace)."""
    while True:
        status, error = await _send(client, out)
        try:
            await run_in_threadpool(dispatch.record, out, status, error)
            following = await run_in_threadpool(dispatch.next_out, out.party)
        except Exception:  # the next round retries what was not recorded
            log.exception("recording a webhook delivery failed")
            return
        if status is None or not 200 <= status < 300 or not following:
            return
        out = following[0]


async def run_webhooks(
    dispatch: Dispatch,
    tick_s: float,
    timeout_s: float,
    leads: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Until cancelled: every ``tick_s``, start sending each due webhook its next event. Each
    party's try runs on its own, so a slow or dead receiver holds up only its own party. A party
    is sent nothing while a try of its is in flight, nor in the round during which one ended
    (that round's choice may predate the outcome): its events go once each, in order. Only the
    leading worker sends (``leads``)."""
    in_flight: dict[str, asyncio.Task[None]] = {}
    ended: set[str] = set()

    def forget(party: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            in_flight.pop(party, None)
            ended.add(party)

        return done

    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
        try:
            while True:
                ended.clear()
                busy = set(in_flight)
                try:
                    leading = leads is None or await leads()
                    due = await run_in_threadpool(dispatch.next_out) if leading else []
                except Exception:  # a failed round is retried at the next
                    log.exception("webhook round failed")
                    due = []
                for out in due:
                    if out.party in busy or out.party in ended or out.party in in_flight:
                        continue
                    task = asyncio.create_task(_deliver(client, dispatch, out))
                    in_flight[out.party] = task
                    task.add_done_callback(forget(out.party))
                await asyncio.sleep(tick_s)
        finally:
            for task in list(in_flight.values()):
                task.cancel()
