"""No traceback reaches the user: an experiment file that raises, a population builder that fails
or a broken input to any command is one line naming the file and line (``--debug`` shows the
traceback); --version, --help with defaults; a copied experiment that keeps another's name does
not overwrite that experiment's results; a resumed run reports what its results cost."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxpa.cli import main
from jaxpa.experiment import figures

ROOT = Path(__file__).resolve().parents[2]

RAISES = "from jaxpa.experiment import Experiment\nratio = 1 / 0\n"
BUILDER_FAILS = '''from jaxpa.experiment import Experiment, LearnerGrid, Population, Size


def build(key):
    raise RuntimeError("the builder failed")


EXPERIMENT = Experiment(name="broken_builder", title="t", populations=[Population("p", build=build)],
                        learners=[LearnerGrid("greedy", "greedy")], feedback="bt_ref",
                        sizes={"tiny": Size(horizon=10, seeds=1)})
'''


def one_line(capsys, rc, *needles):
    err = capsys.readouterr().err
    assert rc in (1, 2), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_an_experiment_file_that_raises_is_named_with_its_line(tmp_path, capsys):
    path = tmp_path / "typo.py"
    path.write_text(RAISES)
    one_line(capsys, main(["run", str(path)]), "typo.py, line 2", "ZeroDivisionError",
             "--debug")


def test_a_population_builder_that_fails_is_named_with_its_line(tmp_path, capsys):
    path = tmp_path / "builder.py"
    path.write_text(BUILDER_FAILS)
    one_line(capsys, main(["run", str(path), "--size", "tiny", "--out", str(tmp_path / "o"),
                           "--no-cache"]), "builder.py, line 5", "RuntimeError",
             "the builder failed")


def test_every_command_with_a_broken_input_answers_in_one_line(tmp_path, capsys):
    """One broken input per command, the user's view: a subprocess's stderr."""
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("user,choice_set,alternative,chosen,x\n1,1,1,1,oops\n1,1,2,0,2\n")
    raises = tmp_path / "typo.py"
    raises.write_text(RAISES)
    calls = [["run", str(raises)], ["online", "--size", "nope"],
             ["reproduce", "--skip", "nope"], ["diagnose", "--instance", str(bad_csv)],
             ["audit", str(bad_csv), "--out", str(tmp_path / "a")],
             ["audit", str(tmp_path / "missing.csv")]]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = ("import sys\nfrom jaxpa.cli import main\n"
            "for argv in eval(sys.argv[1]):\n    print(main(argv), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code, repr(calls)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    codes = [int(c) for c in done.stdout.split()]
    errors = [l for l in done.stderr.splitlines() if l.strip()]
    assert codes == [2] * len(calls), (codes, done.stderr)
    assert "Traceback" not in done.stderr and len(errors) == len(calls), done.stderr


def test_debug_shows_the_traceback(tmp_path, capsys):
    path = tmp_path / "typo.py"
    path.write_text(RAISES)
    assert main(["--debug", "run", str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_version_and_help_with_defaults(capsys):
    from jaxpa import __version__
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jaxpa {__version__}"
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert "``" not in top and "audit a preference log." in top
    assert main(["run", "--help"]) == 0
    assert "(default: default)" in capsys.readouterr().out


def test_a_copy_keeping_another_experiments_name_writes_beside_it(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "my_variant.py"
    copy.write_text((ROOT / "experiments" / "default.py").read_text())
    assert main(["run", str(copy), "--check"]) == 0
    out = capsys.readouterr().out
    assert "results/my_variant" in out and "not overwritten" in out
    assert main(["run", "default", "--check"]) == 0
    assert "-> results/default" in capsys.readouterr().out


def test_a_resumed_run_reports_what_its_parts_cost(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["run", "default", "--size", "tiny", "--out", str(out), "--no-cache", "--quiet"]
    assert main(argv) == 0
    first = (out / "report.md").read_text()
    assert "loaded from an earlier run" not in first
    assert main(argv) == 0
    second = (out / "report.md").read_text()
    assert "6 of 6 loaded from an earlier run" in second


def test_regret_panels_log_log_and_log_linear():
    t = np.array([1, 10, 100, 1000])
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 2)
    curves = {"greedy": np.tile(np.log(t), (3, 1)), "uniform": np.tile(t * 0.5, (3, 1))}
    figures.regret_panel(axes[0], t, curves)
    figures.regret_panel(axes[1], t, curves, yscale="linear")
    assert [ax.get_yscale() for ax in axes] == ["log", "linear"]
    assert all(ax.get_xscale() == "log" for ax in axes)
    plt.close(fig)
