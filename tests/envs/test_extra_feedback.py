"""A feedback model of your own needs no edits anywhere else.

``Thurstone`` below is defined here and nowhere in jaxpa: a comparison with the reference whose
answer is o ~ Bernoulli(Phi(r(y) - r(y0))) (Thurstone-Mosteller, the probit twin of bt_ref). It
subclasses ``SingleIndexFeedback`` and implements only its own methods (its row, its law, its
likelihood terms, its Fisher weight); nothing is registered. It then runs through the online
runner with a registry learner built for it, the user-diversity diagnostics (checked against a
hand computation with SciPy), and the offline protocol (logged by the runner, fitted by the ridge
MLE, checked against SciPy's minimiser of the same negative log-likelihood and against the
truth).
"""
import dataclasses

import numpy as np
import pytest
import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtr
from jax.scipy.stats import norm
from scipy import optimize, special, stats

from jaxpa import FEEDBACK_MODELS, SingleIndexFeedback, make_feedback, make_learner, simulate
from jaxpa.diagnostics import diagnose
from jaxpa.offline import (design_rows, gaussian_rate, instance_rows, log_dataset,
                           logging_policy, ridge_mle, ridge_mle_weighted, row_margins, row_probs,
                           sample_log, suboptimality, sufficient_stats, true_theta)
from tests.helpers import tiny_f1, tiny_f2


def _mills(m):
    """phi(m) / Phi(m), computed in logs (no 0/0 in the tails)."""
    return jnp.exp(norm.logpdf(m) - log_ndtr(m))


@dataclasses.dataclass(frozen=True)
class Thurstone(SingleIndexFeedback):
    """Row g = z(y) - z(y0) (exactly 0 when y = y0), answer Bernoulli(Phi(theta . g))."""

    name = "thurstone"

    def direction(self, z, action, reference):
        y = action[0]
        return jnp.where(y == reference, jnp.zeros_like(z[y]), z[y] - z[reference])

    def sample_index(self, key, m):
        return (jax.random.uniform(key, jnp.shape(m)) < ndtr(m)).astype(m.dtype)

    def index_terms(self, obs, m):
        """d/dm log p = o lam(m) - (1 - o) lam(-m) (lam the inverse Mills ratio) and the observed
        curvature -d2/dm2 log p = o lam(m) (m + lam(m)) + (1 - o) lam(-m) (lam(-m) - m) >= 0."""
        up, down = _mills(m), _mills(-m)
        return (obs * up - (1 - obs) * down,
                obs * up * (m + up) + (1 - obs) * down * (down - m))

    def nll(self, obs, m):
        return -(obs * log_ndtr(m) + (1 - obs) * log_ndtr(-m))

    def mean(self, m):
        return ndtr(m)

    def fisher(self, m):
        return jnp.exp(2 * norm.logpdf(m) - log_ndtr(m) - log_ndtr(-m))


MODEL = Thurstone()
RIDGE = 1.0


def test_the_model_is_not_registered_and_passes_as_it_is():
    assert MODEL.name not in FEEDBACK_MODELS and make_feedback(MODEL) is MODEL
    assert MODEL.label == "thurstone" and hash(MODEL) == hash(Thurstone())


def test_simulate_greedy_learns_far_faster_than_uniform():
    inst = tiny_f1()
    key = jax.random.key(0)
    greedy, uniform = make_learner("greedy", MODEL), make_learner("uniform", MODEL)
    assert greedy.feedback is MODEL
    runs = {name: simulate(key, inst, MODEL, learner, horizon=1500, n_seeds=4)
            for name, learner in (("greedy", greedy), ("uniform", uniform))}
    assert all(c.healthy.all() for c in runs.values())
    final = {name: c.regret[:, -1].mean() for name, c in runs.items()}
    assert final["uniform"] > 100  # about 0.2 a round
    assert final["greedy"] < 0.1 * final["uniform"], final


