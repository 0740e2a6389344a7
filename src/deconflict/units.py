"""Units and tolerances, named once.

Horizontal distances are metres on the WGS84 ellipsoid; altitudes are metres. Touching counts
as overlapping everywhere in deconflict: two volumes whose distance is at most the required
separation plus :data:`DISTANCE_TOLERANCE_M` conflict.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ALTITUDE_TOLERANCE_M",
    "DISTANCE_TOLERANCE_M",
    "FT_M",
    "NM_M",
    "REFERENCE_MISMATCH_MARGIN_M",
    "AltitudeReference",
    "AltitudeUnits",
    "to_metres",
]

FT_M = 0.3048
"""One international foot in metres."""

NM_M = 1852.0
"""One international nautical mile in metres."""

DISTANCE_TOLERANCE_M = 0.5
"""Slack added to every horizontal comparison so that volumes that touch are found despite
floating-point rounding in projection and geodesic computations."""

ALTITUDE_TOLERANCE_M = 0.001
"""Slack added to every vertical comparison so that bands that touch are found despite rounding
in unit conversion: 1,500 ft less a 1,000 ft separation is 500 ft, but in binary floating point
``1500 * 0.3048 - 1000 * 0.3048`` is a hair above ``500 * 0.3048``."""

REFERENCE_MISMATCH_MARGIN_M = 110.0
"""Margin added to vertical comparisons between an AMSL and a WGS84 (ellipsoidal) altitude.

The service carries no geoid grid (it works air-gapped), and EGM96 geoid heights lie between
about -107 m and +86 m, so comparing bands of different references with this margin never
misses a conflict; it may report one that a geoid model would clear."""

AltitudeUnits = Literal["m", "ft"]
AltitudeReference = Literal["W84", "AMSL"]

_TO_METRES: dict[str, float] = {"m": 1.0, "ft": FT_M}


def to_metres(value: float, units: str) -> float:
    """Convert an altitude to metres.

    >>> to_metres(1000, "ft")
    304.8
    >>> to_metres(12, "furlong")
    Traceback (most recent call last):
    ...
    ValueError: unsupported altitude units: 'furlong'
    """
    factor = _TO_METRES.get(units)
    if factor is None:
        raise ValueError(f"unsupported altitude units: {units!r}")
    return value * factor
