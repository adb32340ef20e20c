"""greedy_exact (learners/exact.py): its estimate is the exact ridge MLE of the data it logged,
checked against SciPy (BFGS on the same penalised likelihood, float64) and, for Gaussian
feedback, the closed-form ridge solution; feedback without single-index rows is refused."""
import numpy as np
import pytest
import jax
import scipy.optimize

from jaxpa import InstanceError, make_feedback, make_learner, set_hparams
from jaxpa.learners.design import design
from jaxpa.runner import rollout
from tests.helpers import contract_instance

RIDGE = 0.7


def logged_rows(inst, rec):
    """Each logged round's row g = z(y) - z(y0) (bt_ref) and answer, in NumPy (float64)."""
    z = np.asarray(design(inst), np.float64)  # [N, M, K, p]
    u, x = np.asarray(rec.context.user), np.asarray(rec.context.prompt)
    y, ref = np.asarray(rec.action)[:, 0], np.asarray(inst.reference)[x]
    return z[u, x, y] - z[u, x, ref], np.asarray(rec.obs, np.float64)


def scipy_ridge_logit(G, o, ridge):
    """argmin sum_i softplus(g_i.theta) - o_i g_i.theta + ridge/2 |theta|^2 by BFGS
    (float64)."""
    def f(theta):
        m = G @ theta
        return np.sum(np.logaddexp(0.0, m) - o * m) + 0.5 * ridge * theta @ theta

    def grad(theta):
        return G.T @ (1.0 / (1.0 + np.exp(-(G @ theta))) - o) + ridge * theta

    res = scipy.optimize.minimize(f, np.zeros(G.shape[1]), jac=grad, method="BFGS",
                                  options=dict(gtol=1e-8, maxiter=10_000))
    assert np.linalg.norm(grad(res.x)) < 1e-6  # the optimum, whatever BFGS's own verdict
    return res.x


@pytest.mark.parametrize("n0,horizon", [(0, 150), (40, 400)])
def test_estimate_is_the_ridge_mle_of_the_log(n0, horizon):
    inst, fb = contract_instance(), make_feedback("bt_ref")
    learner = make_learner("greedy_exact", fb)
    hp = set_hparams(learner.default_hparams(), ridge=RIDGE, warm_start=n0)
    state, rec = jax.jit(lambda k: rollout(k, inst, fb, learner, hp, horizon))(jax.random.key(3))
    G, o = logged_rows(inst, rec)
    want = scipy_ridge_logit(G, o, RIDGE)
    np.testing.assert_allclose(state.theta, want, atol=2e-4 * (1 + np.abs(want).max()))
    # the statistics count every round once; the online-Newton greedy's estimate is another one
    assert float(state.plays.sum()) == horizon
    assert int(state.newton_steps) >= horizon


def test_scalar_estimate_is_closed_form_ridge():
    inst, fb = contract_instance(), make_feedback("scalar")
    learner = make_learner("greedy_exact", fb)
    hp = set_hparams(learner.default_hparams(), ridge=RIDGE, warm_start=30)
    state, rec = rollout(jax.random.key(1), inst, fb, learner, hp, 120)
    z = np.asarray(design(inst), np.float64)
    u, x, y = (np.asarray(a) for a in (rec.context.user, rec.context.prompt, rec.action[:, 0]))
    X, o = z[u, x, y], np.asarray(rec.obs, np.float64)
    s2 = fb.noise_std ** 2
    want = np.linalg.solve(X.T @ X / s2 + RIDGE * np.eye(X.shape[1]), X.T @ o / s2)
    np.testing.assert_allclose(state.theta, want, atol=2e-4 * (1 + np.abs(want).max()))


def test_feedback_without_rows_is_refused():
    with pytest.raises(InstanceError, match="greedy_exact.*single-index"):
        make_learner("greedy_exact", make_feedback("mnl", slate_size=3))
