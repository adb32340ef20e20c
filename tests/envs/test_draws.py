"""The random draws of a round: the one-uniform tie-break is uniform over the ties, draws are
float32 whatever the precision, and a response compared with itself teaches the learner exactly
nothing."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy import stats

from jaxpa.envs import draws
from jaxpa.envs.draws import random_argmax

KEYS = jax.random.split(jax.random.key(0), 4000)
VALUES = {
    "all_tied_64": jnp.zeros((64,), jnp.float32),
    "every_third": jnp.where(jnp.arange(10) % 3 == 0, 1.0, -jnp.inf),
    "one_max": jnp.where(jnp.arange(7) == 4, 0.5, 0.0),
    "last_two": jnp.array([0.0, 1.0, -2.0, 3.0, 3.0], jnp.float32),
    "single": jnp.zeros((1,), jnp.float32),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_random_argmax_is_uniform_over_the_ties(name):
    """Only maximal entries are drawn, each with probability 1/n (chi-square over 4,000 draws)."""
    values = VALUES[name]
    picks = np.asarray(jax.jit(jax.vmap(lambda k: random_argmax(k, values)))(KEYS))
    assert picks.dtype == np.int32
    ties = np.flatnonzero(np.asarray(values) == np.max(np.asarray(values)))
    assert set(np.unique(picks)) <= set(ties)
    counts = np.array([(picks == i).sum() for i in ties])
    if len(ties) > 1:
        assert stats.chisquare(counts).pvalue > 1e-4
    else:
        assert counts[0] == len(KEYS)


def test_random_argmax_is_deterministic_per_key_and_vmaps():
    values = jax.random.randint(jax.random.key(1), (500, 9), 0, 3).astype(jnp.float32)
    keys = KEYS[:500]
    batched = jax.jit(jax.vmap(random_argmax))(keys, values)
    single = [int(random_argmax(k, v)) for k, v in zip(keys[:20], values[:20])]
    np.testing.assert_array_equal(batched[:20], single)
    np.testing.assert_array_equal(np.asarray(values)[np.arange(500), np.asarray(batched)],
                                  np.asarray(values).max(axis=1))


def test_draws_are_float32_whatever_the_precision():
    """uniform01 ignores the instance dtype: the same stream in float32 and float64 runs."""
    u = draws.uniform01(jax.random.key(4), (3,))
    assert u.dtype == jnp.float32
    np.testing.assert_array_equal(u, jax.random.uniform(jax.random.key(4), (3,), jnp.float32))


def test_reference_against_itself_leaves_the_estimate_at_zero():
    """Rounds where greedy plays the reference y0 carry no information (MODEL.md §8): after such
    a first round theta must be exactly 0, so the next round's tie-break stays uniform."""
    from benchmarks.standard import standard_instance
    from jaxpa import make_learner, rollout
    from jaxpa.runner import seed_keys
    inst, learner = standard_instance(jax.random.key(0)), make_learner("greedy", "bt_ref")
    hp = learner.default_hparams()
    state, rec = jax.jit(jax.vmap(lambda k: rollout(k, inst, "bt_ref", learner, hp, 1)))(
        seed_keys(jax.random.key(7), 200))
    played_ref = np.asarray(rec.action[:, 0, 0] == 0)
    assert played_ref.sum() >= 5  # K = 10: about 1 seed in 10
    assert np.all(np.asarray(state.theta)[played_ref] == 0.0)
    assert np.all(np.abs(np.asarray(state.theta)[~played_ref]).max(axis=1) > 0)
