"""Sequence numbers sealed for one party: event ids on its live stream and webhook, and the
cursors of its lists.

The store numbers the rows of all parties together (events, notifications, conflicts), so a
number shown to a party would tell it how many rows others got between two of its own: for
instance that a strike it just declared touched an unreleased hospital, whose owner and the
relay were told. A sealed number is one AES block (the number, 4 bytes of nonce, 4 bytes naming
the party) in URL-safe base64: it tells nothing, and only the party it was given to can use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SealedIds"]

_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{22}")
_TAG_BYTES = 4


def _party_tag(party: str) -> bytes:
    return hashlib.sha256(b"party\x00" + party.encode()).digest()[:_TAG_BYTES]


class SealedIds:
    """Event ids as a client sees them: the event's place in the channel-wide log, encrypted
    with a key only the service holds and bound to one party.

    The log numbers the events of all parties together, so its numbers would tell a party how
    many events others got between two of its own: for instance that a strike it just
    declared touched an unreleased hospital (whose owner and the relay were told). An id is
    one AES block (the log position, 4 bytes of nonce, 4 bytes naming the party) in URL-safe
    base64: it tells nothing and only the party's own stream accepts it.

    >>> ids = SealedIds(bytes(16))
    >>> ids.open("russia", ids.event_id("russia", 42))
    42
    >>> ids.open("medics", ids.event_id("russia", 42)) is None
    True
    >>> ids.event_id("russia", 42) == ids.event_id("russia", 42) != ids.position("russia", 42)
    True
    """

    def __init__(self, key: bytes) -> None:
        # One block under a secret key is a keyed permutation, not a message mode: ECB is right.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305

    @classmethod
    def derived_from(cls, secret: bytes) -> SealedIds:
        """Ids under a key derived from ``secret`` (the ledger's signing seed, which every
        worker of a channel holds), so they survive restarts and work on any worker."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"deconflict/event-ids")
        return cls(hkdf.derive(secret))

    def event_id(self, party: str, seq: int) -> str:
        """The id of an event: the same on every stream of the party."""
        return self._seal(party, seq, bytes(4))

    def position(self, party: str, seq: int) -> str:
        """A resume point that is no event (a fresh stream's start): random each time, so two
        of them cannot be compared to learn whether anything happened in between."""
        return self._seal(party, seq, (secrets.randbits(32) | 1).to_bytes(4))

    def open(self, party: str, text: str) -> int | None:
        """The log position of an id given to ``party``; ``None`` for anything else."""
        if not _ID_TEXT.fullmatch(text):
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "==")
        except (binascii.Error, ValueError):
            return None
        decryptor = self._cipher.decryptor()
        block = decryptor.update(raw) + decryptor.finalize()
        if block[-_TAG_BYTES:] != _party_tag(party):
            return None
        return int.from_bytes(block[:8])

    def _seal(self, party: str, seq: int, nonce: bytes) -> str:
        encryptor = self._cipher.encryptor()
        block = encryptor.update(seq.to_bytes(8) + nonce + _party_tag(party))
        return base64.urlsafe_b64encode(block + encryptor.finalize()).rstrip(b"=").decode()
