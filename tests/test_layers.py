"""The package's layers import only downward (the README's architecture table): a module of one
layer imports jaxpa modules of its own layer or of layers below it, never above. Checked on the
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


def jaxpa_imports(path: Path) -> list[str]:
    """The jaxpa layers a file imports (module-level or inside functions)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                 [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        out += [n.split(".")[1] for n in names if n.startswith("jaxpa.") and n.count(".") >= 1]
    return [m for m in out if m in RANK]


def upward_imports(files) -> list[str]:
    bad = []
    for path in files:
        me = layer_of(path)
        if me is None:
            continue
        bad += [f"{path.relative_to(ROOT)} ({me}) imports jaxpa.{to}" for to in jaxpa_imports(path)
                if RANK[to] > RANK[me]]
    return bad


def test_every_layer_imports_only_downward():
    files = sorted((ROOT / "jaxpa").rglob("*.py")) + sorted((ROOT / "experiments").glob("*.py"))
    assert len(files) > 50
    assert upward_imports(files) == []


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    """The check itself can fail: a diagnostics module that imports the CLI is reported."""
    fake_root = tmp_path
    bad = fake_root / "jaxpa" / "diagnostics" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from jaxpa.cli.main import main\n    return main\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    assert upward_imports([bad]) == ["jaxpa/diagnostics/bad.py (diagnostics) imports jaxpa.cli"]


@pytest.mark.parametrize("path,layer", [("jaxpa/envs/env.py", "envs"),
                                        ("experiments/online.py", "experiments"),
                                        ("jaxpa/results.py", "results")])
def test_layer_of(path, layer):
    assert layer_of(ROOT / path) == layer
