"""Webhooks: each party's events POSTed to a URL it chose, signed so the receiver knows they
came from the channel and were not replayed, retried with backoff until they get a 2xx.

The signature header is ``Deconflict-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where
the HMAC, keyed with the party's secret, covers ``"<t>." + body``. A receiver recomputes it,
compares in constant time, and refuses a timestamp more than :data:`TOLERANCE_S` from its clock.

Events go out one at a time and in order: a failing receiver holds back the later ones (and
sees every failure recorded) rather than getting them out of order.

>>> secret = bytes(32)
>>> header = sign(secret, 1_500_000_000, b'{"a":1}')
>>> verify(secret, header, b'{"a":1}', now_s=1_500_000_010)
True
>>> verify(secret, header, b'{"a":2}', now_s=1_500_000_010)
False
>>> [backoff(n).total_seconds() for n in (1, 2, 3, 10, 20)]
[1.0, 2.0, 4.0, 300.0, 300.0]
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from deconflict.errors import InvalidInput
from deconflict.volumes import format_time

__all__ = [
    "MAX_BACKOFF",
    "SIGNATURE_HEADER",
    "TOLERANCE_S",
    "Failure",
    "Webhook",
    "backoff",
    "new_secret",
    "parse_url",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "Deconflict-Signature"
TOLERANCE_S = 300
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Webhook:
    party: str
    url: str
    secret: bytes
    cursor: int
    """The last event delivered (2xx); the next to go is the first after it."""
    attempts: int = 0
    """Failed tries of the next event so far."""
    next_attempt_at: datetime | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What the party sees of it: never the secret, nor the store's event numbers (the
        caller adds them sealed)."""
        return {
            "url": self.url,
            "failed_attempts": self.attempts,
            "next_attempt_at": None
            if self.next_attempt_at is None
            else format_time(self.next_attempt_at),
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class Failure:
    event_id: int
    at: datetime
    status: int | None
    """The receiver's HTTP status, or ``None`` when it could not be reached."""
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "status": self.status,
            "error": self.error,
        }


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def sign(secret: bytes, timestamp_s: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp_s).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


def verify(secret: bytes, header: str, body: bytes, *, now_s: float) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within the tolerance of ``now_s``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp = parts.get("t", "")
    if not stamp.isdigit() or abs(now_s - int(stamp)) > TOLERANCE_S:
        return False
    expected = sign(secret, int(stamp), body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failed ones: 1 s, 2 s, 4 s, … 5 min."""
    return min(timedelta(seconds=2 ** min(attempts - 1, 20)), MAX_BACKOFF)


def parse_url(raw: object) -> str:
    """An http(s) URL with a host; the service runs air-gapped, so any host it can reach."""
    if not isinstance(raw, str) or len(raw) > 2000:
        raise InvalidInput.one("/url", "url", "an http or https URL")
    try:
        parts = urlsplit(raw)
        port = parts.port  # a port that is not a number raises here
        host = parts.hostname
        if host is not None:
            host.encode("idna")  # a host the HTTP client could never resolve
    except (ValueError, UnicodeError):
        raise InvalidInput.one(
            "/url", "url", "an http or https URL the service can send to"
        ) from None
    if parts.scheme not in ("http", "https") or not host or (port is not None and port == 0):
        raise InvalidInput.one("/url", "url", "an http or https URL with a host")
    return raw
