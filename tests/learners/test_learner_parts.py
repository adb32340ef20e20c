"""The pieces of the learner zoo, each against an independent computation: slates, MNL sampling
and likelihood (autodiff), bt_duel regret definitions, exploration schedules, UCB widths and the
Laplace posterior draws. (The bt_duel second-response rules are in tests/envs/test_feedback_duel.py.)"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_feedback
from jaxpa.envs.feedback.bt_duel import REGRETS
from jaxpa.learners import GLMHParams, top_slate
from jaxpa.learners.explore import (EpsilonHParams, WarmStartHParams, exploration_rate,
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
    a = np.asarray(jax.vmap(lambda k: MNL.uniform_action(k, 5))(
        jax.random.split(jax.random.key(2), 2000)))
    assert a.shape == (2000, 3) and a.dtype == np.int32
    assert np.all(np.sort(a, 1)[:, 1:] != np.sort(a, 1)[:, :-1])
    np.testing.assert_allclose(np.bincount(a[:, 0], minlength=5) / 2000, 0.2, atol=0.03)
    np.testing.assert_allclose(np.bincount(a[:, 2], minlength=5) / 2000, 0.2, atol=0.03)


def test_uniform_duel_is_two_independent_uniform_responses():
    duel = make_feedback("bt_duel")
    a = np.asarray(jax.vmap(lambda k: duel.uniform_action(k, 4))(
        jax.random.split(jax.random.key(12), 8000)))
    assert a.shape == (8000, 2) and a.dtype == np.int32
    joint = np.histogram2d(a[:, 0], a[:, 1], bins=4, range=[[0, 4], [0, 4]])[0] / 8000
    np.testing.assert_allclose(joint, 1 / 16, atol=0.012)  # pairs (y, y) included


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
    assert set(expected) == set(REGRETS)
    for kind, value in expected.items():
        fb = make_feedback("bt_duel", regret_kind=kind)
        assert float(fb.regret(r, action)) == pytest.approx(value)
        # average and weak regret are always reported, side by side with the chosen one
        extra = {n: float(v) for n, v in fb.extra_regrets(r, action).items()}
        assert set(extra) == {"average", "weak"} - {kind}
        for name, v in extra.items():
            assert v == pytest.approx(expected[name])
    assert make_feedback("bt_duel") == make_feedback("bt_duel", second="own",
                                                     regret_kind="average")
    assert hash(make_feedback("bt_duel")) == hash(make_feedback("bt_duel"))


def test_exploration_schedules():
    hp = EpsilonHParams(inner=GLMHParams(ridge=jnp.float32(1)), epsilon=jnp.float32(0.05),
                        epsilon_c=jnp.float32(3.0))
    t = jnp.arange(10)
    np.testing.assert_allclose(exploration_rate(hp, t),
                               np.minimum(1, 0.05 + 3.0 / (np.arange(10) + 1)), rtol=1e-6)
    assert float(exploration_rate(hp.replace(epsilon=jnp.float32(0.9)), jnp.int32(0))) == 1.0
    ws = WarmStartHParams(inner=GLMHParams(ridge=jnp.float32(1)), warm_start=jnp.int32(7),
                          warm_start_c=jnp.float32(4.0))
    for T in (1, 2, 1000, 123_457):
        n0 = exploration_rounds(ws, jnp.int32(T))
        assert n0.dtype == jnp.int32
        assert int(n0) == 7 + int(np.ceil(4.0 * np.log(T)))


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
    for name in ("bt_ref", "bt_duel", "mnl"):  # measured from the reference, which gets no bonus
        bt = ucb_scores(make_feedback(name), glm_state, z, jnp.int32(1), 0.7)
        np.testing.assert_allclose(bt, zn @ theta + 0.7 * norm(zn - zn[1]), rtol=1e-5, atol=1e-6)
        assert float(bt[1]) == pytest.approx(float(zn[1] @ theta), abs=1e-5)


def test_laplace_samples_have_the_posterior_covariance(glm_state):
    draws = np.asarray(posterior_samples(jax.random.key(7), glm_state, jnp.float32(1.5), 40_000))
    np.testing.assert_allclose(draws.mean(0), glm_state.theta, atol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), 1.5**2 * np.asarray(glm_state.V_inv), atol=0.02)
