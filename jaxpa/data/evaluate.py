"""Held-out evaluation of population vs personalized fits on a preference panel.

Split: each user's last ``n_test`` choices (by ``trial``) are held out; users with no more than
``n_test`` choices keep all of theirs for fitting. Metrics per held-out choice: log-likelihood of the
observed choice, and accuracy (1 if the model's best alternative was chosen; exact ties share the
credit, 1 / number of tied best alternatives). Users are the independent units (a user's choices are
correlated), so every mean is a mean over users of their per-user mean, with a Student-t 95%
confidence interval over users (SciPy); the personalized-minus-population difference is paired by
user. The shrinkage of the personalized fit is chosen on a validation split made from the training
part only (each user's last training choice), never on the held-out choices.
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
from scipy import stats

from jaxpa.data.fit import (ChoiceData, as_choice_data, choice_logprobs, fit_personalized,
                            fit_population, row_mask)
from jaxpa.data.panels import PanelError, PreferencePanel, subset
from jaxpa.envs.precision import full_precision

Array = jax.Array


def split_masks(panel: PreferencePanel, n_test: int = 1, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) as bool masks [n] over the panel's choices: among the choices of ``rows``
    (default all), each user's last ``n_test`` (by ``trial``) are test choices, unless the user
    has no more than ``n_test`` of them (then all are training choices)."""
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
        raise PanelError(f"n_test: expected a positive integer, got {n_test!r}")
    within = row_mask(panel, rows)
    user, trial = np.asarray(panel.user), np.asarray(panel.trial)
    order = np.lexsort((trial, user))
    order = order[within[order]]
    counts = np.bincount(user[within], minlength=panel.n_users)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_from_end = np.full(panel.n_choices, np.iinfo(np.int64).max)
    rank_from_end[order] = (counts[user[order]] - 1) - (np.arange(order.size) - start[user[order]])
    test = within & (rank_from_end < n_test) & (counts[user] > n_test)
    if not test.any():
        raise PanelError(f"split_last: no user of {panel.name} has more than {n_test} choices")
    return within & ~test, test


def split_last(panel: PreferencePanel, n_test: int = 1) -> tuple[PreferencePanel, PreferencePanel]:
    """(train, test): each user's last ``n_test`` choices form the test panel."""
    train, test = split_masks(panel, n_test)
    return subset(panel, train), subset(panel, test)


@jax.jit
@full_precision
def choice_metrics(heads: Array, data: ChoiceData, user: Array) -> tuple[Array, Array]:
    """Log-likelihood [n] and accuracy [n] of each choice under its user's head (heads [U, d])."""
    lp = jax.vmap(choice_logprobs)(heads[user], data.features, data.available)  # [n, J]
    loglik = jnp.take_along_axis(lp, data.choice[:, None], axis=-1)[:, 0]
    best = lp >= lp.max(axis=-1, keepdims=True)
    accuracy = jnp.take_along_axis(best, data.choice[:, None], axis=-1)[:, 0] / best.sum(axis=-1)
    return loglik, accuracy


def per_user_mean(values: np.ndarray, user: np.ndarray, n_users: int) -> np.ndarray:
    """Mean of ``values`` [n] within each user: [n_users] (NaN for users without a value)."""
    total = np.bincount(user, weights=values, minlength=n_users)
    count = np.bincount(user, minlength=n_users)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def mean_ci(per_user: np.ndarray, level: float = 0.95) -> dict:
    """Mean over users (NaNs dropped) with its Student-t confidence interval."""
    x = per_user[np.isfinite(per_user)]
    mean = float(x.mean())
    if x.size < 2 or np.all(x == x[0]):
        return {"mean": mean, "low": mean, "high": mean, "n_users": int(x.size)}
    low, high = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    return {"mean": mean, "low": float(low), "high": float(high), "n_users": int(x.size)}


