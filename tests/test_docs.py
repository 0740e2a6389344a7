"""Docs kept honest: every endpoint, setting, command, error code and validation rule is
documented, and the README's two commands are the ones that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from deconflict.api.app import create_app, error_codes
from deconflict.cli import app as cli_app
from deconflict.rules import default_rules
from deconflict.settings import Settings, setting_docs

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
API_DOC = (ROOT / "docs" / "api.md").read_text()
ERRORS_DOC = (ROOT / "docs" / "errors.md").read_text()


def test_every_endpoint_is_documented(tmp_path: Path) -> None:
    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    rows = set(re.findall(r"^\| (GET|POST|PATCH|DELETE|PUT) \| `([^`]+)` \|", API_DOC, re.M))
    assert rows == {(m.upper(), p) for p, item in paths.items() for m in item}


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([^`]*)` \|", README, re.M))
    assert rows == {name: default for name, default, _ in setting_docs()}


def _commands(group: Any, prefix: str) -> set[str]:
    out = set()
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out |= _commands(cmd, f"{prefix}{name} ")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_every_command_is_documented() -> None:
    group = typer.main.get_command(cli_app)
    assert hasattr(group, "commands")
    documented = set(re.findall(r"^\| `deconflict ([a-z][a-z-]*(?: [a-z][a-z-]*)*)", README, re.M))
    assert documented == _commands(group, "")


def test_every_error_code_is_documented() -> None:
    rows = set(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", ERRORS_DOC, re.M))
    expected = {(code, str(cls.status)) for code, cls in error_codes().items()}
    assert expected <= rows
    assert {c for c, _ in rows} - {c for c, _ in expected} == {
        "method_not_allowed",
        "internal_error",
    }


def test_every_validation_rule_is_documented() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    calls = r"(?:InvalidInput\.one|FieldError|errors\.add|\.add)\(\s*[^,()]+(?:\([^()]*\))?[^,()]*,"
    rules = set(re.findall(calls + r'\s*"([a-z_]+)"', source))
    assert len(rules) > 30
    documented = set(re.findall(r"`([a-z_0-9]+)`", ERRORS_DOC.split("Validation rules")[1]))
    assert rules <= documented, sorted(rules - documented)


def test_the_quick_start_is_two_commands_that_the_makefile_and_ci_run() -> None:
    block = README.split("## Quick start")[1].split("```sh")[1].split("```")[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: ", makefile, re.M)
    assert re.search(r"^test: ", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci.splitlines()[-1]


def test_the_documented_rules_table_is_the_one_applied() -> None:
    doc = (ROOT / "docs" / "detection.md").read_text().split("## Rules")[1].split("##")[0]
    documented = set()
    for left, right, kind, severity in re.findall(
        r"^\| ([a-z_, ]+) \u00d7 ([a-z_, ]+) \| `([a-z_]+)` \| ([a-z]+) \|", doc, re.M
    ):
        for a in left.split(", "):
            for b in right.split(", "):
                documented.add((frozenset({a, b}), kind, severity))
    applied = {
        (frozenset({str(r.first), str(r.second)}), str(r.kind), str(r.severity))
        for r in default_rules().rules
    }
    assert documented == applied
