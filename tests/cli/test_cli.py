"""Every command-line flag and input file is checked up front: a one-line error and exit status 2,
never a traceback, nothing computed or written; 0 is a value, not "use the default"."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jaxpa.cli import main

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(capsys, rc, *needles):
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize("argv, needles", [
    (["run", "--horizon", "0"], ["--horizon", "positive"]),
    (["run", "--seeds", "0"], ["--seeds", "positive"]),
    (["run", "--draws", "0"], ["--draws"]),
    (["run", "--seed", "-1"], ["--seed"]),
    (["run", "--seed", str(2**40)], ["--seed"]),
    (["run", "--horizon", str(2**31)], ["--horizon", "int32"]),
    (["run", "--size", "huge"], ["--size", "huge"]),
    (["run", "no_such_experiment"], ["unknown experiment"]),
    (["run", "missing_file.py"], ["not found"]),
    (["online", "--horizon", "abc"], ["--horizon"]),
    (["reproduce", "--skip", "e9"], ["--skip"]),
    (["diagnose", "--family", "f9"], ["unknown family"]),
    (["diagnose", "--family", "f1", "--param", "foo=3"], ["foo"]),
    (["diagnose", "--family", "f1", "--param", "n_users=abc"], ["n_users"]),
    (["diagnose", "--family", "f1", "--param", "n_users=0"], ["n_users"]),
    (["diagnose", "--family", "f1", "--param", "n_responses=1"], ["n_responses"]),
    (["diagnose", "--family", "f1", "--param", "novalue"], ["NAME=VALUE"]),
    (["diagnose", "--family", "f1", "--feedback", "nope"], ["nope"]),
    (["diagnose", "--family", "f1", "--feedback", "mnl:slate_size=1"], ["slate_size"]),
    (["diagnose", "--family", "f1", "--rtol", "2"], ["rtol"]),
    (["diagnose", "--family", "f1", "--json", "/no/such/folder/x.json"], ["--json"]),
])
def test_bad_arguments_fail_in_one_line(argv, needles, capsys):
    one_line_error(capsys, main(argv), *needles)


def test_out_that_is_a_file_fails_before_anything_runs(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("x")
    one_line_error(capsys, main(["run", "--size", "tiny", "--out", str(f)]), "not a folder")
    assert f.read_text() == "x"


def test_bad_experiment_files(tmp_path, capsys):
    (tmp_path / "empty.py").write_text("x = 1\n")
    one_line_error(capsys, main(["run", str(tmp_path / "empty.py")]), "EXPERIMENT")
    (tmp_path / "broken.py").write_text("def (:\n")
    one_line_error(capsys, main(["run", str(tmp_path / "broken.py")]), "syntax error")
    (tmp_path / "badlearner.py").write_text(
        "from jaxpa.experiment import *\nEXPERIMENT = Experiment(name='b', title='b', "
        "populations=[Population('f1', family='f1')], learners=[LearnerGrid('x', 'nope')], "
        "sizes={'default': Size(100, 2)})\n")
    one_line_error(capsys, main(["run", str(tmp_path / "badlearner.py")]), "unknown learner")
    (tmp_path / "badhp.py").write_text(
        "from jaxpa.experiment import *\nEXPERIMENT = Experiment(name='b', title='b', "
        "populations=[Population('f1', family='f1')], "
        "learners=[LearnerGrid('g', 'greedy', hparams={'ridge': 0.0})], "
        "sizes={'default': Size(100, 2)})\n")
    one_line_error(capsys, main(["run", str(tmp_path / "badhp.py")]), "ridge")


@pytest.mark.parametrize("content, needle", [
    (b"PK\x03\x04 truncated", "not a readable"),
    (b"features,heads\n1,2\n", "not a readable"),
])
def test_diagnose_rejects_bad_instance_files(tmp_path, capsys, content, needle):
    path = tmp_path / "inst.npz"
    path.write_bytes(content)
    one_line_error(capsys, main(["diagnose", "--instance", str(path)]), needle)


def test_diagnose_rejects_npy_and_string_fields(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros(3))
    one_line_error(capsys, main(["diagnose", "--instance", str(tmp_path / "a.npy")]),
                   "single array")
    np.savez(tmp_path / "s.npz", features=np.zeros((1, 2, 2)), reference=np.zeros(1, int),
             heads=np.array([["a", "b"]]), W=np.zeros((2, 2)), user_probs=np.ones(1),
             prompt_probs=np.ones((1, 1)))
    one_line_error(capsys, main(["diagnose", "--instance", str(tmp_path / "s.npz")]),
                   "not numeric")


def test_check_validates_without_running(tmp_path, capsys):
    assert main(["run", "online", "--check", "--out", str(tmp_path / "o")]) == 0
    assert "online:" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()


def test_list_names_everything(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("greedy", "unknown_heads", "f3", "bt_duel", "mnl", "default", "online"):
        assert name in out


FLAG_VALUES = st.one_of(st.integers(-2**40, 2**40).map(str), st.sampled_from(
    ["", "abc", "0", "-1", "1e9", "nan", "quick", "default", "tiny", "3.5"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.lists(st.tuples(st.sampled_from(["--horizon", "--seeds", "--draws", "--seed",
                                                 "--size", "--cpu-devices"]), FLAG_VALUES),
                      max_size=4),
       experiment=st.sampled_from(["default", "online", "nope", "x.py"]))
def test_fuzz_run_flags_never_raise(flags, experiment, tmp_path, capsys):
    """Any combination of run flags: validated (--check) with status 0, or a one-line error with
    status 2; never another exception."""
    argv = ["run", experiment, "--check", "--out", str(tmp_path / "o")]
    for flag, value in flags:
        argv += [flag, value]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc in (0, 2), err
    assert "Traceback" not in err
    if rc == 2:
        assert len(err.strip().splitlines()) == 1, err
