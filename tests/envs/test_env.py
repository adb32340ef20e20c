"""The environment's draws: users and prompts follow nu and rho exactly in distribution (checked
with SciPy's chi-square test), and zero-probability entries are never drawn."""
import numpy as np
import scipy.stats
import jax
import jax.numpy as jnp

from jaxpa.envs.draws import inverse_cdf
from jaxpa.envs.env import draw_context
from tests.helpers import as_instance, hand_instance


def test_inverse_cdf_matches_probabilities():
    p = np.array([0.0, 0.2, 0.0, 0.5, 0.3, 0.0], np.float32)
    n = 50_000
    draws = np.asarray(jax.jit(jax.vmap(lambda k: inverse_cdf(k, jnp.asarray(p))))(
        jax.random.split(jax.random.key(0), n)))
    assert draws.dtype == np.int32
    counts = np.bincount(draws, minlength=p.size)
    assert np.all(counts[p == 0] == 0)
    q = p[p > 0].astype(np.float64)
    res = scipy.stats.chisquare(counts[p > 0], n * q / q.sum())
    assert res.pvalue > 1e-3, res


def test_contexts_follow_nu_and_rho():
    inst = as_instance(hand_instance(user_probs=np.array([0.7, 0.3], np.float32),
                                     prompt_probs=np.array([[0.9, 0.1], [0.25, 0.75]],
                                                           np.float32)))
    n = 40_000
    ctx = jax.jit(jax.vmap(lambda k: draw_context(k, inst, 3, 17)))(
        jax.random.split(jax.random.key(1), n))
    joint = np.zeros((2, 2))
    np.add.at(joint, (np.asarray(ctx.user), np.asarray(ctx.prompt)), 1)
    expected = np.asarray(inst.user_probs, np.float64)[:, None] * np.asarray(inst.prompt_probs)
    expected = n * expected / expected.sum()
    assert scipy.stats.chisquare(joint.ravel(), expected.ravel()).pvalue > 1e-3
    users, prompts = np.asarray(ctx.user), np.asarray(ctx.prompt)
    np.testing.assert_array_equal(np.asarray(ctx.features), np.asarray(inst.features)[prompts])
    np.testing.assert_array_equal(np.asarray(ctx.head), np.asarray(inst.heads)[users])
    np.testing.assert_array_equal(np.asarray(ctx.reference), np.asarray(inst.reference)[prompts])
    # the round and the horizon reach the learner as given
    assert np.all(np.asarray(ctx.t) == 3) and np.all(np.asarray(ctx.horizon) == 17)


def test_single_prompt_and_absent_user_are_never_drawn_wrongly():
    """M = 1: the prompt is always 0; a user with nu = 0 never arrives."""
    rng = np.random.default_rng(2)
    inst = as_instance(hand_instance(features=rng.normal(size=(1, 3, 2)).astype(np.float32),
                                     reference=np.zeros(1, np.int32),
                                     user_probs=np.array([0.0, 1.0], np.float32),
                                     prompt_probs=np.ones((2, 1), np.float32)))
    ctx = jax.jit(jax.vmap(lambda k: draw_context(k, inst, 0, 1)))(
        jax.random.split(jax.random.key(3), 2000))
    assert np.all(np.asarray(ctx.prompt) == 0) and np.all(np.asarray(ctx.user) == 1)
