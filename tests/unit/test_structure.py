"""The shape of the code: imports run one way, registries agree with the files they describe.

Layers (docs/architecture.md): pipelines -> assets -> veerkracht -> sql. Every import counts,
including those inside functions (an import hidden in a function is still a dependency).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from testpaths import REPO

from veerkracht import sources
from veerkracht.codes import LEVELS
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.registry import EMBEDDED_YEARS, YEARS

PACKAGES = ("veerkracht", "assets", "pipelines")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> every module it imports (absolute names, resolved to our own modules)."""
    modules = {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {
                    f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules
                }
        graph[name] = found
    return graph


def test_layers_import_only_downward():
    graph = _imports()
    for module, imported in graph.items():
        tops = {i.split(".")[0] for i in imported}
        if module.startswith("veerkracht"):
            assert not tops & {"dagster", "assets", "pipelines", "bench"}, module
        if module.startswith("assets"):
            assert "pipelines" not in tops, module


def test_no_import_cycles():
    graph = _imports()
    own = {m: {i for i in deps if i in graph and i != m} for m, deps in graph.items()}
    # A package's __init__ importing its own modules is not a cycle of the code's layers.
    own = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in own.items()}
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(own[m]):
            if state.get(n) == 1:
                pytest.fail(f"import cycle: {' -> '.join(stack[stack.index(n) :] + [m, n])}")
            if n not in state:
                visit(n, [*stack, m] if n not in stack else stack)
        state[m] = 2

    for m in sorted(own):
        if m not in state:
            visit(m, [])


def test_year_registry_matches_the_embedded_files():
    for row in YEARS:
        kwb = EMBEDDED_DIR / "kwb" / row.kwb_table
        assert kwb.is_dir() == row.embedded_kwb, row
        folder = EMBEDDED_DIR / "geometries" / str(row.year)
        shipped = tuple(lv for lv in LEVELS if (folder / f"{lv}.parquet").is_file())
        assert shipped == row.embedded_geometry, row
        if row.crime_extract:
            assert (EMBEDDED_DIR / "extra" / row.crime_extract).is_file(), row
        if row.embedded_file:
            assert (EMBEDDED_DIR / "kwb_files" / row.embedded_file).is_file(), row
    listed = {str(r.year) for r in YEARS}
    files = {p.name for p in (EMBEDDED_DIR / "kwb_files").iterdir()} - {"REPAIRS.json"}
    assert files == {r.embedded_file for r in YEARS if r.embedded_file}
    assert {p.name for p in (EMBEDDED_DIR / "geometries").iterdir()} <= listed
    assert {p.name for p in (EMBEDDED_DIR / "kwb").iterdir()} <= {r.kwb_table for r in YEARS}
    assert EMBEDDED_YEARS == tuple(sorted((r.year for r in YEARS if r.embedded), reverse=True))
    assert EMBEDDED_YEARS == (2024, 2023, 2022, 2021)


#: What a source module of each kind must provide (see veerkracht/sources.py).
CONTRACT = {"statistics": ["snapshots"], "geometry": ["levels_available", "read_year"], "format": ["write"]}


@pytest.mark.parametrize("source", sources.SOURCES, ids=lambda s: f"{s.kind}:{s.name}")
def test_every_source_module_keeps_its_contract(source):
    module = source.load()
    for function in CONTRACT[source.kind]:
        assert callable(getattr(module, function, None)), f"{source.module} lacks {function}()"
    if source.kind == "format":
        assert "{level}" in source.filename and "{year}" in source.filename
        assert set(source.options) <= set(inspect.signature(module.write).parameters)


def test_cli_choices_come_from_the_registry():
    from pipelines.__main__ import main

    with pytest.raises(SystemExit):
        main(["--source", "nope"])
    for kind in ("statistics", "geometry"):
        with pytest.raises(ValueError, match=f"choose one of {', '.join(sources.names(kind))}"):
            sources.get(kind, "nope")


def test_layer_files_follow_the_format_rows(tmp_path):
    from veerkracht.publish.layers import layer_paths

    paths = layer_paths(tmp_path, 2024, "buurt")
    assert list(paths) == list(sources.names("format"))
    assert paths["parquet_4326"].name == "buurt_2024_4326.parquet" and paths["gpkg"].name == "buurt_2024.gpkg"
