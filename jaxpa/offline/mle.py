"""The exact ridge maximum-likelihood estimate on a logged dataset, by damped Newton in JAX.

Objective (p parameters, rows i with design x_i [p], response y_i, weight w_i >= 0):

    f(theta) = sum_i w_i l(y_i, x_i . theta) + ridge / 2 ||theta||^2,   l(y, m) = feedback.nll(y, m)

The solver (derivatives, damped Newton steps with backtracking) is learners/ridge_fit.py, shared
with the learner that refits this MLE every round (``greedy_exact``). For the built-in models:

    bt_ref, bt_duel: l(y, m) = softplus(m) - y m     (y in [0, 1]; fractions allowed)
    scalar:          l(y, m) = (y - m)^2 / (2 s^2)   (s = the model's noise_std)

so LogisticRegression(C=1/ridge, fit_intercept=False) and Ridge(alpha=ridge s^2,
fit_intercept=False) of scikit-learn have the same minimiser. The weights make three things the
same call: a mask (w_i = [i < n], fitting the first n rows of a [n_max] log, so a grid of n is
one ``vmap`` over n without reshaping), plain data (w = 1), and sufficient statistics (one row
per distinct design with w = its count and y = its mean response; ridge_fit's docstring says when
that is exact). A fixed number ``n_iter`` of Newton steps from 0; everything is static-shaped and
pure, so fits jit and vmap (over seeds, over n, over ridge values); the feedback model is a static
argument.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.precision import full_precision
from jaxpa.learners.ridge_fit import newton_fit

Array = jax.Array


def offline_model(feedback: str | FeedbackModel) -> FeedbackModel:
    """The feedback model (by name or as it is), refused before anything compiles when its logs
    have no single-index row form (``FeedbackModel.require_offline``: mnl)."""
    model = make_feedback(feedback)
    model.require_offline()
    return model


def objective(theta: Array, X: Array, y: Array, weights: Array, ridge,
              feedback: str | FeedbackModel = "bt_ref") -> Array:
    """f(theta) of the module docstring: scalar."""
    model = offline_model(feedback)
    return (jnp.sum(weights * model.nll(y, X @ theta))
            + 0.5 * ridge * jnp.sum(jnp.square(theta)))


def ridge_mle_weighted(X: Array, y: Array, weights: Array, ridge, *,
                       feedback: str | FeedbackModel = "bt_ref", n_iter: int = 25) -> Array:
    """argmin f(theta) for rows X [R, p], responses y [R], weights [R] (>= 0): theta [p].

    feedback: the model whose ``nll`` is the per-row loss (a ``FeedbackModel`` or its name; a
    model without single-index rows raises ValueError). Jitted (the model and n_iter are static);
    vmap it over any other argument (the compiled program is shared by every batch shape of the
    same static sizes). ``ridge`` > 0 is required for a unique solution (not checked inside jit:
    ``check_fit_args``). Products run at full float32 precision (GPUs default to TF32 matmuls).
    """
    return _ridge_mle(X, y, weights, ridge, feedback=offline_model(feedback), n_iter=n_iter)


@functools.partial(jax.jit, static_argnames=("feedback", "n_iter"))
@full_precision
def _ridge_mle(X, y, weights, ridge, *, feedback, n_iter):
    return newton_fit(X, y, weights, ridge, feedback, n_iter)


def prefix_weights(n_rows: int, n, dtype=jnp.float32) -> Array:
    """The mask of the first n of n_rows rows as weights [n_rows] (n may be traced)."""
    return (jnp.arange(n_rows) < n).astype(dtype)


def ridge_mle(X: Array, y: Array, ridge=1.0, *, feedback: str | FeedbackModel = "bt_ref", n=None,
              weights=None, n_iter: int = 25) -> Array:
    """The ridge MLE on rows X [R, p], y [R] under the feedback model's likelihood: theta [p].

    n: fit only the first n rows (the others are masked, so ``jax.vmap(lambda n: ridge_mle(X, y,
    ridge, feedback=fb, n=n))(ns)`` fits every prefix of a log in one call); weights: optional
    [R] row weights (multiplied by the mask). Jittable and vmappable.
    """
    w = jnp.ones(X.shape[:1], X.dtype) if weights is None else jnp.asarray(weights, X.dtype)
    if n is not None:
        w = w * prefix_weights(X.shape[0], n, X.dtype)
    return ridge_mle_weighted(X, jnp.asarray(y, X.dtype), w, jnp.asarray(ridge, X.dtype),
                              feedback=feedback, n_iter=n_iter)


def check_fit_args(ridge, n_iter: int) -> None:
    """Host-side checks of the fit options, before anything compiles."""
    if not float(ridge) > 0:
        raise ValueError(f"ridge: expected > 0 (the MLE is unique only with a ridge), got "
                         f"{ridge!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter: expected a positive integer number of Newton steps, got "
                         f"{n_iter!r}")
