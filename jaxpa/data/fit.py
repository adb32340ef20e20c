"""Conditional-logit (Bradley–Terry for J = 2) fits of preference panels, in JAX.

Model: user u picks alternative j of a choice set with probability softmax_j(<theta_u, x_j>) over
the available alternatives (MODEL.md's BT / MNL feedback with W = I and the head theta_u).

- ``fit_population``: one reward vector for everyone, the (optionally ridge-regularised) maximum
  likelihood estimate: the usual single-reward-model fit.
- ``fit_personalized``: one head per user, the MAP estimate under a Gaussian prior centred on the
  population fit, theta_u ~ N(theta_pop, (shrinkage · I_pop)^-1), where I_pop is the population's
  Fisher information *per choice*. ``shrinkage`` therefore counts pseudo-choices: the prior weighs
  as much as that many average choices, whatever the units of the features. shrinkage -> inf gives
  the population fit for every user; small values give each user's own (noisy) MLE. The fits are
  ``vmap``ped over users on a padded [U, L] layout (``by_user``) and over shrinkage values.

Both minimise a strictly convex objective by Newton's method with a backtracking step (the best of
the steps 1, 1/2, ..., 1/2^11 that does not increase the objective beyond rounding), from the
prior mean, for a fixed
number of iterations; the final gradient norm is returned so callers can check convergence. The
parameters are rescaled internally by the RMS of each feature, which makes the Newton systems well
conditioned in float32.
"""
from __future__ import annotations

import functools

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.data.panels import PanelError, PreferencePanel
from jaxpa.envs.precision import full_precision

Array = jax.Array


@struct.dataclass
class ChoiceData:
    """Choices as arrays for a likelihood (leading axes [..., n]): features [..., n, J, d],
    available [..., n, J] bool, choice [..., n] int32, weight [..., n] (0 for padding rows)."""

    features: Array
    available: Array
    choice: Array
    weight: Array


def row_mask(panel: PreferencePanel, rows=None) -> np.ndarray:
    """The choices a fit uses as a bool mask [n] (``rows`` None: all of them)."""
    if rows is None:
        return np.ones(panel.n_choices, bool)
    mask = np.asarray(rows)
    if mask.dtype != bool or mask.shape != (panel.n_choices,):
        raise PanelError(f"rows: expected a bool mask of shape ({panel.n_choices},), got "
                         f"{mask.dtype} {mask.shape}")
    if not mask.any():
        raise PanelError("rows: the mask selects no choice")
    return mask


def as_choice_data(panel: PreferencePanel, rows=None) -> ChoiceData:
    """The whole panel as one sample: weight 1 on the choices of the mask ``rows`` [n] bool
    (default all), 0 on the others. Fits of several subsets of one panel given as masks share
    one compiled program (the shapes are the panel's)."""
    return ChoiceData(panel.features, panel.available, panel.choice,
                      jnp.asarray(row_mask(panel, rows), panel.features.dtype))


def by_user(panel: PreferencePanel, mask=None) -> tuple[ChoiceData, np.ndarray]:
    """Choices grouped by user and padded to the longest sequence, for vmapping over users.

    Returns (ChoiceData with leading [U, L], rows [U, L] int: panel row of each slot, -1 for
    padding). Users without a choice in the panel get only padding (their fit is the prior mean).
    ``mask`` [n] bool: the choices to use (default all); the others keep their slots with weight
    0, so every mask of one panel has the same layout.
    """
    user = np.asarray(panel.user)
    U = panel.n_users
    counts = np.bincount(user, minlength=U)
    L = max(int(counts.max()), 1)
    order = np.lexsort((np.asarray(panel.trial), user))
    rows = np.full((U, L), -1, np.int64)
    slot = np.arange(order.size) - np.concatenate([[0], np.cumsum(counts)[:-1]])[user[order]]
    rows[user[order], slot] = order
    take = jnp.asarray(np.maximum(rows, 0))
    real = jnp.asarray(rows >= 0)
    used = jnp.asarray((rows >= 0) & row_mask(panel, mask)[np.maximum(rows, 0)])
    data = ChoiceData(features=jnp.where(real[..., None, None], panel.features[take], 0.0),
                      available=jnp.where(real[..., None], panel.available[take], True),
                      choice=jnp.where(real, panel.choice[take], 0),
                      weight=used.astype(panel.features.dtype))
    return data, rows


