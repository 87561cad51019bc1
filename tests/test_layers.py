"""The layer table of docs/design.md §2 is what the code does: every import statement of the package, parsed (no
module is imported), crosses only arrows the table draws, and only the modules it names import Ray.

The table is the one source: this test reads it from the doc, so the doc cannot drift from the check."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scalesearch"
DESIGN = ROOT / "docs" / "design.md"
ANY = "*"  # "every package"


def layer_table(text: str) -> dict[str, set[str]]:
    """package → the packages it may import, from the design's table (``every package above`` resolved in order)."""
    allowed: dict[str, set[str]] = {}
    header = text.index("| package | owns | may import |")
    for line in text[header:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        package = re.findall(r"`([\w]+)/`", cells[0])[0]
        targets = set(re.findall(r"`([\w]+)/`", cells[-1]))
        if "every package above" in cells[-1]:
            targets = set(allowed)
        elif "every package" in cells[-1]:
            targets = {ANY}
        allowed[package] = targets
    return allowed


def ray_modules(text: str) -> set[str]:
    match = re.search(r"Only the modules named here import Ray: ([^.]*(?:\.py[^.]*)*)\.", text)
    return set(re.findall(r"`([\w/]+\.py)`", match.group(1)))


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import statement in ``path``, nested ones included."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    if path.name == "__init__.py":
        package = parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from scalesearch.runs import check_files` imports a module named like an attribute
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names
                      if (ROOT / Path(*f"{base}.{alias.name}".split("."))).is_dir()
                      or (ROOT / Path(*f"{base}.{alias.name}".split("."))).with_suffix(".py").exists()]
    return found


def package_of(path: Path) -> str | None:
    """The layer a file of scalesearch/ belongs to; None for the package's own __init__ (the facade)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def crossings(allowed: dict[str, set[str]], ray_allowed: set[str]) -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = package_of(path)
        shown = path.relative_to(ROOT)
        if layer is not None and layer not in allowed:
            problems.append(f"{shown}: package {layer}/ is not in the layer table of docs/design.md §2")
            continue
        for line, module in imports(path):
            top = module.split(".")
            if top[0] == "ray" and str(path.relative_to(PACKAGE)) not in ray_allowed:
                problems.append(f"{shown}:{line} imports {module}; only {', '.join(sorted(ray_allowed))} may import Ray")
            if top[0] != "scalesearch" or layer is None:
                continue
            target = top[1] if len(top) > 1 else None
            if target is None or target == layer:
                continue  # the facade (for __version__) or the layer's own modules
            if ANY not in allowed[layer] and target not in allowed[layer]:
                problems.append(f"{shown}:{line} imports {module}: {layer}/ may import "
                                f"{', '.join(sorted(allowed[layer])) or 'nothing of the package'}")
    return problems


def test_every_import_follows_the_layer_table_of_the_design():
    text = DESIGN.read_text()
    problems = crossings(layer_table(text), ray_modules(text))
    assert not problems, "\n".join(problems)


def test_the_facade_is_imported_for_its_version_only():
    """``from scalesearch import …`` inside the package reads ``__version__``; anything else would import a layer
    through the facade and hide the arrow from the table."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "scalesearch" and not node.level:
                names = {alias.name for alias in node.names}
                if names - {"__version__"}:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {', '.join(sorted(names))} from the facade")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("bad_import, expected", [
    pytest.param("from scalesearch.cli.console import format_table\n", "report/__planted__.py:1 imports scalesearch.cli.console",
                 id="report-imports-cli"),
    pytest.param("def f():\n    import ray\n", "report/__planted__.py:2 imports ray", id="nested-ray-import"),
    pytest.param("from ..pipeline import run\n", "report/__planted__.py:1 imports scalesearch.pipeline", id="relative-import"),
])
def test_the_check_names_a_forbidden_import_and_its_line(bad_import, expected):
    planted = PACKAGE / "report" / "__planted__.py"
    planted.write_text(bad_import)
    try:
        text = DESIGN.read_text()
        problems = crossings(layer_table(text), ray_modules(text))
    finally:
        planted.unlink()
    assert any(expected in problem for problem in problems), problems


def test_the_table_is_read_as_written():
    text = DESIGN.read_text()
    table = layer_table(text)
    assert table["foundation"] == set()
    assert table["model"] == {"foundation"}
    assert table["cli"] == {ANY}
    assert "cli" not in table["pipeline"] and "model" in table["pipeline"]
    assert "pipeline/ray_runner.py" in ray_modules(text) and all(m.startswith("pipeline/") for m in ray_modules(text))
