"""The webhook driver: sends each due webhook its next event over HTTP and records the
outcome. Every party's webhook is tried at once; a party's events go one at a time, in order."""

from __future__ import annotations

import asyncio
import logging

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


async def run_webhooks(dispatch: Dispatch, tick_s: float, timeout_s: float) -> None:
    """Until cancelled: send what is due; without a pause while deliveries succeed (a backlog
    drains at the receiver's pace), else every ``tick_s``."""
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
        while True:
            delivered = False
            try:
                due = await run_in_threadpool(dispatch.next_out)
                outcomes = await asyncio.gather(*(_send(client, o) for o in due))
                for out, (status, error) in zip(due, outcomes, strict=True):
                    await run_in_threadpool(dispatch.record, out, status, error)
                    delivered |= status is not None and 200 <= status < 300
            except Exception:  # a failed round is retried at the next; the driver must not die
                log.exception("webhook round failed")
            if not delivered:
                await asyncio.sleep(tick_s)