def choice_logprobs(theta: Array, features: Array, available: Array) -> Array:
    """log P(j) = utility_j - logsumexp over available alternatives: [..., J] (-inf if absent)."""
    u = jnp.where(available, features @ theta, -jnp.inf)
    return u - jax.scipy.special.logsumexp(u, axis=-1, keepdims=True)


def chosen_logprob(theta: Array, data: ChoiceData) -> Array:
    """log P(chosen alternative) of every choice: [..., n]."""
    lp = choice_logprobs(theta, data.features, data.available)
    return jnp.take_along_axis(lp, data.choice[..., None], axis=-1)[..., 0]


def log_likelihood(theta: Array, data: ChoiceData) -> Array:
    """Weighted log-likelihood sum_i w_i log P_i(chosen): scalar."""
    return jnp.sum(data.weight * chosen_logprob(theta, data))


def _objective(theta, data, prior_mean, prior_precision):
    diff = theta - prior_mean
    return -log_likelihood(theta, data) + 0.5 * diff @ prior_precision @ diff


def loglik_derivatives(theta: Array, data: ChoiceData) -> tuple[Array, Array]:
    """Gradient [d] and negative Hessian [d, d] of the weighted log-likelihood, in closed form:
    sum_i w_i (x_i,chosen - xbar_i) and sum_i w_i sum_j p_ij (x_ij - xbar_i)(x_ij - xbar_i)^T,
    with p_i the choice probabilities over the available alternatives and xbar_i = sum_j p_ij
    x_ij (one pass over the data; autodiff's Hessian takes d passes and compiles d times the
    program). The Hessian is summed over centred features: the uncentred form
    sum p x x^T - xbar xbar^T cancels in float32."""
    x = data.features
    lp = choice_logprobs(theta, x, data.available)
    p = jnp.where(data.available, jnp.exp(lp), 0.0)  # [n, J]
    xbar = jnp.einsum("nj,njd->nd", p, x)
    chosen = jnp.take_along_axis(x, data.choice[:, None, None], axis=1)[:, 0]
    w = data.weight
    grad = jnp.einsum("n,nd->d", w, chosen - xbar)
    c = x - xbar[:, None, :]  # [n, J, d]
    info = jnp.einsum("n,nj,njd,nje->de", w, p, c, c)
    return grad, info


STEPS = 2.0 ** -np.arange(12)


@functools.partial(jax.jit, static_argnames=("n_iter",))
@full_precision
def newton_fit(data: ChoiceData, prior_mean: Array, prior_precision: Array, n_iter: int = 30):
    """argmin_theta -loglik(theta) + (theta - m)^T P (theta - m) / 2 by damped Newton from m.

    Returns (theta [d], norm of the objective's gradient at theta). Needs a positive definite
    Hessian (P > 0, or enough non-separable data for P = 0).
    """
    f = functools.partial(_objective, data=data, prior_mean=prior_mean,
                          prior_precision=prior_precision)
    steps = jnp.asarray(STEPS, prior_mean.dtype)

    def grad_hess(theta):
        # the gradient by autodiff (one backward pass; resolves the optimum ~5x more finely in
        # float32 than the closed form's sum of differences), the Hessian in closed form
        _, info = loglik_derivatives(theta, data)
        return jax.grad(f)(theta), info + prior_precision

    def step(theta, _):
        g, H = grad_hess(theta)
        delta = jnp.linalg.solve(0.5 * (H + H.T), g)
        candidates = theta[None, :] - steps[:, None] * delta[None, :]
        values = jax.vmap(f)(candidates)
        f0 = f(theta)
        # Largest step that does not increase the objective beyond float rounding: near the optimum
        # differences fall below the precision of f, and the full step must still be taken.
        slack = 16 * jnp.finfo(f0.dtype).eps * (jnp.abs(f0) + 1.0)
        ok = jnp.isfinite(values) & (values <= f0 + slack)
        return jnp.where(ok.any(), candidates[jnp.argmax(ok)], theta), None

    theta = jax.lax.scan(step, prior_mean, None, length=n_iter)[0]
    return theta, jnp.linalg.norm(grad_hess(theta)[0])


