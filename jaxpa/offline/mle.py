"""The exact ridge maximum-likelihood estimate on a logged dataset, by damped Newton in JAX.

Objective (p parameters, rows i with design x_i [p], response y_i, weight w_i >= 0):

    f(theta) = sum_i w_i l(y_i, x_i . theta) + ridge / 2 ||theta||^2
    logistic (bt_ref, bt_duel): l(y, m) = softplus(m) - y m    (y in [0, 1]; fractions allowed)
    gaussian (scalar):          l(y, m) = (y - m)^2 / (2 s^2)  (s = noise_std)

so LogisticRegression(C=1/ridge, fit_intercept=False) and Ridge(alpha=ridge s^2,
fit_intercept=False) of scikit-learn have the same minimiser. The weights make three things the
same call: a mask (w_i = [i < n], fitting the first n rows of a [n_max] log, so a grid of n is
one ``vmap`` over n without reshaping), plain data (w = 1), and sufficient statistics (one row
per distinct design with w = its count and y = its mean response: the same minimiser, since the
loss is linear in y and the Gaussian within-row scatter is a constant).

Method: a fixed number ``n_iter`` of Newton steps d = -H^-1 grad (Cholesky solve; H is positive
definite thanks to the ridge), each damped by backtracking: t = 1, 1/2, ..., down to 2^-(B-1),
until f(theta + t d) <= f(theta) + t grad.d / 4 + 16 eps |f(theta)| (Armijo; the slack absorbs
float rounding near the optimum, where the full step is right). The backtracking is a
``lax.while_loop``: near the optimum it stops at t = 1 after one evaluation. The
gaussian objective is quadratic: its first full step is exact. Everything is static-shaped and
pure, so fits jit and vmap (over seeds, over n, over ridge values).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

Array = jax.Array

LIKELIHOODS = ("logistic", "gaussian")
FEEDBACK_LIKELIHOOD = {"bt_ref": "logistic", "bt_duel": "logistic", "scalar": "gaussian"}
N_BACKTRACK = 12


def likelihood_of(feedback_name: str) -> str:
    """The likelihood of a feedback model's observations (mnl is not supported offline)."""
    if feedback_name not in FEEDBACK_LIKELIHOOD:
        raise ValueError(f"offline MLE: unsupported feedback {feedback_name!r}; known: "
                         f"{sorted(FEEDBACK_LIKELIHOOD)}")
    return FEEDBACK_LIKELIHOOD[feedback_name]


def _terms(likelihood: str, noise_std):
    """(loss l(y, m), dl/dm, d2l/dm2) of one row, elementwise."""
    if likelihood == "logistic":
        return (lambda y, m: jax.nn.softplus(m) - y * m,
                lambda y, m: jax.nn.sigmoid(m) - y,
                lambda y, m: jax.nn.sigmoid(m) * jax.nn.sigmoid(-m))
    if likelihood == "gaussian":
        s2 = jnp.square(noise_std)
        return (lambda y, m: 0.5 * jnp.square(y - m) / s2,
                lambda y, m: (m - y) / s2,
                lambda y, m: jnp.ones_like(m) / s2)
    raise ValueError(f"unknown likelihood {likelihood!r}; known: {LIKELIHOODS}")


def objective(theta: Array, X: Array, y: Array, weights: Array, ridge, likelihood: str = "logistic",
              noise_std=1.0) -> Array:
    """f(theta) of the module docstring: scalar."""
    loss, _, _ = _terms(likelihood, noise_std)
    return jnp.sum(weights * loss(y, X @ theta)) + 0.5 * ridge * jnp.sum(jnp.square(theta))


