"""The experiment layer: a copied and edited experiment file runs as the README says, jobs keep
parts and resume after a kill, results identify their config and code and cannot mix, labels are
safe as file names, and the result store refuses what it cannot trust."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jaxpa.results as results_mod
from jaxpa.cli import main
from jaxpa.results import ResultsError, Store, load

ROOT = Path(__file__).resolve().parents[2]

TINY = '''
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size

EXPERIMENT = Experiment(
    name="tiny", title="tiny",
    populations=[Population("f1", family="f1", options={{"n_users": 3, "d": 2, "n_responses": 3,
                                                         "n_prompts": 2}})],
    learners=[{learners}],
    sizes={{"tiny": Size(horizon={horizon}, seeds=3)}},
)
'''


def write_tiny(folder: Path, learners: str, horizon: int = 200, name: str = "tiny.py") -> Path:
    path = folder / name
    path.write_text(TINY.format(learners=learners, horizon=horizon))
    return path


def run_cli(*argv) -> int:
    return main(["run", *map(str, argv), "--size", "tiny", "--quiet", "--no-cache"])


def test_copy_edit_and_run_an_experiment(tmp_path, capsys):
    """What the README says: copy experiments/default.py, change a learner and a grid, run it."""
    text = (ROOT / "experiments" / "default.py").read_text()
    text = text.replace('LearnerGrid("greedy", "greedy", hparams={"warm_start": [0, 200]},\n'
                        '                       labels=["greedy", "greedy+warm200"]),',
                        'LearnerGrid("ucb", "ucb", hparams={"alpha": [0.5, 2.0]}),')
    assert 'LearnerGrid("ucb", "ucb"' in text
    path = tmp_path / "my_experiment.py"
    path.write_text(text.replace('name="default"', 'name="mine"'))
    out = tmp_path / "out"
    assert run_cli(path, "--out", out, "--horizon", 150, "--seeds", 3) == 0
    res = load(out)
    labels = {r["learner"] for r in res["rows"]}
    assert labels == {"ucb[alpha=0.5]", "ucb[alpha=2.0]", "uniform", "oracle"}
    alphas = sorted(float(r["hp_alpha"]) for r in res["rows"] if r["learner"].startswith("ucb"))
    assert alphas == [0.5, 0.5, 2.0, 2.0]  # two populations
    assert res["curves"]["f1__ucb[alpha=0.5]__regret"].shape[:2] == (1, 3)
    assert {r["config_hash"] for r in res["rows"]} == {res["manifest"]["config_hash"]}
    if res["table"] is not None:
        assert len(res["table"]) == len(res["rows"])


def test_labels_are_safe_file_names(tmp_path):
    path = write_tiny(tmp_path, 'LearnerGrid("eps_t=c/t", "eps_decay")')
    out = tmp_path / "out"
    assert run_cli(path, "--out", out) == 0
    parts = list((out / "parts").iterdir())
    assert parts and all(p.is_file() and p.parent == out / "parts" for p in parts)
    assert any(p.name.startswith("f1__eps_t=c_t__") for p in parts)


def test_stale_parts_are_not_reused_after_a_code_change(tmp_path, monkeypatch, capsys):
    path = write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy")')
    out = tmp_path / "out"
    assert run_cli(path, "--out", out) == 0
    assert "computed in" in capsys.readouterr().out
    assert run_cli(path, "--out", out) == 0
    assert "f1 greedy: stored" in capsys.readouterr().out
    monkeypatch.setattr(results_mod, "code_identity", lambda: "jaxpa-changed-source")
    assert run_cli(path, "--out", out) == 0
    assert "f1 greedy: computed in" in capsys.readouterr().out


def test_resolved_hyperparameters_key_the_parts(tmp_path, capsys):
    """A default that changes (here: set explicitly to another value) is a different part."""
    out = tmp_path / "out"
    assert run_cli(write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy")'), "--out", out) == 0
    capsys.readouterr()
    edited = write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy", hparams={"ridge": 1000.0})')
    assert run_cli(edited, "--out", out) == 0
    assert "f1 greedy: computed in" in capsys.readouterr().out
    assert float(load(out)["rows"][0]["hp_ridge"]) == 1000.0


def test_corrupt_part_is_recomputed_with_a_message(tmp_path, capsys):
    path = write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy")')
    out = tmp_path / "out"
    assert run_cli(path, "--out", out) == 0
    before = load(out)["curves"]["f1__greedy__regret"]
    part = next((out / "parts").glob("f1__greedy__*.npz"))
    part.write_bytes(part.read_bytes()[:50])  # truncated by a kill
    capsys.readouterr()
    assert run_cli(path, "--out", out) == 0
    text = capsys.readouterr().out
    assert "unreadable or foreign" in text and "f1 greedy: computed in" in text
    np.testing.assert_array_equal(load(out)["curves"]["f1__greedy__regret"], before)


def test_outputs_cannot_mix(tmp_path):
    """An interrupted write of the final outputs leaves no manifest; a file from another run
    differs from the manifest: load refuses both."""
    path = write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy")')
    out = tmp_path / "out"
    assert run_cli(path, "--out", out) == 0
    assert load(out)["rows"]
    csv = (out / "summary.csv").read_bytes()
    (out / "summary.csv").write_bytes(csv.replace(b"greedy", b"GREEDY"))
    with pytest.raises(ResultsError, match="does not match the manifest"):
        load(out)
    store = Store(out)
    store.begin_outputs()                      # a new run starts writing its outputs ...
    store.write_text("report.md", "half", "0" * 16)   # ... and is killed here
    with pytest.raises(ResultsError, match="incomplete"):
        load(out)


def test_stale_temporary_files_are_removed(tmp_path):
    (tmp_path / "parts").mkdir()
    stale = [tmp_path / ".summary.csv.abc.tmp", tmp_path / "parts" / ".x.npz.def.tmp"]
    for p in stale:
        p.write_text("partial")
    Store(tmp_path)
    assert not any(p.exists() for p in stale)


def test_kill_midway_then_resume_computes_only_what_is_missing(tmp_path):
    """SIGKILL a job after its first population's parts are stored (a population's learners run
    as one program); the rerun loads those parts, computes the others, and no file is
    half-written."""
    learners = 'LearnerGrid("greedy", "greedy"), LearnerGrid("ucb", "ucb"), LearnerGrid("ts", "ts")'
    path = write_tiny(tmp_path, learners, horizon=3000)
    text = path.read_text()
    two = text.replace('populations=[Population("f1"', 'populations=[Population("f2", family="f2"'
                       ', options={"n_users": 2, "d": 2, "n_responses": 3}), Population("f1"')
    assert two != text
    path.write_text(two)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jaxpa", "run", str(path), "--size", "tiny", "--out", str(out),
           "--quiet", "--no-cache", "--cpu-devices", "1"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "parts").glob("*.npz")):
        time.sleep(0.2)
    assert list((out / "parts").glob("*.npz")), "no part was stored in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = {p.name for p in (out / "parts").glob("*.npz")}
    assert 1 <= len(stored) < 6 and not (out / "manifest.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [l for l in done.stdout.splitlines() if l.startswith(("  f1 ", "  f2 "))]
    assert sum("stored" in l for l in lines) == len(stored)
    assert sum("computed in" in l for l in lines) == 6 - len(stored)
    assert not list(out.rglob("*.tmp"))
    assert len(load(out)["rows"]) == 6


def test_two_processes_give_the_one_process_results(tmp_path):
    """The same command as 2 local processes under jax.distributed (gloo on the CPU), seeds split
    over their devices, process 0 writing: the same summary as one process."""
    path = write_tiny(tmp_path, 'LearnerGrid("greedy", "greedy"), LearnerGrid("uniform", "uniform")')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    base = [sys.executable, "-m", "jaxpa", "run", str(path), "--size", "tiny", "--quiet",
            "--no-cache", "--seeds", "5"]
    one = subprocess.run(base + ["--out", str(tmp_path / "one"), "--cpu-devices", "1"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen(base + ["--out", str(tmp_path / "two"), "--coordinator",
                                      f"127.0.0.1:{port}", "--num-processes", "2",
                                      "--process-id", str(i)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    a, b = load(tmp_path / "one"), load(tmp_path / "two")
    assert b["summary"]["metadata"]["processes"] == 2
    for key, value in a["curves"].items():
        if key.endswith("mistakes") or key.endswith("checkpoints"):
            np.testing.assert_array_equal(b["curves"][key], value)
        elif key.endswith("regret"):
            np.testing.assert_allclose(b["curves"][key], value, rtol=1e-6, atol=1e-4)


def test_readme_experiment_example_runs_and_loads(tmp_path):
    """The README's "Experiments are data" example, as printed: the file runs through the CLI
    (at a smaller horizon) and the loading block finds the curves it names."""
    import re
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Experiments are data", 1)[1]
    experiment, loading = re.findall(r"^```python\n(.*?)\n```$", section, re.S | re.M)[:2]
    assert experiment.startswith("# experiments/my_sweep.py")
    path = tmp_path / "my_sweep.py"
    path.write_text(experiment)
    out = tmp_path / "results" / "my_sweep"
    assert main(["run", str(path), "--size", "quick", "--horizon", "150", "--seeds", "2",
                 "--draws", "1", "--quiet", "--no-cache", "--out", str(out)]) == 0
    ns = {}
    exec(loading.replace('"results/my_sweep"', repr(str(out))), ns)
    assert ns["res"]["curves"]["holds__ucb[alpha=0.5]__regret"].shape[:2] == (1, 2)
    assert len(ns["res"]["rows"]) == 8  # 2 populations x 4 alphas