def feature_scale(panel: PreferencePanel, rows=None) -> Array:
    """RMS of each feature over the available alternatives (1 where a feature is all zero) of
    the choices in the mask ``rows`` (default all): [d]."""
    keep = row_mask(panel, rows)
    f = np.asarray(panel.features, np.float64)[keep]
    a = np.asarray(panel.available)[keep][..., None]
    rms = np.sqrt((f**2 * a).sum(axis=(0, 1)) / a.sum(axis=(0, 1)))
    return jnp.asarray(np.where(rms > 0, rms, 1.0), panel.features.dtype)


def _scaled(data: ChoiceData, scale: Array) -> ChoiceData:
    return data.replace(features=data.features / scale)


@struct.dataclass
class PopulationFit:
    """theta [d]: the estimate; information [d, d]: Fisher information per choice at theta (the
    negative Hessian of the mean log-likelihood); loglik: total log-likelihood; grad_norm: norm of
    the objective's gradient at theta; n: number of choices."""

    theta: Array
    information: Array
    loglik: Array
    grad_norm: Array
    n: int = struct.field(pytree_node=False, default=0)

    def std_errors(self) -> Array:
        """Asymptotic standard errors sqrt(diag((n · information)^-1)): [d]."""
        return jnp.sqrt(jnp.diag(jnp.linalg.inv(self.n * self.information)))


@functools.partial(jax.jit, static_argnames=("n_iter",))
@full_precision
def _fit_population(data: ChoiceData, scale: Array, ridge: Array, n_iter: int):
    d = scale.shape[0]
    zero = jnp.zeros((d,), scale.dtype)
    # ridge acts on theta itself: in the scaled coordinates theta * scale it is ridge / scale^2.
    theta_s, _ = newton_fit(_scaled(data, scale), zero, jnp.diag(ridge / scale**2), n_iter=n_iter)
    theta = theta_s / scale
    grad, info = loglik_derivatives(theta, data)
    info = 0.5 * (info + info.T) / jnp.sum(data.weight)
    return theta, info, log_likelihood(theta, data), jnp.linalg.norm(ridge * theta - grad)


def fit_population(panel: PreferencePanel, ridge: float = 0.0, n_iter: int = 30,
                   rows=None) -> PopulationFit:
    """One reward vector for all users: argmax loglik - ridge ||theta||^2 / 2 (ridge >= 0), on
    the choices of the mask ``rows`` [n] bool (default all; one compiled program per panel
    shape whatever the mask)."""
    if not ridge >= 0:
        raise PanelError(f"ridge: expected >= 0, got {ridge!r}")
    mask = row_mask(panel, rows)
    ridge = jnp.asarray(ridge, panel.features.dtype)
    theta, info, loglik, grad_norm = _fit_population(as_choice_data(panel, mask),
                                                     feature_scale(panel, mask), ridge,
                                                     n_iter=n_iter)
    return PopulationFit(theta=theta, information=info, loglik=loglik, grad_norm=grad_norm,
                         n=int(mask.sum()))


def fit_user(data: ChoiceData, theta_pop: Array, information: Array, scale: Array,
             shrinkage: Array, n_iter: int = 30) -> tuple[Array, Array]:
    """One user's MAP head (data: that user's choices [L, ...], padding rows with weight 0):
    argmin -loglik(theta) + shrinkage (theta - theta_pop)^T information (theta - theta_pop) / 2,
    solved in the coordinates theta * scale. Returns (theta [d], the objective's gradient norm in
    those coordinates)."""
    prior_mean = theta_pop * scale
    prior_precision = shrinkage * information / jnp.outer(scale, scale)
    theta_s, grad_norm = newton_fit(_scaled(data, scale), prior_mean, prior_precision, n_iter=n_iter)
    return theta_s / scale, grad_norm


