"""The demo scenario shipped in the package: Syria, April 2017."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from deconflict.disclosure import Role
from deconflict.service import Channel

__all__ = ["DEMO_TOKENS_FILE", "SCENARIO", "load_scenario", "scenario"]

SCENARIO = "syria-2017.json"
DEMO_TOKENS_FILE = "demo-tokens.json"


def scenario() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(SCENARIO).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_scenario(channel: Channel, data_dir: Path) -> dict[str, str]:
    """Create the demo parties, one duty officer each (the relay's with the relay role) and
    their declarations; write ``demo-tokens.json`` (party id → bearer token) and return it."""
    data = scenario()
    tokens: dict[str, str] = {}
    for party in data["parties"]:
        channel.add_party(party["id"], party["name"])
        role = Role.RELAY if party["id"] == "relay" else Role.DUTY_OFFICER
        _, tokens[party["id"]] = channel.add_principal(party["id"], "duty officer", role)
    principals = {p.party: p for p in channel.list_principals()}
    for entry in data["declarations"]:
        channel.declare(principals[entry["party"]], entry["declaration"])
    path = data_dir / DEMO_TOKENS_FILE
    path.write_text(json.dumps(tokens, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return tokens
