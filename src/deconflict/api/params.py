"""Parsing of query parameters and headers into core values, with problem-shaped errors."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from deconflict.errors import InvalidInput, PreconditionRequired
from deconflict.sealing import SealedIds
from deconflict.volumes import parse_time

__all__ = [
    "decode_cursor",
    "encode_cursor",
    "parse_bbox",
    "parse_body",
    "parse_count",
    "parse_enum",
    "parse_if_match",
    "parse_limit",
    "parse_optional_time",
]


def encode_cursor(sealed: SealedIds, party: str, seq: int | None) -> str | None:
    """The cursor of the next page, sealed for the caller's party: the store's row numbers
    would show how many rows other parties got in between (:mod:`deconflict.sealing`)."""
    return None if seq is None else sealed.position(party, seq)


def decode_cursor(sealed: SealedIds, party: str, raw: str | None) -> int:
    if raw is None:
        return 0
    seq = sealed.open(party, raw)
    if seq is None:
        raise InvalidInput.one("cursor", "cursor", "not a cursor this service gave your party")
    return seq


def parse_limit(raw: str | None, maximum: int) -> int:
    if raw is None:
        return min(100, maximum)
    # isascii: str.isdigit() is also true of '²', which int() refuses
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 1 <= int(raw) <= maximum:
        raise InvalidInput.one("limit", "limit_range", f"limit is a whole number 1 to {maximum}")
    return int(raw)


def parse_count(raw: str | None, name: str) -> int:
    """A required whole number 0 or more (a leaf index or a tree size)."""
    if raw is None:
        raise InvalidInput.one(name, "required", f"{name} is required")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidInput.one(name, "whole_number", f"{name} is a whole number, 0 or more")
    return int(raw)


def parse_enum(raw: str | None, name: str, cls: type[StrEnum]) -> str | None:
    if raw is None:
        return None
    if raw not in {m.value for m in cls}:
        raise InvalidInput.one(name, "enum", f"one of: {', '.join(m.value for m in cls)}")
    return raw


def parse_optional_time(raw: str | None, name: str) -> datetime | None:
    return None if raw is None else parse_time(raw, name)


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` in degrees; a west edge east of the east edge crosses the
    antimeridian (RFC 7946, section 5.2)."""
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput.one("bbox", "bbox", "bbox is west,south,east,north")
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidInput.one(
            "bbox", "bbox_range", "bbox corners in range, the south edge below the north edge"
        )
    return (x0, y0, x1, y1)


def parse_if_match(raw: str | None) -> int:
    """The version in an ``If-Match`` header: ``"3"``, ``W/"3"`` or ``3``."""
    if raw is None:
        raise PreconditionRequired("send If-Match with the version you read (its ETag)")
    text = raw.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise InvalidInput.one("If-Match", "version", "If-Match carries a version number")
    return int(text)


def _reject_constant(name: str) -> Any:
    raise InvalidInput.one("", "finite", f"{name} is not a JSON number")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any, pointer: str) -> str | None:
    """Where a string or member name holds an unpaired UTF-16 surrogate (a lone ``\\ud800``
    escape, valid JSON): such text cannot be encoded as UTF-8 to be stored or sent back."""
    if isinstance(value, str):
        return pointer if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        pairs: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    else:
        return None
    for key, item in pairs:
        if isinstance(key, str) and _SURROGATE.search(key):
            return pointer
        token = str(key).replace("~", "~0").replace("/", "~1")
        found = _lone_surrogate(item, f"{pointer}/{token}")
        if found is not None:
            return found
    return None


def parse_body(body: bytes) -> Any:
    if not body:
        raise InvalidInput.one("", "required", "a JSON body is required")
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:  # not JSON, not UTF-8, or an integer of more than 4,300 digits
        raise InvalidInput.one("", "json", f"the body is not valid JSON: {exc}") from None
    # Only a \\uD8xx-\\uDFxx escape makes one, or any escape in a UTF-16/32 body (which has NULs).
    if b"\x00" in body or _SURROGATE_ESCAPE.search(body):
        where = _lone_surrogate(value, "")
        if where is not None:
            raise InvalidInput.one(where, "unicode", "text holds an unpaired UTF-16 surrogate")
    return value
