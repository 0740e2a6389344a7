"""Messages between two parties: a template with its fields, or free text when no template
fits. A message tells; asking permission is a request (:mod:`deconflict.permission_requests`).

Pure: ids and the clock come from outside.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconflict.declarations import PARTY_ID
from deconflict.errors import InvalidInput
from deconflict.templates import TEMPLATES, render
from deconflict.volumes import format_time, parse_time

__all__ = [
    "MAX_MESSAGE_CHARS",
    "Message",
    "message_from_json",
    "parse_message",
    "parse_recipient",
    "parse_text",
]

MAX_MESSAGE_CHARS = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    party: str
    """The sender."""
    to: str
    text: str
    template: str | None
    fields: dict[str, str]
    sent_at: datetime
    sent_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "to": self.to,
            "text": self.text,
            "template": self.template,
            "fields": self.fields,
            "sent_at": format_time(self.sent_at),
            "sent_by": self.sent_by,
        }


def message_from_json(raw: Mapping[str, Any]) -> Message:
    return Message(
        id=raw["id"],
        party=raw["party"],
        to=raw["to"],
        text=raw["text"],
        template=raw["template"],
        fields=dict(raw["fields"]),
        sent_at=parse_time(raw["sent_at"], ""),
        sent_by=raw["sent_by"],
    )


def parse_text(raw: Any, pointer: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_MESSAGE_CHARS:
        raise InvalidInput.one(pointer, "length", f"1 to {MAX_MESSAGE_CHARS} characters")
    if _CONTROL.search(raw):
        raise InvalidInput.one(pointer, "control_character", "line breaks and tabs only")
    return raw.strip()


def parse_recipient(raw: Any, sender: str) -> str:
    if not isinstance(raw, str) or not PARTY_ID.match(raw):
        raise InvalidInput.one("/to", "party_id", "the id of the party it goes to")
    if raw == sender:
        raise InvalidInput.one("/to", "other_party", "a message goes to another party")
    return raw


def parse_message(raw: Any, *, id: str, party: str, principal: str, now: datetime) -> Message:
    """``{"to", "template", "fields"}`` or ``{"to", "text"}``; a request template is refused
    here (asking is a request)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.one("", "type", "a message is a JSON object")
    unknown = set(raw) - {"to", "template", "fields", "text"}
    if unknown:
        raise InvalidInput.one(f"/{sorted(unknown)[0]}", "unknown_field", "not a message field")
    to = parse_recipient(raw.get("to"), party)
    if ("template" in raw) == ("text" in raw):
        raise InvalidInput.one("", "template_or_text", "send a template with fields, or a text")
    if "text" in raw:
        return Message(id, party, to, parse_text(raw["text"], "/text"), None, {}, now, principal)
    name = raw["template"]
    if isinstance(name, str) and name in TEMPLATES and TEMPLATES[name].request:
        raise InvalidInput.one("/template", "request_template", f"{name} asks: send a request")
    fields = raw.get("fields", {})
    text = render(name, fields)
    return Message(id, party, to, text, name, dict(fields), now, principal)
