"""Pre-formatted texts for messages and requests, so that the common cases need no free text
(and no interpreter): a template and its fields render the same sentence for both sides.

>>> render("request_to_cross_line", {"line": "the Euphrates", "time": "2017-06-18T16:00Z",
...                                  "what": "two F/A-18E"})
'Request to cross the Euphrates at 2017-06-18T16:00Z with two F/A-18E.'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deconflict.errors import FieldError, InvalidInput

__all__ = ["MAX_FIELD_CHARS", "TEMPLATES", "Template", "render"]

MAX_FIELD_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    fields: tuple[str, ...]
    request: bool = False
    """A request (asking permission) rather than a message (telling)."""

    def to_json(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "text": self.text,
            "fields": list(self.fields),
            "request": self.request,
        }


TEMPLATES: Mapping[str, Template] = {
    "confirm_channel_test": Template("Channel test: please acknowledge this message.", ()),
    "received_deconflicting": Template(
        "Received. We are deconflicting and will answer by {time}.", ("time",)
    ),
    "request_to_cross_line": Template(
        "Request to cross {line} at {time} with {what}.", ("line", "time", "what"), request=True
    ),
    "request_hold_fire": Template(
        "Request to hold fire within {area} from {start} to {end}.",
        ("area", "start", "end"),
        request=True,
    ),
    "request_safe_passage": Template(
        "Request safe passage for {what} along {route} from {start} to {end}.",
        ("what", "route", "start", "end"),
        request=True,
    ),
    "aircraft_in_distress": Template(
        "Our aircraft {callsign} is in distress near {place}; request that you hold fire.",
        ("callsign", "place"),
    ),
    "strike_warning": Template(
        "Strike planned within {area} at {time}: keep your forces and aircraft clear.",
        ("area", "time"),
    ),
}


def render(name: Any, fields: Any, pointer: str = "") -> str:
    """The template's text with its fields filled in; every broken rule at once."""
    template = TEMPLATES.get(name) if isinstance(name, str) else None
    if template is None:
        raise InvalidInput.one(
            f"{pointer}/template", "enum", f"one of: {', '.join(sorted(TEMPLATES))}"
        )
    if not isinstance(fields, Mapping):
        raise InvalidInput.one(f"{pointer}/fields", "type", "fields is an object of texts")
    errors = [
        FieldError(f"{pointer}/fields/{k}", "unknown_field", f"{name} has no field {k!r}")
        for k in sorted(set(fields) - set(template.fields))
        if isinstance(k, str)
    ]
    for k in template.fields:
        value = fields.get(k)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD_CHARS:
            errors.append(
                FieldError(
                    f"{pointer}/fields/{k}",
                    "length",
                    f"a text of 1 to {MAX_FIELD_CHARS} characters",
                )
            )
        elif _CONTROL.search(value):
            errors.append(
                FieldError(f"{pointer}/fields/{k}", "control_character", "no control characters")
            )
    if errors:
        raise InvalidInput(errors)
    return template.text.format(**{k: fields[k].strip() for k in template.fields})
