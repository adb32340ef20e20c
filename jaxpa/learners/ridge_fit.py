"""The exact ridge maximum-likelihood fit, by damped Newton: one home for the offline MLE
(offline/mle.py) and for the learner that refits it every round (learners/exact.py).

Objective (p parameters, rows i with design x_i [p], response y_i, weight w_i >= 0):

    f(theta) = sum_i w_i l(y_i, x_i . theta) + ridge / 2 ||theta||^2,   l(y, m) = feedback.nll(y, m)

The per-row loss is the feedback model's negative log-likelihood of an answer y at the margin m
(``SingleIndexFeedback.nll``, up to a constant in m). Rows may be sufficient statistics: one row
per distinct design with w = its count and y = its mean response, since
sum_i l(y_i, m) = c l(mean y, m) + (a constant in m) over the c rows of one design when the nll is
affine in the answer (Bernoulli answers: bt_*) and for the Gaussian (the scatter is the constant).

Derivatives: the loss is separable over rows, so dl/dm of every row is ``jax.grad`` of the sum of
the nll over the rows, and d2l/dm2 is ``jax.grad`` of the sum of those (forward-over-reverse, no
[R, R] Jacobian). The curvature enters the Newton matrix clipped at 0.

One step: d = -H^-1 grad (Cholesky solve; H is positive definite thanks to the ridge), damped by
backtracking t = 1, 1/2, ..., 2^-(B-1) until f(theta + t d) <= f(theta) + t grad.d / 4 +
16 eps |f(theta)| (Armijo; the slack absorbs float rounding near the optimum). ``newton_fit`` takes
a fixed number of steps (a scan); ``newton_converge`` steps until the step is below a tolerance
(a while_loop: warm-started at the previous estimate it usually stops after one or two steps).
Everything is static-shaped and pure (jit, vmap); the feedback model is a static argument.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

N_BACKTRACK = 12


def row_terms(feedback, y: Array, m: Array) -> tuple[Array, Array]:
    """(dl/dm, d2l/dm2) of every row, elementwise ([R] each), with l = ``feedback.nll``."""
    dloss = jax.grad(lambda mm: jnp.sum(feedback.nll(y, mm)))
    return dloss(m), jax.grad(lambda mm: jnp.sum(dloss(mm)))(m)


def row_outer(X: Array) -> Array:
    """The rows' outer products, [R, p * p]: the Hessian is then one [R] x [R, p*p] product."""
    p = X.shape[-1]
    return (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)


def newton_step(theta: Array, X: Array, y: Array, weights: Array, ridge, feedback,
                outer: Array | None = None) -> Array:
    """One damped Newton step on f (module docstring) from theta [p]: the step t d, [p]."""
    p = X.shape[-1]
    dtype = X.dtype
    outer = row_outer(X) if outer is None else outer
    slack = 16 * jnp.finfo(dtype).eps

    def f_at(m, th):  # the objective from the margins m = X th
        return jnp.sum(weights * feedback.nll(y, m)) + 0.5 * ridge * jnp.sum(jnp.square(th))

    m = X @ theta
    dl, d2l = row_terms(feedback, y, m)
    grad = X.T @ (weights * dl) + ridge * theta
    H = (weights * jnp.maximum(d2l, 0.0)) @ outer
    H = 0.5 * (H.reshape(p, p) + H.reshape(p, p).T) + ridge * jnp.eye(p, dtype=dtype)
    d = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H), grad)
    f0, Xd, slope = f_at(m, theta), X @ d, grad @ d
    bound = lambda t: f0 + 0.25 * t * slope + slack * (jnp.abs(f0) + 1.0)

    def backtrack(state):  # halve t while Armijo fails (a while_loop: usually 0 halvings)
        t, _, i = state
        return t / 2, f_at(m + 0.5 * t * Xd, theta + 0.5 * t * d), i + 1

    t, _, _ = jax.lax.while_loop(
        lambda s: (s[1] > bound(s[0])) & (s[2] < N_BACKTRACK - 1), backtrack,
        (jnp.ones((), dtype), f_at(m + Xd, theta + d), 0))
    return t * d


def newton_fit(X: Array, y: Array, weights: Array, ridge, feedback, n_iter: int,
               theta0: Array | None = None) -> Array:
    """``n_iter`` damped Newton steps from theta0 (default 0): theta [p]."""
    outer = row_outer(X)
    theta0 = jnp.zeros(X.shape[-1:], X.dtype) if theta0 is None else theta0

    def step(theta, _):
        return theta + newton_step(theta, X, y, weights, ridge, feedback, outer), None

    return jax.lax.scan(step, theta0, None, length=n_iter)[0]


def newton_converge(X: Array, y: Array, weights: Array, ridge, feedback, theta0: Array,
                    max_iter: int = 30, tol: float = 1e-5) -> tuple[Array, Array]:
    """Damped Newton steps from theta0 until a step's size is at most tol (1 + |theta|) (at most
    max_iter steps): (theta [p], steps taken int32)."""
    outer = row_outer(X)

    def cond(s):
        _, size, i = s
        return (size > tol) & (i < max_iter)

    def body(s):
        theta, _, i = s
        d = newton_step(theta, X, y, weights, ridge, feedback, outer)
        new = theta + d
        return new, jnp.sqrt(d @ d) / (1.0 + jnp.sqrt(new @ new)), i + 1

    theta, _, steps = jax.lax.while_loop(
        cond, body, (theta0, jnp.asarray(jnp.inf, theta0.dtype), jnp.int32(0)))
    return theta, steps
