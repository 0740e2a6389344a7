"""Schema-driven fuzzing of every operation in the OpenAPI document (schemathesis).

Requests generated from the published schema, valid and invalid alike, must never get a 5xx;
every response must have a status, content type and body that the document declares for it; and
every 4xx must be an RFC 9457 problem document whose ``status`` is the HTTP status.
Generation is derandomized with a fixed seed so that a CI failure reproduces locally.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import make_channel_parties
from deconflict.api.app import create_app
from deconflict.runtime import open_channel
from deconflict.settings import Settings

MAX_EXAMPLES = 30
SEED = 20170407
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document. Schemathesis generates its tests at collection, so the
    document is read at import, from an app on a temporary directory removed at once."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        try:
            return app.openapi()
        finally:
            app.state.channel.store.close()


schema = schemathesis.openapi.from_dict(
    _openapi_document(),
    config=schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES}}
    ),
)


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    settings_ = Settings(data_dir=tmp_path / "data")
    settings_.data_dir.mkdir(parents=True)
    # The app is given its channel so that it does not close the store when the client that
    # schemathesis opens for each request shuts the app down.
    channel = open_channel(settings_)
    token = make_channel_parties(channel)["coalition"]
    try:
        yield Target(create_app(settings_, channel), {"Authorization": f"Bearer {token}"})
    finally:
        channel.store.close()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_4xx_is_a_problem(
    case: schemathesis.Case, target: Target
) -> None:
    # The live event stream never ends: keep what it sends in a quarter second (its first frame).
    stream = {"timeout": 0.25} if case.operation.path == "/v1/events" else {}
    response = case.call(app=target.app, headers=dict(target.headers), **stream)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if 400 <= response.status_code < 500:
        media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
        assert media == "application/problem+json", (response.status_code, response.text)
        body = response.json()
        assert body.keys() >= PROBLEM_MEMBERS, body
        assert body["status"] == response.status_code, body