def compare_models(test: PreferencePanel, models: dict[str, Array], baseline: str,
                   rows=None) -> dict:
    """Held-out metrics of each model (name -> heads [U, d], or [d] for one shared vector) on
    the choices of ``test`` (those of the mask ``rows`` [n] bool when given).

    Returns {model: {"loglik": ci, "accuracy": ci, "loglik_gain": ci, "accuracy_gain": ci}} where
    ci = mean_ci(...) over users, and the gains are paired differences against ``baseline``.
    """
    keep = row_mask(test, rows)
    data, user = as_choice_data(test), np.asarray(test.user)[keep]
    per_user = {}
    for name, heads in models.items():
        heads = jnp.broadcast_to(jnp.asarray(heads), (test.n_users, test.d))
        ll, acc = (np.asarray(x, np.float64)[keep] for x in choice_metrics(heads, data, test.user))
        per_user[name] = {"loglik": per_user_mean(ll, user, test.n_users),
                          "accuracy": per_user_mean(acc, user, test.n_users)}
    out = {}
    for name, m in per_user.items():
        out[name] = {k: mean_ci(v) for k, v in m.items()}
        for k in ("loglik", "accuracy"):
            out[name][f"{k}_gain"] = mean_ci(m[k] - per_user[baseline][k])
    return out


def select_shrinkage(train: PreferencePanel, grid, n_iter: int = 30,
                     rows=None) -> tuple[float, np.ndarray]:
    """Shrinkage with the best mean validation log-likelihood per user, the validation choices
    being each user's last training choice: (best value, mean validation loglik per grid value).
    ``rows`` [n] bool: the training choices of ``train`` (default all of them)."""
    grid = np.asarray(grid, np.float64)
    fit_part, val = split_masks(train, 1, rows)
    population = fit_population(train, n_iter=n_iter, rows=fit_part)
    heads, _ = fit_personalized(train, population, grid, n_iter=n_iter, rows=fit_part)
    data, user = as_choice_data(train), np.asarray(train.user)[val]
    scores = []
    for h in heads:  # [S] is small; the metric program compiles once
        ll = np.asarray(choice_metrics(h, data, train.user)[0], np.float64)[val]
        scores.append(np.nanmean(per_user_mean(ll, user, train.n_users)))
    scores = np.asarray(scores)
    return float(grid[int(np.argmax(scores))]), scores


def with_population(heads: Array, theta_pop: Array, thin=None) -> Array:
    """Heads [U, d] (or [S, U, d]) with the rows of the users marked in ``thin`` [U] bool
    replaced by theta_pop [d] (users served the population fit); ``thin`` None: unchanged."""
    if thin is None:
        return heads
    return jnp.where(jnp.asarray(thin, bool)[:, None], theta_pop, heads)


def fit_at(panel: PreferencePanel, population, shrinkage: float, grid_size: int, n_iter: int = 30,
           rows=None) -> tuple[Array, Array]:
    """``fit_personalized`` at one shrinkage value through the program of a grid of
    ``grid_size`` values (every entry set to it; a few more fits, one compilation less):
    (heads [U, d], gradient norms [U])."""
    heads, grad_norm = fit_personalized(panel, population, np.full(grid_size, shrinkage),
                                        n_iter=n_iter, rows=rows)
    return heads[0], grad_norm[0]


def heldout_comparison(panel: PreferencePanel, grid=(0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
                       n_test: int = 1, n_iter: int = 30, thin=None) -> dict:
    """The whole held-out study: split, population fit, shrinkage chosen on validation,
    personalized fit, metrics. ``thin`` [U] bool: users served the population fit (their
    personalized head is the population fit of the training part). Returns a dict with the fits
    (arrays) and the metric table.

    Every fit is on the whole panel with a mask of the choices it uses, and the personalized fit
    at the chosen shrinkage runs as the grid's program with every entry set to it: one compiled
    program per kind of fit, whatever the split."""
    grid = np.asarray(grid, np.float64)
    train, test = split_masks(panel, n_test)
    population = fit_population(panel, n_iter=n_iter, rows=train)
    best, val_scores = select_shrinkage(panel, grid, n_iter, rows=train)
    heads, grad_norm = fit_at(panel, population, best, grid.size, n_iter, rows=train)
    heads = with_population(heads, population.theta, thin)
    table = compare_models(panel, {"population": population.theta, "personalized": heads},
                           baseline="population", rows=test)
    return {"population": population, "heads": heads, "shrinkage": best, "grid": grid,
            "validation_loglik": val_scores, "max_grad_norm": float(jnp.max(grad_norm)),
            "n_train": int(train.sum()), "n_test": int(test.sum()), "table": table}
