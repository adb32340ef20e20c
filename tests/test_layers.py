"""The package's layers import only downward (the README's architecture table): a module of one
layer imports jaxpa modules of its own layer or of layers below it, never above; and no experiment
imports another (what two share lives in the engine, jaxpa/experiment/, or lower). Checked on the
source text (no import runs), so a violation anywhere in jaxpa/ or experiments/ fails here."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# lowest first; the top-level experiments/ folder sits between jaxpa.experiment and jaxpa.cli
LAYERS = ("envs", "learners", "runner", "diagnostics", "offline", "data", "results", "audit",
          "experiment",
          "experiments", "cli")
RANK = {name: i for i, name in enumerate(LAYERS)}


def layer_of(path: Path) -> str | None:
    rel = path.relative_to(ROOT).with_suffix("")
    if rel.parts[0] == "experiments":
        return "experiments"
    return rel.parts[1] if len(rel.parts) > 1 and rel.parts[1] in RANK else None


def experiment_of(path: Path) -> str | None:
    """The experiment a file of experiments/ belongs to: its folder, or its own name."""
    rel = path.relative_to(ROOT / "experiments").with_suffix("")
    return None if rel.parts == ("__init__",) else rel.parts[0]


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports (module-level or inside functions), as dotted names."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def jaxpa_imports(path: Path) -> list[str]:
    """The layers a file imports: jaxpa.<layer>..., and experiments... as the experiments layer."""
    out = []
    for name in imported_modules(path):
        if name.startswith("jaxpa.") and name.split(".")[1] in RANK:
            out.append(name.split(".")[1])
        elif name == "experiments" or name.startswith("experiments."):
            out.append("experiments")
    return sorted(set(out), key=out.index)


def upward_imports(files) -> list[str]:
    bad = []
    for path in files:
        me = layer_of(path)
        if me is None:
            continue
        bad += [f"{path.relative_to(ROOT)} ({me}) imports {'jaxpa.' if to != 'experiments' else ''}"
                f"{to}" for to in jaxpa_imports(path) if RANK[to] > RANK[me]]
    return bad


def cross_experiment_imports(files) -> list[str]:
    """Files of one experiment that import another experiment (experiments.<other>...)."""
    bad = []
    for path in files:
        me = experiment_of(path)
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] == "experiments" and len(parts) > 1 and parts[1] != me:
                bad.append(f"{path.relative_to(ROOT)} ({me}) imports {name}")
    return bad


def source_files():
    """The package's and the experiments' modules (an experiment folder's tests, test_*.py, sit
    above every layer, like tests/, and may run the CLI)."""
    files = sorted((ROOT / "jaxpa").rglob("*.py")) + sorted((ROOT / "experiments").rglob("*.py"))
    return [f for f in files if not f.name.startswith("test_")]


def test_every_layer_imports_only_downward():
    files = source_files()
    assert len(files) > 50
    assert any(f.parent.parent.name == "experiments" for f in files)  # the experiment folders
    assert upward_imports(files) == []


def test_no_experiment_imports_another():
    files = sorted((ROOT / "experiments").rglob("*.py"))
    assert len({experiment_of(f) for f in files}) >= 8
    assert cross_experiment_imports(files) == []


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    """The check itself can fail: a diagnostics module that imports the CLI, an engine module
    that imports an experiment's analysis."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    bad = tmp_path / "jaxpa" / "diagnostics" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from jaxpa.cli.main import main\n    return main\n")
    engine = tmp_path / "jaxpa" / "experiment" / "bad.py"
    engine.parent.mkdir(parents=True)
    engine.write_text("from experiments.dial.stats import plateau\n")
    assert upward_imports([bad, engine]) == [
        "jaxpa/diagnostics/bad.py (diagnostics) imports jaxpa.cli",
        "jaxpa/experiment/bad.py (experiment) imports experiments"]


def test_a_cross_experiment_import_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    folder, single = tmp_path / "experiments" / "offline", tmp_path / "experiments" / "f6.py"
    folder.mkdir(parents=True)
    (folder / "section.py").write_text("from experiments.offline.claims import c\n"
                                       "from experiments.online.claims import matching_table\n")
    single.write_text("import experiments.dial.stats\n")
    assert cross_experiment_imports([folder / "section.py", single]) == [
        "experiments/offline/section.py (offline) imports experiments.online.claims",
        "experiments/offline/section.py (offline) imports experiments.online.claims.matching_table",
        "experiments/f6.py (f6) imports experiments.dial.stats"]


@pytest.mark.parametrize("path,layer", [("jaxpa/envs/env.py", "envs"),
                                        ("experiments/online/experiment.py", "experiments"),
                                        ("experiments/f6.py", "experiments"),
                                        ("jaxpa/results.py", "results")])
def test_layer_of(path, layer):
    assert layer_of(ROOT / path) == layer
