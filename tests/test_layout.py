"""The package's shape: no import cycle anywhere in dlcv/, and the README's Layout section lists the tree."""
import ast
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "dlcv"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every import in dlcv/ (module level or inside functions) as an edge to the dlcv module it loads.

    Importing ``a.b.c`` also runs ``a`` and ``a.b``; an edge goes to those packages too, except to a
    package the importer lives in (its own package is already being imported when it runs).
    """
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                if not target.startswith("dlcv"):
                    continue
                while target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    loaded = ".".join(parts[:i])
                    if loaded in modules and loaded != name and not name.startswith(loaded + "."):
                        graph[name].add(loaded)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_relative_function_level_and_parent_imports():
    graph = import_graph()
    assert "dlcv.data.registry" in graph["dlcv.data.folder"]          # from .registry import ...
    assert "dlcv.data" in graph["dlcv.preprocessing"] or "dlcv.images" in graph["dlcv.preprocessing"]
    assert "dlcv.training.engine" in graph["dlcv.app"]                 # imported inside a function
    assert "dlcv.training" in graph["dlcv.app"]                        # the package it lives in runs too


def test_dlcv_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_readme_layout_lists_every_module_and_package():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"([\w/]+(?:\.py|/))", layout))
    top_level = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
                 if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")}
    missing = {name for name in top_level - {"__init__.py", "__main__.py"} if name not in listed}
    assert not missing, f"README Layout misses {sorted(missing)}"
    everywhere = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.rglob("*") if p.name != "__pycache__"}
    repository = {"scripts/", "configs/", "datasets/", "output/", "tests/", "benchmarks/", "docker/", "dlcv/"}
    benchmarks = {p.name for p in (ROOT / "benchmarks").glob("*.py")}  # benchmarks/run.py, recipes.py
    stale = {name for name in listed if name not in everywhere | repository | benchmarks
             and not name.endswith("run.py")}
    assert not stale, f"README Layout names {sorted(stale)}, which dlcv/ does not have"


def test_the_checks_run_in_one_layer_above_the_trainer():
    """The application layer checks a config; nothing under dlcv/training/ reaches back to dlcv.checks."""
    graph = import_graph()
    importers = sorted(name for name, targets in graph.items()
                       if name.startswith("dlcv.training") and "dlcv.checks" in targets)
    assert not importers, f"{importers} import dlcv.checks"
    assert "dlcv.checks" in graph["dlcv.app"]


USING_A_RUN = """
import sys
from dlcv.runtime import start_keras
start_keras(quiet=True)
from dlcv.inference import load_classifier
run = load_classifier(sys.argv[1])
labels = [p.label for p in run.iter_predictions(sys.argv[2:])]
assert len(labels) == len(sys.argv) - 2, labels
print(" ".join(sorted(m for m in sys.modules if m.startswith("dlcv.training"))) or "none")
"""


def test_loading_a_run_and_predicting_imports_nothing_of_the_trainer(digits_run, tmp_path):
    import subprocess
    import sys

    import cv2

    for i, image in enumerate(digits_run.prepared.splits.test.images[:3]):
        cv2.imwrite(str(tmp_path / f"digit{i}.png"), image)
    images = sorted(str(p) for p in tmp_path.glob("*.png"))
    done = subprocess.run([sys.executable, "-c", USING_A_RUN, str(digits_run.run_dir / "model.keras"), *images],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "none"


def test_no_training_function_takes_more_than_eight_parameters():
    """The routes take one plan (dlcv.training.plan) instead of its parts one by one: no function or
    constructor in training/, pipeline.py or batches.py has more than 8 parameters besides self."""
    files = [*(PACKAGE / "training").glob("*.py"), PACKAGE / "pipeline.py", PACKAGE / "batches.py"]
    wide = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                arguments = node.args
                names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
                count = len(names) - (names[:1] in (["self"], ["cls"])) + bool(arguments.vararg) + bool(arguments.kwarg)
                if count > 8:
                    wide.append(f"{path.name}:{node.lineno} {getattr(node, 'name', 'lambda')} ({count})")
    assert not wide, wide


def test_no_test_module_imports_another():
    """Tests share their helpers through conftest.py (and data_files.py's generated data), never by importing
    another test module."""
    importing = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            importing += [f"{path.name}: {name}" for name in names if name.split(".")[-1].startswith("test_")]
    assert not importing, importing
