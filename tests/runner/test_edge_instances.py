"""Edge instances that must work: K = 2, N = 1, M = 1, d = 1, k = 1, one-hot features, duplicated
responses (ties in reward), users with zero arrival probability; with greedy (a warm start, so
uniform play too), uniform play and the oracle. Each edge costs one compiled program per feedback
model, so CI runs every edge and every model once (a rotation) and the slow tier the rest of the
matrix."""
import numpy as np
import pytest
import jax

from jaxpa import Instance, gaps, make_learner, set_hparams, validate
from jaxpa.runner import rollout, seed_keys

LEARNERS = ("greedy", "uniform", "oracle")


def _edge(name):
    rng = np.random.default_rng(1)
    if name == "minimal":  # K = 2, N = 1, M = 1, d = 1, k = 1
        return Instance.create(features=[[[1.0], [-0.5]]], reference=[1], heads=[[1.0]],
                               W=[[0.8]])
    if name == "one_hot":  # phi(x, y) = e_y, K = d = 3
        return Instance.create(features=np.eye(3)[None].repeat(2, 0), reference=[0, 2],
                               heads=rng.normal(size=(3, 2)), W=rng.normal(size=(2, 3)))
    if name == "duplicated":  # responses 1 and 2 identical: exact ties in reward
        f = rng.normal(size=(1, 3, 2))
        f[0, 2] = f[0, 1]
        return Instance.create(features=f, reference=[0], heads=rng.normal(size=(2, 2)),
                               W=rng.normal(size=(2, 2)))
    if name == "absent_users":  # users 1 and 3 never arrive
        return Instance.create(features=rng.normal(size=(2, 3, 2)), reference=[0, 1],
                               heads=rng.normal(size=(4, 2)), W=rng.normal(size=(2, 2)),
                               user_probs=[0.5, 0.0, 0.5, 0.0])
    raise KeyError(name)


EDGES = ["minimal", "one_hot", "duplicated", "absent_users"]


FEEDBACKS = ["scalar", "bt_ref", "bt_duel"]
ROTATION = [("minimal", "bt_duel"), ("one_hot", "scalar"), ("duplicated", "bt_ref"),
            ("absent_users", "bt_duel")]


def test_rotation_covers_every_edge_and_model():
    assert {e for e, _ in ROTATION} == set(EDGES) and {f for _, f in ROTATION} == set(FEEDBACKS)


@pytest.mark.parametrize("edge, feedback", ROTATION)
def test_edge_instances_run_cleanly(edge, feedback):
    _run_cleanly(edge, feedback)


@pytest.mark.slow
@pytest.mark.parametrize("edge, feedback", [(e, f) for e in EDGES for f in FEEDBACKS
                                            if (e, f) not in ROTATION])
def test_edge_instances_run_cleanly_every_model(edge, feedback):
    _run_cleanly(edge, feedback)


def _run_cleanly(edge, feedback):
    inst = _edge(edge)
    validate(inst)
    keys = seed_keys(jax.random.key(0), 4)
    T = 200
    learners = [make_learner(name, feedback) for name in LEARNERS]
    hps = [l.default_hparams() for l in learners]
    hps[0] = set_hparams(hps[0], warm_start=20)  # greedy: 20 rounds of uniform play first

    @jax.jit
    def run_all(keys):  # the three learners in one program (one compile per edge and model)
        return [jax.vmap(lambda k: rollout(k, inst, feedback, l, hp, T))(keys)
                for l, hp in zip(learners, hps)]

    for name, (state, rec) in zip(LEARNERS, run_all(keys)):
        regret = np.asarray(rec.regret)
        assert np.all(np.isfinite(regret)) and np.all(regret >= 0)
        assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state))
        if name == "oracle":
            assert np.all(regret == 0)
        users = np.asarray(rec.context.user)
        assert np.all(np.asarray(inst.user_probs)[users] > 0)  # absent users never arrive
        actions = np.asarray(rec.action)
        assert np.all((actions >= 0) & (actions < inst.n_responses))


def test_duplicated_responses_tie_and_cost_nothing():
    inst = _edge("duplicated")
    g = np.asarray(gaps(inst))
    np.testing.assert_array_equal(g[..., 1], g[..., 2])
    learner = make_learner("greedy", "bt_ref")
    hp = set_hparams(learner.default_hparams(), warm_start=50)
    _, rec = jax.jit(jax.vmap(lambda k: rollout(k, inst, "bt_ref", learner, hp, 400)))(
        seed_keys(jax.random.key(1), 8))
    # where 1 and 2 tie at the top, greedy alternates between them at no cost
    a = np.asarray(rec.action[:, -100:, 0])
    best = np.asarray(g[np.asarray(rec.context.user[:, -100:]), 0] == 0)
    assert np.mean(np.take_along_axis(best, a[..., None], -1)) > 0.9
    tied_top = best[..., 1]  # rounds whose user has 1 and 2 (identical) at the top
    assert tied_top.any()
    assert (a[tied_top] == 1).any() and (a[tied_top] == 2).any()  # both duplicates get played
