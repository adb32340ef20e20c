"""The pieces of the learner zoo, each against an independent computation: slates, MNL sampling
and likelihood (autodiff), bt_duel regret definitions, exploration schedules, UCB widths, the
Laplace posterior draws, and the bt_duel second-response policies."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import DUEL_REGRETS, make_feedback
from jaxpa.learners.base import top_slate, uniform_action
from jaxpa.learners.explore import (EpsGreedyHParams, EtcHParams, exploration_rate,
                                    exploration_rounds)
from jaxpa.learners.glm import GLMState
from jaxpa.learners.optimistic import ucb_scores, widths
from jaxpa.learners.thompson import posterior_samples

MNL = make_feedback("mnl", slate_size=3)


def test_top_slate_serves_first_then_best_others():
    scores = jnp.array([0.3, 2.0, -1.0, 1.0, 0.5])
    slate = jax.jit(jax.vmap(lambda k, s, first: top_slate(k, s, first, 3), (0, None, None)))
    slates = slate(jax.random.split(jax.random.key(0), 8), scores, jnp.int32(2))
    np.testing.assert_array_equal(slates, np.tile([2, 1, 3], (8, 1)))
    tied = jnp.zeros(5)  # ties: the rest is a uniformly random choice of distinct responses
    slates = np.asarray(slate(jax.random.split(jax.random.key(1), 400), tied, jnp.int32(0)))
    assert np.all(slates[:, 0] == 0)
    assert np.all(slates[:, 1] != slates[:, 2]) and np.all(slates[:, 1:] != 0)
    counts = np.bincount(slates[:, 1:].ravel(), minlength=5)[1:]
    assert counts.min() > 0.7 * counts.mean()


def test_uniform_slate_is_distinct_and_uniform():
    a = np.asarray(jax.vmap(lambda k: uniform_action(MNL, k, 5))(
        jax.random.split(jax.random.key(2), 2000)))
    assert a.shape == (2000, 3)
    assert np.all(np.sort(a, 1)[:, 1:] != np.sort(a, 1)[:, :-1])
    np.testing.assert_allclose(np.bincount(a[:, 0], minlength=5) / 2000, 0.2, atol=0.03)


def test_mnl_sample_frequencies_are_the_softmax():
    r = jnp.array([0.5, -0.3, 1.2, 0.0])
    slate = jnp.array([2, 0, 3], jnp.int32)
    obs = jax.vmap(lambda k: MNL.sample(k, r, slate, jnp.int32(0)))(
        jax.random.split(jax.random.key(3), 40_000))
    assert obs.dtype == jnp.int32
    freq = np.bincount(np.asarray(obs), minlength=3) / 40_000
    expected = np.exp(np.asarray(r)[[2, 0, 3]]) / np.exp(np.asarray(r)[[2, 0, 3]]).sum()
    np.testing.assert_allclose(freq, expected, atol=0.01)
    assert float(MNL.regret(r, slate)) == 0.0
    assert float(MNL.regret(r, jnp.array([0, 2, 3]))) == pytest.approx(0.7)


def test_mnl_newton_terms_are_the_gradient_and_hessian_of_the_likelihood():
    key = jax.random.key(4)
    z = jax.random.normal(key, (5, 4))
    theta = jax.random.normal(jax.random.fold_in(key, 1), (4,))
    slate, obs = jnp.array([3, 1, 4], jnp.int32), jnp.int32(2)
    loglik = lambda th: jax.nn.log_softmax(z[slate] @ th)[obs]
    grad, factors = MNL.newton_terms(theta, z, slate, jnp.int32(0), obs)
    assert factors.shape == (3, 4)
    auto_grad, auto_hess = jax.jit(lambda th: (jax.grad(loglik)(th), jax.hessian(loglik)(th)))(
        theta)
    np.testing.assert_allclose(grad, auto_grad, atol=1e-5)
    np.testing.assert_allclose(factors.T @ factors, -auto_hess, atol=1e-5)


def test_bt_duel_regret_definitions():
    r = jnp.array([1.0, 0.2, -0.4])
    action = jnp.array([1, 2], jnp.int32)
    expected = {"average": 1.0 - (0.2 - 0.4) / 2, "weak": 0.8, "strong": 1.4, "first": 0.8}
    assert set(expected) == set(DUEL_REGRETS)
    for kind, value in expected.items():
        assert float(make_feedback("bt_duel", regret=kind).regret(r, action)) == pytest.approx(value)
    assert make_feedback("bt_duel") is make_feedback("bt_duel")


def test_exploration_schedules():
    hp = EpsGreedyHParams(ridge=jnp.float32(1), epsilon=jnp.float32(0.05), c=jnp.float32(3.0))
    t = jnp.arange(10)
    np.testing.assert_allclose(exploration_rate(hp, t), np.minimum(1, 0.05 + 3.0 / (np.arange(10) + 1)),
                               rtol=1e-6)
    etc = EtcHParams(ridge=jnp.float32(1), m=jnp.float32(7), c=jnp.float32(4.0),
                     horizon=jnp.float32(1000))
    assert float(exploration_rounds(etc)) == 7 + np.ceil(4.0 * np.log(1000))


@pytest.fixture(scope="module")
def glm_state():
    rng = np.random.default_rng(5)
    B = rng.normal(size=(4, 4))
    return GLMState(theta=jnp.asarray(rng.normal(size=4), jnp.float32),
                    V_inv=jnp.asarray(np.linalg.inv(np.eye(4) + B @ B.T), jnp.float32))


def test_ucb_scores(glm_state):
    z = jax.random.normal(jax.random.key(6), (5, 4))
    V_inv, theta = np.asarray(glm_state.V_inv, np.float64), np.asarray(glm_state.theta)
    zn = np.asarray(z, np.float64)
    norm = lambda D: np.sqrt(np.einsum("kp,pq,kq->k", D, V_inv, D))
    np.testing.assert_allclose(widths(glm_state.V_inv, z), norm(zn), rtol=1e-5)
    scalar = ucb_scores(make_feedback("scalar"), glm_state, z, jnp.int32(1), 0.7)
    np.testing.assert_allclose(scalar, zn @ theta + 0.7 * norm(zn), rtol=1e-5, atol=1e-6)
    bt = ucb_scores(make_feedback("bt_ref"), glm_state, z, jnp.int32(1), 0.7)
    np.testing.assert_allclose(bt, zn @ theta + 0.7 * norm(zn - zn[1]), rtol=1e-5, atol=1e-6)
    assert float(bt[1]) == pytest.approx(float(zn[1] @ theta), abs=1e-5)  # no bonus for y0


def test_laplace_samples_have_the_posterior_covariance(glm_state):
    draws = np.asarray(posterior_samples(jax.random.key(7), glm_state, jnp.float32(1.5), 40_000))
    np.testing.assert_allclose(draws.mean(0), glm_state.theta, atol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), 1.5**2 * np.asarray(glm_state.V_inv), atol=0.02)


def test_own_second_responses():
    """optimistic: with a confident estimate the challenger is the first response itself (no
    regret); with a wide one it is another response. sampled: a second posterior draw."""
    from jaxpa import Instance, make_learner
    from jaxpa.envs.env import draw_context
    from jaxpa.learners.optimistic import UcbHParams
    from jaxpa.learners.thompson import TsHParams
    rng = np.random.default_rng(8)
    inst = Instance.create(features=rng.normal(size=(1, 4, 3)), reference=np.zeros(1, np.int32),
                           heads=np.ones((1, 1)), W=np.zeros((1, 3)))
    ctx = draw_context(jax.random.key(0), inst, 0)
    theta = jnp.asarray(rng.normal(size=3), jnp.float32)
    ucb = make_learner("ucb", "bt_duel", second="optimistic")
    hp = UcbHParams(ridge=jnp.float32(1), alpha=jnp.float32(1), growth=jnp.float32(0))
    keys = jax.random.split(jax.random.key(1), 50)
    acts = lambda learner, state, hp: np.asarray(jax.jit(jax.vmap(
        lambda k: learner.act(k, state, ctx, hp)))(keys))
    sure = acts(ucb, GLMState(theta=theta, V_inv=1e-6 * jnp.eye(3)), hp)
    best = int(np.argmax(np.asarray(ctx.features) @ np.asarray(theta)))
    assert np.all(sure == best)
    wide = acts(ucb, GLMState(theta=theta, V_inv=1e3 * jnp.eye(3)), hp)
    assert np.all(wide[:, 0] != wide[:, 1])
    ts = make_learner("ts", "bt_duel", second="sampled")
    loose = acts(ts, GLMState(theta=jnp.zeros(3), V_inv=jnp.eye(3)),
                 TsHParams(ridge=jnp.float32(1), scale=jnp.float32(1)))
    assert 0 < np.mean(loose[:, 0] == loose[:, 1]) < 1