@functools.partial(jax.jit, static_argnames=("likelihood", "n_iter"))
def ridge_mle_weighted(X: Array, y: Array, weights: Array, ridge, *, likelihood: str = "logistic",
                       n_iter: int = 25, noise_std=1.0) -> Array:
    """argmin f(theta) for rows X [R, p], responses y [R], weights [R] (>= 0): theta [p].

    Jitted; vmap it over any argument (the compiled program is shared by every batch shape of the
    same static sizes). ``ridge`` > 0 is required for a unique solution (not checked inside jit).
    Products run at full float32 precision (GPUs default to TF32 matmuls).
    """
    with jax.default_matmul_precision("highest"):
        return _newton(X, y, weights, ridge, likelihood, n_iter, noise_std)


def _newton(X, y, weights, ridge, likelihood, n_iter, noise_std):
    """The damped Newton iterations of ``ridge_mle_weighted``."""
    loss, dloss, d2loss = _terms(likelihood, noise_std)
    p = X.shape[-1]
    dtype = X.dtype
    eye = jnp.eye(p, dtype=dtype)
    # per-row outer products once: the Hessian is then a [R] x [R, p*p] product, no [R, p] copies
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)
    slack = 16 * jnp.finfo(dtype).eps

    def f_at(m, theta):  # the objective from the margins m = X theta
        return jnp.sum(weights * loss(y, m)) + 0.5 * ridge * jnp.sum(jnp.square(theta))

    def step(theta, _):
        m = X @ theta
        grad = X.T @ (weights * dloss(y, m)) + ridge * theta
        H = (weights * d2loss(y, m)) @ outer
        H = 0.5 * (H.reshape(p, p) + H.reshape(p, p).T) + ridge * eye
        d = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H), grad)
        f0, Xd, slope = f_at(m, theta), X @ d, grad @ d
        bound = lambda t: f0 + 0.25 * t * slope + slack * (jnp.abs(f0) + 1.0)

        def backtrack(state):  # halve t while Armijo fails (a while_loop: usually 0 halvings)
            t, _, i = state
            return t / 2, f_at(m + 0.5 * t * Xd, theta + 0.5 * t * d), i + 1

        t, _, _ = jax.lax.while_loop(
            lambda s: (s[1] > bound(s[0])) & (s[2] < N_BACKTRACK - 1), backtrack,
            (jnp.ones((), dtype), f_at(m + Xd, theta + d), 0))
        return theta + t * d, None

    theta0 = jnp.zeros((p,), dtype)
    return jax.lax.scan(step, theta0, None, length=n_iter)[0]


def prefix_weights(n_rows: int, n, dtype=jnp.float32) -> Array:
    """The mask of the first n of n_rows rows as weights [n_rows] (n may be traced)."""
    return (jnp.arange(n_rows) < n).astype(dtype)


def ridge_mle(X: Array, y: Array, ridge=1.0, *, n=None, weights=None, likelihood: str = "logistic",
              n_iter: int = 25, noise_std=1.0) -> Array:
    """The ridge MLE on rows X [R, p], y [R]: theta [p].

    n: fit only the first n rows (the others are masked, so ``jax.vmap(lambda n: ridge_mle(X, y,
    ridge, n=n))(ns)`` fits every prefix of a log in one call); weights: optional [R] row weights
    (multiplied by the mask). Jittable and vmappable.
    """
    w = jnp.ones(X.shape[:1], X.dtype) if weights is None else jnp.asarray(weights, X.dtype)
    if n is not None:
        w = w * prefix_weights(X.shape[0], n, X.dtype)
    return ridge_mle_weighted(X, jnp.asarray(y, X.dtype), w, jnp.asarray(ridge, X.dtype),
                              likelihood=likelihood, n_iter=n_iter, noise_std=noise_std)


def check_fit_args(ridge, n_iter: int) -> None:
    """Host-side checks of the fit options, before anything compiles."""
    if not float(ridge) > 0:
        raise ValueError(f"ridge: expected > 0 (the MLE is unique only with a ridge), got "
                         f"{ridge!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter: expected a positive integer number of Newton steps, got "
                         f"{n_iter!r}")
