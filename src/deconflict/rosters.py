"""Rosters: who of a party is told, level by level, and when.

A party's roster is an ordered list of levels (e.g. duty officer → senior duty officer → flag
officer), each with principals on UTC shifts. A notification reaches the principals on shift at
level 1; unacknowledged, it escalates up the levels (:mod:`deconflict.escalation`). A level with
nobody on shift is a channel-health alarm: an escalation would reach no one there.

A shift is ``"HH:MM-HH:MM"`` in UTC, start included and end excluded; it may cross midnight
(``"18:00-06:00"``), and ``"00:00-00:00"`` is the whole day.

>>> r = parse_roster("un", {"levels": [
...     {"name": "duty officer", "members": [{"principal": "prn_a", "shift": "06:00-18:00"},
...                                          {"principal": "prn_b", "shift": "18:00-06:00"}]},
...     {"name": "senior", "members": [{"principal": "prn_c", "shift": "00:00-00:00"}]},
... ]})
>>> from datetime import UTC, datetime
>>> r.on_shift(1, datetime(2017, 4, 7, 3, 0, tzinfo=UTC)), r.top
(('prn_b',), 2)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import partial
from typing import Any

from deconflict.errors import FieldError, InvalidInput
from deconflict.volumes import parse_object

__all__ = ["MAX_LEVELS", "MAX_MEMBERS", "Level", "Member", "Roster", "Shift", "parse_roster"]

MAX_LEVELS = 10
MAX_MEMBERS = 200
_LEVEL_FIELDS = {"name", "members"}
_MEMBER_FIELDS = {"principal", "shift"}
_SHIFT = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True, slots=True)
class Shift:
    start: time
    end: time

    def covers(self, now: datetime) -> bool:
        t = now.astimezone(UTC).time()
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def to_text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Member:
    principal: str
    shift: Shift


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Roster:
    party: str
    levels: tuple[Level, ...]

    @property
    def top(self) -> int:
        """The highest level; 1 for a party without a roster (its whole party is level 1)."""
        return max(1, len(self.levels))

    def on_shift(self, level: int, now: datetime) -> tuple[str, ...]:
        if not 1 <= level <= len(self.levels):
            return ()
        return tuple(m.principal for m in self.levels[level - 1].members if m.shift.covers(now))

    def gaps(self, now: datetime) -> list[int]:
        """Levels with nobody on shift now (every level of an empty roster: level 1)."""
        if not self.levels:
            return [1]
        return [n for n in range(1, len(self.levels) + 1) if not self.on_shift(n, now)]

    def only(self, principals: set[str]) -> Roster:
        """The roster without the members not in ``principals`` (e.g. revoked ones)."""
        levels = tuple(
            Level(level.name, tuple(m for m in level.members if m.principal in principals))
            for level in self.levels
        )
        return Roster(self.party, levels)

    def principals(self) -> set[str]:
        return {m.principal for level in self.levels for m in level.members}

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "levels": [
                {
                    "level": n,
                    "name": level.name,
                    "members": [
                        {"principal": m.principal, "shift": m.shift.to_text()}
                        for m in level.members
                    ],
                }
                for n, level in enumerate(self.levels, start=1)
            ],
        }


def _shift(text: Any, pointer: str, errors: list[FieldError]) -> Shift | None:
    match = _SHIFT.match(text) if isinstance(text, str) else None
    if match is None:
        errors.append(FieldError(pointer, "shift", 'a UTC shift "HH:MM-HH:MM"'))
        return None
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    return Shift(time(h0, m0), time(h1, m1))


def _collect(errors: list[FieldError], check: Callable[[], Any]) -> Any:
    """``check()``, or ``None`` with its broken rules added to ``errors``."""
    try:
        return check()
    except InvalidInput as exc:
        errors.extend(exc.errors)
        return None


def parse_roster(party: str, raw: Any) -> Roster:
    """A roster from decoded JSON ``{"levels": [{"name", "members": [{"principal",
    "shift"}]}]}``; every broken rule is reported at once. Whether each principal belongs to
    the party is the service's check."""
    top = parse_object(raw, "", {"levels"}, {"levels"})
    levels_raw = top["levels"]
    if not isinstance(levels_raw, list) or not 1 <= len(levels_raw) <= MAX_LEVELS:
        raise InvalidInput.one("/levels", "length", f"1 to {MAX_LEVELS} levels")
    errors: list[FieldError] = []
    levels: list[Level] = []
    for i, level_raw in enumerate(levels_raw):
        at = f"/levels/{i}"
        level = _collect(errors, partial(parse_object, level_raw, at, _LEVEL_FIELDS, _LEVEL_FIELDS))
        if level is None:
            continue
        name = level["name"]
        if not isinstance(name, str):
            errors.append(FieldError(f"{at}/name", "type", "a name is text"))
        elif not 1 <= len(name.strip()) <= 100:
            errors.append(FieldError(f"{at}/name", "length", "a name of 1 to 100 characters"))
        members_raw = level["members"]
        if not isinstance(members_raw, list) or len(members_raw) > MAX_MEMBERS:
            errors.append(FieldError(f"{at}/members", "length", f"0 to {MAX_MEMBERS} members"))
            continue
        members: list[Member] = []
        for j, member_raw in enumerate(members_raw):
            mat = f"{at}/members/{j}"
            member = _collect(
                errors, partial(parse_object, member_raw, mat, _MEMBER_FIELDS, _MEMBER_FIELDS)
            )
            if member is None:
                continue
            principal = member["principal"]
            if not isinstance(principal, str) or not principal:
                errors.append(FieldError(f"{mat}/principal", "type", "a principal id"))
                continue
            shift = _shift(member["shift"], f"{mat}/shift", errors)
            if shift is not None:
                members.append(Member(principal, shift))
        levels.append(Level(name.strip() if isinstance(name, str) else "", tuple(members)))
    if errors:
        raise InvalidInput(errors)
    return Roster(party, tuple(levels))
