"""Update tests/test_exported_members.py EXPORTS entries for the named modules from their __all__."""
import importlib, re, sys
path = "tests/test_exported_members.py"
src = open(path).read()
start = src.index("EXPORTS: dict[str, list[str]] = {")
end = src.index("\n}\n", start) + 3
ns: dict = {}
exec(src[start:end], ns)
exports = ns["EXPORTS"]
for m in sys.argv[1:]:
    exports[m] = sorted(importlib.import_module(m).__all__)
lines = ["EXPORTS: dict[str, list[str]] = {"]
for m in sorted(exports):
    lines.append(f'    "{m}": [')
    lines += [f'        "{n}",' for n in exports[m]]
    lines.append("    ],")
lines.append("}\n")
open(path, "w").write(src[:start] + "\n".join(lines) + src[end:])