@functools.partial(jax.jit, static_argnames=("n_iter",))
@full_precision
def _fit_users(data: ChoiceData, theta_pop, information, scale, shrinkage, n_iter: int):
    """Heads [U, d] and gradient norms [U] for one shrinkage value: fit_user vmapped over users."""
    fit = functools.partial(fit_user, n_iter=n_iter)
    return jax.vmap(fit, in_axes=(0, None, None, None, None))(data, theta_pop, information, scale,
                                                               shrinkage)


def fit_personalized(panel: PreferencePanel, population: PopulationFit, shrinkage,
                     n_iter: int = 30, scale: Array | None = None,
                     rows=None) -> tuple[Array, Array]:
    """Per-user MAP heads with shrinkage toward the population fit (module docstring).

    shrinkage: a positive scalar, or [S] values (vmapped). Returns (heads [U, d] or [S, U, d],
    gradient norms [U] or [S, U]); users absent from ``panel`` (or from the mask) get theta_pop.
    ``rows`` [n] bool: the choices to fit on (default all; the layout, hence the compiled
    program, is the panel's whatever the mask). ``scale`` (default: the feature RMS of those
    choices) only conditions the Newton systems.
    """
    s = np.asarray(shrinkage, np.float64)
    if s.ndim > 1 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise PanelError(f"shrinkage: expected positive finite value(s) (scalar or 1-D), got {s}")
    mask = row_mask(panel, rows)
    data, _ = by_user(panel, mask)
    scale = feature_scale(panel, mask) if scale is None else scale
    s = jnp.asarray(s, panel.features.dtype)
    fit = functools.partial(_fit_users, n_iter=n_iter)
    if s.ndim == 0:
        return fit(data, population.theta, population.information, scale, s)
    return jax.vmap(fit, in_axes=(None, None, None, None, 0))(
        data, population.theta, population.information, scale, s)


@jax.jit
@full_precision
def _heads_covariance(data: ChoiceData, heads, information, scale, shrinkage):
    """[U, d, d]: fit_user's Hessian (closed-form information + prior precision, in the scaled
    coordinates where Newton solves it) inverted at each head, mapped back to raw units."""
    outer = jnp.outer(scale, scale)

    def one(d_u, theta):
        _, info = loglik_derivatives(theta * scale, _scaled(d_u, scale))
        H = info + shrinkage * information / outer
        return jnp.linalg.inv(0.5 * (H + H.T)) / outer

    return jax.vmap(one)(data, heads)


def heads_covariance(panel: PreferencePanel, population: PopulationFit, heads, shrinkage,
                     scale: Array | None = None) -> np.ndarray:
    """Covariance [U, d, d] of the personalized heads [U, d] (``fit_personalized`` at one
    ``shrinkage``) from the fit's observed information: the inverse of the objective's Hessian
    at each head (the user's log-likelihood information plus the prior precision, the matrix
    Newton's method solves with), i.e. the Laplace approximation of the head's posterior under
    the prior; with shrinkage -> 0 the MLE's usual asymptotic covariance (checked against
    statsmodels' Logit in tests/audit/test_heads.py). Users without choices get the prior's
    covariance."""
    data, _ = by_user(panel)
    scale = feature_scale(panel) if scale is None else scale
    s = np.asarray(shrinkage, np.float64)
    if s.ndim or not np.isfinite(s) or s <= 0:
        raise PanelError(f"shrinkage: expected one positive finite value, got {shrinkage!r}")
    cov = _heads_covariance(data, jnp.asarray(heads, panel.features.dtype), population.information,
                            scale, jnp.asarray(s, panel.features.dtype))
    return np.asarray(cov, np.float64)
