"""Fixtures: a channel on a real SQLite file with the four demo parties, and an in-process HTTP
client that speaks for each of their principals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.disclosure import Role
from deconflict.service import Channel
from deconflict.settings import Settings

PARTIES = ("coalition", "russia", "relay", "medics")

# principal name -> (party, role)
PRINCIPALS: dict[str, tuple[str, Role]] = {
    "coalition": ("coalition", Role.DUTY_OFFICER),
    "russia": ("russia", Role.DUTY_OFFICER),
    "relay": ("relay", Role.RELAY),
    "medics": ("medics", Role.DUTY_OFFICER),
    "coalition_viewer": ("coalition", Role.VIEWER),
    "channel_admin": ("relay", Role.CHANNEL_ADMIN),
}


class Api:
    """An HTTP client that sends each request as one named principal."""

    def __init__(self, client: TestClient, tokens: dict[str, str], app: FastAPI) -> None:
        self.client = client
        self.tokens = tokens
        self.app = app

    @property
    def channel(self) -> Channel:
        channel: Channel = self.app.state.channel
        return channel

    def headers(self, who: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return out | (extra or {})

    def get(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(who, kw.pop("headers", None)), **kw)

    def post(self, who: str | None, url: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(
            url, json=body, headers=self.headers(who, kw.pop("headers", None)), **kw
        )

    def patch(self, who: str | None, url: str, body: Any, version: int | None, **kw: Any) -> Any:
        extra = {"If-Match": f'"{version}"'} if version is not None else {}
        return self.client.patch(url, json=body, headers=self.headers(who, extra), **kw)

    def delete(self, who: str | None, url: str, version: int | None) -> Any:
        extra = {"If-Match": f'"{version}"'} if version is not None else {}
        return self.client.delete(url, headers=self.headers(who, extra))

    def declare(self, who: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.post(who, "/v1/declarations", body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    def declaration_count(self) -> int:
        with self.channel.store.read() as txn:
            return txn.count_declarations()


def make_channel_parties(channel: Channel) -> dict[str, str]:
    for party in PARTIES:
        channel.add_party(party, party.title())
    return {
        name: channel.add_principal(party, name, role)[1]
        for name, (party, role) in PRINCIPALS.items()
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    tokens = make_channel_parties(app.state.channel)
    with TestClient(app) as client:
        yield Api(client, tokens, app)