def _hand_sigma_star(inst):
    """Sigma* = sum_ux nu rho w_ux g g^T, g = z(y*) - z(y0), w = phi(m)^2 / (Phi(m) Phi(-m)),
    m = r(y*) - r(y0), and the decision directions z(y) - z(y*), in float64 with SciPy."""
    phi, heads = np.asarray(inst.features, np.float64), np.asarray(inst.heads, np.float64)
    W, ref = np.asarray(inst.W, np.float64), np.asarray(inst.reference)
    r = np.einsum("nk,kd,mjd->nmj", heads, W, phi)
    z = np.einsum("nk,mjd->nmjkd", heads, phi).reshape(r.shape + (-1,))  # h ⊗ phi, row-major
    omega = np.asarray(inst.user_probs)[:, None] * np.asarray(inst.prompt_probs)
    sigma, dirs = 0.0, []
    for u in range(r.shape[0]):
        for x in range(r.shape[1]):
            best, y0 = int(np.argmax(r[u, x])), int(ref[x])
            g = z[u, x, best] - z[u, x, y0]
            m = r[u, x, best] - r[u, x, y0]
            w = stats.norm.pdf(m) ** 2 / (stats.norm.cdf(m) * stats.norm.cdf(-m))
            sigma = sigma + omega[u, x] * w * np.outer(g, g)
            dirs.extend(z[u, x] - z[u, x, best])
    return sigma, np.array(dirs)


@pytest.mark.parametrize("family", [tiny_f1, tiny_f2])
def test_diagnostics_use_the_models_fisher_weights(family):
    inst = family()
    diag = diagnose(inst, MODEL)
    sigma, dirs = _hand_sigma_star(inst)
    np.testing.assert_allclose(diag.sigma_star, sigma, rtol=2e-4, atol=1e-6 * np.abs(sigma).max())
    # UD by hand: every decision direction lies in range(Sigma*)
    e, V = np.linalg.eigh(sigma)
    R = V[:, e > 1e-6 * e.max()]
    residual = np.linalg.norm(dirs - dirs @ R @ R.T) / np.linalg.norm(dirs)
    assert bool(diag.ud_holds) == (residual < 1e-4)
    assert bool(diag.ud_holds) == (family is tiny_f1)  # F1 diverse, F2 homogeneous
    assert diag.feedback == "thurstone"


def test_offline_mle_on_a_log_it_produced():
    """A uniform log of the model, rolled out by the runner: the ridge MLE under the model's nll
    equals SciPy's minimiser of the same objective in float64, and is close to the truth."""
    inst, n = tiny_f1(), 3000
    learner, hp = logging_policy("uniform", MODEL, n)
    rec = jax.jit(lambda k: log_dataset(k, inst, MODEL, learner, hp, n))(jax.random.key(5))
    X, y = design_rows(rec, MODEL)
    theta = np.asarray(ridge_mle(X, y, RIDGE, feedback=MODEL), np.float64)

    X64, y64 = np.asarray(X, np.float64), np.asarray(y, np.float64)
    assert set(np.unique(y64)) == {0.0, 1.0}

    def f(t):
        m = X64 @ t
        lp, lm = special.log_ndtr(m), special.log_ndtr(-m)
        up, down = np.exp(stats.norm.logpdf(m) - lp), np.exp(stats.norm.logpdf(m) - lm)
        grad = X64.T @ (-(y64 * up - (1 - y64) * down)) + RIDGE * t
        return -(y64 * lp + (1 - y64) * lm).sum() + 0.5 * RIDGE * t @ t, grad

    ref = optimize.minimize(f, np.zeros(X64.shape[1]), jac=True, method="BFGS",
                            options={"gtol": 1e-10}).x
    np.testing.assert_allclose(theta, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    truth = np.asarray(true_theta(inst), np.float64)
    assert np.linalg.norm(theta - truth) < 0.2 * np.linalg.norm(truth)


def test_sampled_log_and_predicted_rate():
    """A sampled uniform log (row laws, margins and answers from the model) compressed to
    sufficient statistics: its fit is close to the truth and decides every context right, and
    the model's Fisher information predicts a positive rate with everything identified."""
    inst, n = tiny_f1(), 4000
    X_all = instance_rows(inst, MODEL)
    q, margins = row_probs(inst, "uniform", MODEL), row_margins(inst, MODEL)

    @jax.jit
    def stats(key):
        ids, obs = sample_log(key, q, margins, n, MODEL)
        return sufficient_stats(ids, obs, X_all.shape[0], jnp.array([n]))

    counts, sums = stats(jax.random.key(2))
    theta = ridge_mle_weighted(X_all, sums[0] / jnp.maximum(counts[0], 1.0), counts[0], RIDGE,
                               feedback=MODEL)
    truth = np.asarray(true_theta(inst))
    assert np.linalg.norm(theta - truth) < 0.2 * np.linalg.norm(truth)
    assert float(suboptimality(inst, theta)) == 0.0
    rate = gaussian_rate(inst, "uniform", MODEL)
    assert rate["rate"] > 0 and rate["identified"]
