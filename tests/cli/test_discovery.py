"""Experiments are discovered, not listed: every file and folder of experiments/ is a command
(``jaxpa NAME``) and a line of ``jaxpa list``; ``jaxpa reproduce`` runs those declared with
``claim_order``, in that order. A folder experiment's declaration imports its own modules."""
import sys

import pytest

from jaxpa.cli import commands, main
from jaxpa.experiment import Size

FOLDER = '''from jaxpa.experiment import Experiment, LearnerGrid, Population, Size
from experiments.mine.analysis import analyze

EXPERIMENT = Experiment(name="mine", title="a folder experiment",
                        populations=[Population("f1", family="f1")],
                        learners=[LearnerGrid("greedy", "greedy")],
                        sizes={"tiny": Size(horizon=50, seeds=2)}, analyze=analyze, claim_order=9)
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder of one's own with experiments/mine/ (a package: its declaration imports
    experiments.mine.analysis) and experiments/lone.py, as the current folder."""
    folder = tmp_path / "experiments" / "mine"
    folder.mkdir(parents=True)
    (tmp_path / "experiments" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "analysis.py").write_text("def analyze(results):\n    return []\n")
    (folder / "experiment.py").write_text(FOLDER)
    (tmp_path / "experiments" / "lone.py").write_text(FOLDER.replace(
        "from experiments.mine.analysis import analyze\n", "analyze = None\n").replace(
        '"mine"', '"lone"').replace("claim_order=9", "claim_order=None"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = [m for m in sys.modules if m == "experiments" or m.startswith("experiments.")]
    for name in ours:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    yield tmp_path
    for name in [m for m in sys.modules if m == "experiments" or m.startswith("experiments.")]:
        if name not in ours:
            del sys.modules[name]  # the folder's own package, imported by the test


def test_the_repository_experiments_are_found_with_their_claim_order():
    known = commands.known_experiments()
    assert {"default", "compare", "online", "offline", "dial", "real", "personalization",
            "f6", "lock"} <= set(known)
    assert known["dial"].parts[-2:] == ("dial", "experiment.py")
    claims = [e.name for e in commands.claim_experiments()]
    assert claims == ["online", "f6", "offline", "dial", "personalization", "real", "lock"]


def test_every_experiment_is_a_command(capsys, tmp_path):
    """The README's `jaxpa personalization` (once rejected: it was missing from a hard-coded list)."""
    assert main(["personalization", "--check", "--size", "tiny", "--out", str(tmp_path)]) == 0
    assert "personalization:" in capsys.readouterr().out


def test_a_folder_experiment_of_ones_own_is_found_run_and_listed(project, capsys):
    exp = commands.load_experiment("mine")
    assert exp.name == "mine" and exp.claim_order == 9
    assert commands.load_experiment("lone").claim_order is None
    assert [e.name for e in commands.claim_experiments()][-1] == "mine"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "lone" in out and "[reproduce]" in out
    assert main(["mine", "--check", "--size", "tiny", "--out", str(project / "o")]) == 0


def test_reproduce_refuses_to_skip_what_it_would_not_run(capsys):
    assert main(["reproduce", "--skip", "compare"]) == 2  # not a claim experiment
    assert "--skip" in capsys.readouterr().err


def test_a_size_is_checked_once_where_it_is_declared():
    """Declared or overridden (the CLI's dataclasses.replace), a size's fields are checked in
    Size itself; options are the experiment's typed dataclass, defaults when none are given."""
    import dataclasses

    Grid = dataclasses.make_dataclass("Grid", [("points", int, 60)], frozen=True)
    Other = dataclasses.make_dataclass("Other", [("x", int, 1)], frozen=True)
    assert Size(horizon=10, seeds=2).options_or(Grid) == Grid()
    assert Size(horizon=10, seeds=2, options=Grid(points=3)).options_or(Grid).points == 3
    with pytest.raises(ValueError, match="horizon"):
        Size(horizon=0, seeds=2)
    with pytest.raises(ValueError, match="seeds"):
        Size(horizon=10, seeds=0)
    with pytest.raises(ValueError, match="options"):
        Size(horizon=10, seeds=2, options={"grid_points": 3})
    with pytest.raises(ValueError, match="expected Grid"):
        Size(horizon=10, seeds=2, options=Other()).options_or(Grid)
    with pytest.raises(ValueError, match="horizon"):
        dataclasses.replace(Size(horizon=10, seeds=2), horizon=-1)
