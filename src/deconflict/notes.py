"""Signed notes and checkpoints in the C2SP formats that transparency logs share.

A *note* is UTF-8 text ending in a newline, a blank line, then one line per signature::

    — <key name> <base64(4-byte key id || Ed25519 signature of the text)>

A *verifier key* is ``<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>`` and a signer
key ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>``; the key id is the first four bytes
of SHA-256(name || "\\n" || 0x01 || public key). A *checkpoint* is a note whose text is the log's
origin, its tree size and its base64 root hash, one per line (C2SP tlog-checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "Checkpoint",
    "NoteError",
    "SignerKey",
    "VerifierKey",
    "open_note",
    "sign_note",
]

_ED25519 = b"\x01"
_SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
_NAME = re.compile(r"^[^\s+]+$")


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed or not signed as it must be."""


def _key_id(name: str, public: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4])


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not standard base64") from None


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def key_id(self) -> int:
        return _key_id(self.name, self.public)

    def to_text(self) -> str:
        encoded = base64.b64encode(_ED25519 + self.public).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> VerifierKey:
        name, sep, rest = text.partition("+")
        key_id, sep2, encoded = rest.partition("+")
        if not (sep and sep2 and _NAME.match(name) and re.fullmatch(r"[0-9a-f]{8}", key_id)):
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        raw = _b64(encoded, "the verifier key")
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        key = cls(name, raw[1:])
        if key.key_id != int(key_id, 16):
            raise NoteError("the key id does not match the name and key")
        return key


@dataclass(frozen=True, slots=True)
class SignerKey:
    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        if not _NAME.match(name):
            raise NoteError("a key name has no spaces and no '+'")
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, seed)

    @property
    def verifier(self) -> VerifierKey:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return VerifierKey(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def to_text(self) -> str:
        encoded = base64.b64encode(_ED25519 + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> SignerKey:
        prefix = "PRIVATE+KEY+"
        if not text.startswith(prefix):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, _, rest = text.removeprefix(prefix).partition("+")
        key_id, _, encoded = rest.partition("+")
        raw = _b64(encoded, "the signer key")
        if len(raw) != 33 or raw[:1] != _ED25519 or not _NAME.match(name):
            raise NoteError("only Ed25519 signer keys (type 0x01, 32 bytes) are supported")
        key = cls(name, raw[1:])
        if f"{key.verifier.key_id:08x}" != key_id:
            raise NoteError("the key id does not match the name and key")
        return key


@functools.lru_cache(maxsize=16)
def _signing(key: SignerKey) -> tuple[Ed25519PrivateKey, bytes]:
    """The key object and 4-byte key id of a signer key, derived once (a log signs every write)."""
    return Ed25519PrivateKey.from_private_bytes(key.seed), key.verifier.key_id.to_bytes(4)


def sign_note(text: str, key: SignerKey) -> str:
    """The note: ``text`` (which must end in a newline), a blank line and the signature."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text ends in a newline and has no blank line")
    private, key_id = _signing(key)
    encoded = base64.b64encode(key_id + private.sign(text.encode())).decode()
    return f"{text}\n{_SIGNATURE_PREFIX}{key.name} {encoded}\n"


def open_note(note: str, verifier: VerifierKey) -> str:
    """The text of ``note`` if ``verifier`` signed it; otherwise :class:`NoteError`."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash and a space")
        name, _, encoded = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
        raw = _b64(encoded, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        if name != verifier.name or int.from_bytes(raw[:4]) != verifier.key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of {name} does not verify") from None
        return text
    raise NoteError(f"the note carries no signature of {verifier.name}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed state of a log: its origin, size and root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def sign(self, key: SignerKey) -> str:
        return sign_note(self.body(), key)

    @classmethod
    def open(cls, note: str, verifier: VerifierKey) -> Checkpoint:
        lines = open_note(note, verifier).split("\n")
        if len(lines) < 4 or not lines[0] or not re.fullmatch(r"0|[1-9][0-9]{0,19}", lines[1]):
            raise NoteError("a checkpoint is an origin, a tree size and a root hash")
        return cls(lines[0], int(lines[1]), _b64(lines[2], "the root hash"))
