"""Fixtures: a channel with the four demo parties, and an in-process HTTP client that speaks for
each of their principals; every test that opens a store runs once per store.

A test module that builds an app, a channel, a server or settings (see ``_STORE_WORDS``) runs
each of its tests twice: ``[sqlite]`` on a file in the test's folder and ``[postgres]`` on a
fresh PostgreSQL database named by ``DECONFLICT_DATABASE_URL``, which the store, the CLI and
servers started by the test all read. Without PostgreSQL the postgres cases are skipped with the
reason in the summary, except in CI (``CI`` set), where that is a failure."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from databases import Databases, postgres_server
from deconflict.api.app import create_app
from deconflict.disclosure import Role
from deconflict.service import Channel
from deconflict.settings import DATABASE_URL_ENV, Settings

STORES = ("sqlite", "postgres")
_STORE_WORDS = (
    "create_app",
    "open_channel",
    "running(",
    "Settings(",
    "api: Api",
    "CliRunner",
    "SqliteStore",
)


def _touches_store(module: Any) -> bool:
    source = inspect.getsource(module)
    return any(word in source for word in _STORE_WORDS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames and _touches_store(metafunc.module):
        metafunc.parametrize("store_kind", STORES, indirect=True, scope="module")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases | None]:
    with postgres_server() as url:
        if url is None:
            yield None
            return
        databases = Databases(url)
        try:
            yield databases
        finally:
            databases.close()


@pytest.fixture(scope="module")
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store this module's tests run on now."""
    kind: str = getattr(request, "param", "sqlite")
    return kind


def _databases(request: pytest.FixtureRequest) -> Databases:
    databases: Databases | None = request.getfixturevalue("pg_databases")
    if databases is None:
        if os.environ.get("CI"):
            pytest.fail("CI must test both stores, and PostgreSQL is not installed")
        pytest.skip("PostgreSQL 15 server binaries are not installed (docs/postgres.md)")
    return databases


@pytest.fixture(scope="module")
def module_database_url(store_kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """For a server a whole module shares: a database of its own on postgres, "" on sqlite.
    Pass it on explicitly (``Settings(database_url=...)``, ``running(..., database_url=...)``):
    each test's environment names the test's own database."""
    if store_kind != "postgres":
        yield ""
        return
    databases = _databases(request)
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture(autouse=True)
def database_env(
    store_kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """On postgres, an empty database for this test, named in the environment."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    if store_kind != "postgres":
        yield
        return
    databases = _databases(request)
    monkeypatch.setenv(DATABASE_URL_ENV, databases.clean())
    yield


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
