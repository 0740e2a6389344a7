"""Webhook dispatch: which event goes next to each party's webhook, and what a try's outcome
does to the record. The HTTP call itself is the driver's (:mod:`deconflict.api.webhook_driver`);
everything here is a store transaction.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconflict.disclosure import Role
from deconflict.errors import Forbidden, InvalidInput, NotFound
from deconflict.inbox import Inbox
from deconflict.ledger import Ledger
from deconflict.principals import Principal
from deconflict.sealing import SealedIds
from deconflict.store.base import Store
from deconflict.webhooks import (
    SIGNATURE_HEADER,
    Failure,
    Webhook,
    backoff,
    new_secret,
    parse_url,
    sign,
)

__all__ = ["Dispatch", "Outgoing"]

FAILURES_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event on its way to a webhook."""

    party: str
    url: str
    event_id: int
    cursor: int
    """The webhook's cursor when this was chosen: a result for a stale choice is dropped."""
    body: bytes
    headers: dict[str, str]


class Dispatch:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        inbox: Inbox,
        sealed: SealedIds,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.inbox = inbox
        self._sealed = sealed
        self._clock = clock

    # the party's settings -----------------------------------------------------------------
    def set_webhook(self, who: Principal, raw: Any) -> dict[str, Any]:
        """Point the party's webhook at a URL, with a fresh secret (shown this once)."""
        self._admin(who)
        if not isinstance(raw, dict) or set(raw) != {"url"}:
            raise InvalidInput.one("", "type", 'a webhook is {"url": "…"}')
        url = parse_url(raw["url"])
        secret = new_secret()
        with self.store.write() as txn:
            old = txn.get_webhook(who.party)
            # A new URL starts with what happens from now on; the old one's backlog is not
            # replayed at it.
            cursor = txn.last_event_id() if old is None or old.url != url else old.cursor
            txn.save_webhook(Webhook(who.party, url, secret, cursor))
        return {"url": url, "secret": base64.b64encode(secret).decode()}

    def webhook(self, who: Principal) -> dict[str, Any]:
        with self.store.read() as txn:
            w = txn.get_webhook(who.party)
            failures = txn.webhook_failures(who.party, FAILURES_SHOWN)
        if w is None:
            raise NotFound("the party has no webhook")
        seal = self._sealed.event_id
        return {
            **w.to_json(),
            "delivered_through": seal(w.party, w.cursor),
            "failures": [{**f.to_json(), "event_id": seal(w.party, f.event_id)} for f in failures],
        }

    def remove_webhook(self, who: Principal) -> None:
        self._admin(who)
        with self.store.write() as txn:
            if not txn.delete_webhook(who.party):
                raise NotFound("the party has no webhook")

    @staticmethod
    def _admin(who: Principal) -> None:
        if who.role is not Role.PARTY_ADMIN:
            raise Forbidden("only the party's admin may change its webhook")

    # the driver's two steps ---------------------------------------------------------------
    def next_out(self, party: str | None = None) -> list[Outgoing]:
        """The next event of every webhook that is due (or only ``party``'s), signed now."""
        now = self._clock()
        out = []
        with self.store.read() as txn:
            for w in txn.webhooks_due(now):
                if party is not None and w.party != party:
                    continue
                (event_id, kind, data), *_ = txn.events_after(w.party, w.cursor, 1)
                # The same id as on the party's live stream; never the store's own number.
                sealed_id = self._sealed.event_id(w.party, event_id)
                body = json.dumps(
                    {"id": sealed_id, "type": kind, "data": json.loads(data)},
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode()
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(w.secret, int(now.timestamp()), body),
                    "Deconflict-Event-Id": sealed_id,
                }
                out.append(Outgoing(w.party, w.url, event_id, w.cursor, body, headers))
        return out

    def record(self, sent: Outgoing, status: int | None, error: str | None) -> None:
        """The outcome of one try: a 2xx moves the cursor on (and delivers a notification);
        anything else waits by backoff and is recorded for the party to see."""
        now = self._clock()
        with self.store.write() as txn:
            w = txn.get_webhook(sent.party)
            if w is None or w.url != sent.url or w.cursor != sent.cursor:
                return  # changed meanwhile
            if status is not None and 200 <= status < 300:
                txn.save_webhook(
                    dataclasses.replace(
                        w, cursor=sent.event_id, attempts=0, next_attempt_at=None, last_error=None
                    )
                )
                event = json.loads(sent.body)
                data = event["data"].get("notification", event["data"])  # escalations wrap it
                if event["type"] in ("notification", "escalation"):
                    entry = self.inbox.delivered_by(
                        txn, data["id"], data["version"], "webhook", now
                    )
                    self.ledger.append(txn, [entry] if entry is not None else [])
                return
            detail = error or f"HTTP {status}"
            attempts = w.attempts + 1
            txn.save_webhook(
                dataclasses.replace(
                    w, attempts=attempts, next_attempt_at=now + backoff(attempts), last_error=detail
                )
            )
            txn.add_webhook_failure(w.party, Failure(sent.event_id, now, status, detail))
