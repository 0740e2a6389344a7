"""Offline detection over a GeoJSON FeatureCollection, with no service and no database.

Each Feature is one declaration with one volume: its geometry is the footprint and its
properties hold ``party``, ``kind``, ``title``, ``altitude``, ``time``, optionally ``buffer_m``
and any other declaration field (``released_to``, ``callsign``, ...). A Feature ``id`` becomes the
declaration id (otherwise ``f<index>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from deconflict.declarations import PARTY_ID, Declaration, parse_new
from deconflict.detection import Finding, detect_pair
from deconflict.errors import FieldError, InvalidInput
from deconflict.indexing import boxes_intersect, index_boxes, query_boxes
from deconflict.rules import RuleSet

__all__ = ["detect_all", "parse_feature_collection"]

_VOLUME_KEYS = ("buffer_m", "altitude", "time")


def _in_feature(field: str) -> str:
    """Where a declaration field sits in a Feature: the geometry of its one volume is the
    Feature's geometry; everything else is a property."""
    for prefix, target in (("/volumes/0/geometry", "/geometry"), ("/volumes/0", "/properties")):
        if field.startswith(prefix):
            return target + field.removeprefix(prefix)
    return "/properties" + field


def _feature(raw: Any, i: int, now: datetime) -> Declaration:
    pointer = f"/features/{i}"
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        raise InvalidInput.one(pointer, "feature", "each member is a GeoJSON Feature")
    props = raw.get("properties")
    if not isinstance(props, Mapping):
        raise InvalidInput.one(f"{pointer}/properties", "type", "properties is an object")
    party = props.get("party")
    if not isinstance(party, str) or not PARTY_ID.match(party):
        raise InvalidInput.one(f"{pointer}/properties/party", "party_id", "a party id")
    volume = {"geometry": raw.get("geometry")} | {k: props[k] for k in _VOLUME_KEYS if k in props}
    body = {k: v for k, v in props.items() if k not in (*_VOLUME_KEYS, "party")}
    body["volumes"] = [volume]
    fid = raw.get("id")
    try:
        return parse_new(body, id=str(fid) if fid is not None else f"f{i}", party=party, now=now)
    except InvalidInput as exc:
        raise InvalidInput(
            [FieldError(pointer + _in_feature(e.field), e.rule, e.detail) for e in exc.errors]
        ) from None


def parse_feature_collection(raw: Any) -> list[Declaration]:
    if not isinstance(raw, Mapping) or raw.get("type") != "FeatureCollection":
        raise InvalidInput.one("/type", "feature_collection", "expected a FeatureCollection")
    features = raw.get("features")
    if not isinstance(features, list):
        raise InvalidInput.one("/features", "type", "features is an array")
    now = datetime.now(UTC)
    decls = [_feature(f, i, now) for i, f in enumerate(features)]
    ids = [d.id for d in decls]
    if len(set(ids)) != len(ids):
        raise InvalidInput.one("/features", "unique_ids", "feature ids must be unique")
    return decls


def detect_all(
    decls: Sequence[Declaration], rules: RuleSet, progress: Callable[[int], None] | None = None
) -> list[Finding]:
    """Every conflict among ``decls``; bounding boxes prune pairs, the exact test decides."""
    stored = [index_boxes(d, rules) for d in decls]
    findings = []
    for i, subject in enumerate(decls):
        wanted = query_boxes(subject, rules)
        for j in range(i + 1, len(decls)):
            if any(boxes_intersect(q, s) for q in wanted for s in stored[j]):
                found = detect_pair(subject, decls[j], rules)
                if found is not None:
                    findings.append(found)
        if progress is not None:
            progress(1)
    return findings
