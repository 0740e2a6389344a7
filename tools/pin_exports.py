"""Pin the ``__all__`` of the named modules in tests/test_exported_members.py.

.venv/bin/python tools/pin_exports.py deconflict.tracks deconflict.separation
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

PINS = Path(__file__).resolve().parents[1] / "tests" / "test_exported_members.py"
HEAD = "EXPORTS: dict[str, list[str]] = {"


def main(modules: list[str]) -> None:
    text = PINS.read_text(encoding="utf-8")
    start = text.index(HEAD)
    end = text.index("\n}\n", start) + 3
    exports: dict[str, list[str]] = ast.literal_eval(text[start + len(HEAD) - 1 : end])
    for name in modules:
        exports[name] = sorted(importlib.import_module(name).__all__)
    lines = [HEAD]
    for name in sorted(exports):
        lines += [f'    "{name}": [', *(f'        "{n}",' for n in exports[name]), "    ],"]
    lines.append("}\n")
    PINS.write_text(text[:start] + "\n".join(lines) + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
