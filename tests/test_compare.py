"""``jaxpa compare``: argument checks before compiling, sweep grouping, and (slow) one tiny run."""
import argparse
import json

import numpy as np
import pytest
import jax.numpy as jnp

from jaxpa.envs.feedback import make_feedback
from jaxpa.envs.instance import InstanceError
from jaxpa.experiments import compare


def args(**kw):
    p = argparse.ArgumentParser()
    compare.add_arguments(p)
    a = p.parse_args([])
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_unknown_names_are_rejected_with_the_known_ones():
    with pytest.raises(InstanceError, match=r"unknown \['lints'\]; known: .*'ts'"):
        compare.check_args(args(learners="greedy,lints"))
    with pytest.raises(InstanceError, match=r"known: \['f1', 'f2'"):
        compare.check_args(args(families="f1,f9"))
    with pytest.raises(KeyError, match="known"):
        compare.check_args(args(feedback="pairwise"))
    with pytest.raises(InstanceError, match="seeds"):
        compare.check_args(args(seeds=1))
    families, names, feedback = compare.check_args(args(feedback="mnl", slate_size=4))
    assert feedback.n_actions == 4 and families == ["f1", "f2"]
    assert names == list(compare.DEFAULT_LEARNERS)


def test_learners_sharing_code_run_as_one_sweep():
    groups = compare.sweep_groups(["greedy", "eps_greedy", "eps_decay", "etc_log", "ucb"],
                                  make_feedback("bt_ref"), horizon=777, warm_start=50)
    by_labels = {tuple(labels): (learner, hp) for learner, labels, hp in groups}
    assert set(by_labels) == {("greedy", "greedy+warm50"), ("eps_greedy", "eps_decay"),
                              ("etc_log",), ("ucb",)}
    _, hp = by_labels[("greedy", "greedy+warm50")]
    np.testing.assert_array_equal(hp.warm_start, [0, 50])
    _, hp = by_labels[("eps_greedy", "eps_decay")]
    assert hp.epsilon.shape == (2,) and float(hp.epsilon[1]) == 0.0 and float(hp.c[1]) > 0
    _, hp = by_labels[("etc_log",)]
    assert float(hp.horizon) == 777.0 and hp.horizon.dtype == jnp.float32


def test_bt_duel_second_policy_per_learner():
    fb = make_feedback("bt_duel")
    assert compare.learner_options("ucb", fb, "own") == {"second": "optimistic"}
    assert compare.learner_options("ts_pop", fb, "own") == {"second": "sampled"}
    assert compare.learner_options("greedy", fb, "own") == {"second": "runner_up"}
    assert compare.learner_options("uniform", fb, "own") == {}
    assert compare.learner_options("ucb", make_feedback("bt_ref"), "own") == {}


@pytest.mark.slow
def test_tiny_run_writes_plot_table_and_curves(tmp_path, capsys):
    a = args(horizon=60, seeds=2, learners="greedy,eps_decay,ucb_pop", families="f2",
             out=str(tmp_path))
    assert compare.run(a) == 0
    assert (tmp_path / "compare.png").stat().st_size > 10_000
    table = json.loads((tmp_path / "summary.json").read_text())["table"]
    assert [r["learner"] for r in table] == ["greedy", "greedy+warm200", "eps_decay", "ucb_pop"]
    with np.load(tmp_path / "curves.npz") as data:
        assert data["f2__ucb_pop__regret"].shape == (2, data["checkpoints"].shape[0])
    assert "greedy+warm200" in capsys.readouterr().out
