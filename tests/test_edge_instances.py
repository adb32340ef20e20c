"""Edge instances that must work: K = 2, N = 1, M = 1, d = 1, k = 1, one-hot features, duplicated
responses (ties in reward), users with zero arrival probability."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import Instance, gaps, make_learner, validate
from jaxpa.runner import rollout, seed_keys


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


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("feedback", ["scalar", "bt_ref", "bt_duel"])
def test_edge_instances_run_cleanly(edge, feedback):
    inst = _edge(edge)
    validate(inst)
    keys = seed_keys(jax.random.key(0), 4)
    T = 200
    for name in ("greedy", "uniform", "oracle"):
        learner = make_learner(name, feedback)
        hp = learner.default_hparams()
        state, rec = jax.jit(jax.vmap(lambda k: rollout(learner, k, inst, hp, T)))(keys)
        regret = np.asarray(rec.regret)
        assert np.all(np.isfinite(regret)) and np.all(regret >= 0)
        assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state))
        if name == "oracle":
            assert np.all(regret == 0)
        users = np.asarray(rec.context.user)
        assert np.all(np.asarray(inst.user_probs)[users] > 0)  # absent users never arrive


def test_duplicated_responses_tie_and_cost_nothing():
    inst = _edge("duplicated")
    g = np.asarray(gaps(inst))
    np.testing.assert_array_equal(g[..., 1], g[..., 2])
    learner = make_learner("greedy", "bt_ref")
    hp = learner.default_hparams().replace(warm_start=jnp.int32(50))
    _, rec = jax.jit(jax.vmap(lambda k: rollout(learner, k, inst, hp, 400)))(
        seed_keys(jax.random.key(1), 8))
    # where 1 and 2 tie at the top, greedy alternates between them at no cost
    a = np.asarray(rec.action[:, -100:, 0])
    best = np.asarray(g[np.asarray(rec.context.user[:, -100:]), 0] == 0)
    assert np.mean(np.take_along_axis(best, a[..., None], -1)) > 0.9
