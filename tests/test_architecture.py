"""How the package is put together: one-way dependencies, and every analysis fully registered.

Layers (lower never imports higher, counting imports inside functions too):
layer I/O and validation -> project -> analyses -> deliverables -> runs -> command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import renewgeo as rg
from renewgeo.analysis import REGISTRY

PKG = Path(rg.__file__).parent

RANKS = {
    # base: no renewgeo imports beyond this rank
    "_errors": 0, "_config": 0, "_kernels": 0, "_assets": 0, "_grid": 0, "_version": 0, "schemas": 0,
    "_validate": 1, "crs": 1, "styles": 1, "units": 1.5,
    "settings": 2, "io": 2, "datasets": 2,
    "patches": 2.5, "compute": 2.5, "project": 3,
    "analysis": 4, "network": 4,
    "raster": 5, "area": 5, "land_release": 5, "walkability": 5, "targets": 5, "scorecard": 5, "districts": 5,  # analyses
    "webmap": 6, "qgis": 6, "outputs": 6, "plot": 6,                                         # deliverables
    "pipeline": 7, "scenarios": 7.5,                                               # runs
    "cli": 8, "__init__": 8, "__main__": 9,
}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    return "__init__" if rel.parts == ("__init__",) else ".".join(p for p in rel.parts if p != "__init__")


def _imports(path: Path) -> set[str]:
    """renewgeo modules imported anywhere in the file (module level, functions, TYPE_CHECKING blocks excepted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` imports exist for annotations only
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip.update(id(n) for n in ast.walk(node))
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("renewgeo"):
            mod = node.module.removeprefix("renewgeo").lstrip(".")
            if mod:
                out.add(mod.split(".")[0])
            else:  # from renewgeo import area, io ...
                out.update(a.name for a in node.names if (PKG / f"{a.name}.py").exists() or (PKG / a.name).is_dir())
                if any(not ((PKG / f"{a.name}.py").exists() or (PKG / a.name).is_dir()) for a in node.names):
                    out.add("__init__")
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("renewgeo."))
    return out


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in PKG.rglob("*.py"):
        mod = _module(path).split(".")[0]
        g.add_node(mod)
        for dep in _imports(path):
            if dep != mod:
                g.add_edge(mod, dep)
    return g


def test_every_module_has_a_rank(graph):
    assert set(graph.nodes) <= set(RANKS), set(graph.nodes) - set(RANKS)


def test_dependencies_run_one_way(graph):
    upward = [(a, b) for a, b in graph.edges if RANKS[b] > RANKS[a]]
    assert upward == [], f"imports against the layering: {upward}"


def test_no_import_cycle(graph):
    assert list(nx.simple_cycles(graph)) == []


def test_the_project_knows_nothing_of_maps_or_analyses(graph):
    assert not set(nx.descendants(graph, "project")) & {"webmap", "qgis", "analysis", "area", "walkability", "pipeline"}
    assert not hasattr(rg.Project, "map") and not hasattr(rg.Project, "explore")


def test_the_map_does_not_compute(graph):
    assert not set(graph.successors("webmap")) & {"area", "walkability", "land_release", "raster", "targets", "pipeline"}


# ------------------------------------------------------------------- the registry
def test_every_analysis_has_a_command_and_settings_section():
    from renewgeo.cli import _parser

    sub = next(a for a in _parser()._actions if a.dest == "command")
    for name, a in REGISTRY.items():
        assert name in sub.choices, name
        if a.settings is not None:
            assert rg.settings.SECTIONS[a.settings.name] is a.settings
        for flag, key in a.cli_flags.items():
            sec, _, k = key.partition(".")
            assert k in {f.name for f in __import__("dataclasses").fields(rg.settings.SECTIONS[sec])}, (name, flag)


def test_no_two_analyses_share_a_layer_name():
    seen: dict[str, str] = {}
    for name, a in REGISTRY.items():
        for layer in a.layers:
            assert layer not in seen, (layer, seen.get(layer), name)
            seen[layer] = name
