"""`jaxpa heads`: arguments are checked before anything compiles, the head-identifiability
diagnostic agrees with NumPy's rank, and a tiny run writes its table, curves and plot."""
import argparse
import json

import numpy as np
import pytest

from jaxpa import Instance, InstanceError
from jaxpa.cli import COMMANDS, build_parser
from jaxpa.envs.instance import optimal_responses
from jaxpa.experiments import unknown_heads as heads


def _args(*argv):
    p = argparse.ArgumentParser()
    heads.add_arguments(p)
    return p.parse_args(list(argv))


def test_registered_and_bad_arguments_fail_early():
    assert COMMANDS["heads"] == "jaxpa.experiments.unknown_heads"
    assert build_parser().parse_args(["heads", "--seeds", "3"]).seeds == 3
    for argv, match in [(["--learners", "greedy,lin_ucb"], "learners"),
                        (["--families", "f9"], "families"), (["--seeds", "0"], "seeds"),
                        (["--seeds", "1", "--instances", "1"], "seeds"),
                        (["--warm-start", "-1"], "warm-start"), (["--horizon", "0"], "horizon")]:
        with pytest.raises(InstanceError, match=match):
            heads.check_args(_args(*argv))
    with pytest.raises(KeyError, match="known"):
        heads.check_args(_args("--feedback", "likert"))


def _instance(rng, M, N=5, K=4, d=3, k=2):
    return Instance.create(features=rng.normal(size=(M, K, d)), reference=np.zeros(M, np.int32),
                           heads=rng.normal(size=(N, k)), W=rng.normal(size=(k, d)))


def test_head_identifiability_matches_the_rank():
    """sigma_min > 0 exactly when the user's optimal-play directions W g_u(x) span R^k."""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(6):
        inst = _instance(rng, M=3)
        ident = heads.head_identifiability(inst, "bt_ref")
        phi, W = np.asarray(inst.features, np.float64), np.asarray(inst.W, np.float64)
        ys = np.asarray(optimal_responses(inst))
        for u in range(inst.n_users):
            G = np.stack([W @ (phi[x, ys[u, x]] - phi[x, 0]) for x in range(inst.n_prompts)])
            rank = np.linalg.matrix_rank(G, tol=1e-6)
            seen.add(int(rank))
            assert (ident[u] > 1e-6) == (rank == inst.k)
            np.testing.assert_allclose(ident[u], np.linalg.svd(G, compute_uv=False)[inst.k - 1]
                                       if rank == inst.k else 0.0, rtol=1e-5, atol=1e-6)
    assert {1, 2} <= seen  # both cases were met
    one_prompt = _instance(rng, M=1)  # a single prompt cannot identify a head in R^2
    assert np.all(heads.head_identifiability(one_prompt, "bt_ref") == 0)
    assert np.all(np.isnan(heads.head_identifiability(one_prompt, "bt_duel")))


def test_tiny_run_writes_its_outputs(tmp_path, capsys):
    args = _args("--horizon", "40", "--seeds", "2", "--instances", "2", "--families", "f1",
                 "--learners", "unknown_heads,uniform", "--out", str(tmp_path))
    assert heads.run(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["learner"] for r in summary["table"]] == ["unknown_heads", "uniform"]
    assert len(summary["per_instance"]) == 2
    with np.load(tmp_path / "curves.npz") as curves:
        R = curves["f1__unknown_heads__regret"]
        assert R.shape == (4, curves["checkpoints"].shape[0]) and np.all(np.isfinite(R))
    assert (tmp_path / "heads.png").stat().st_size > 0
    assert "R(T)/uniform" in capsys.readouterr().out
