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
                            fit_population)
from jaxpa.data.panels import PanelError, PreferencePanel, subset

Array = jax.Array


def split_last(panel: PreferencePanel, n_test: int = 1) -> tuple[PreferencePanel, PreferencePanel]:
    """(train, test): each user's last ``n_test`` choices form the test panel."""
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
        raise PanelError(f"n_test: expected a positive integer, got {n_test!r}")
    user, trial = np.asarray(panel.user), np.asarray(panel.trial)
    order = np.lexsort((trial, user))
    counts = np.bincount(user, minlength=panel.n_users)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_from_end = np.empty(panel.n_choices, np.int64)
    rank_from_end[order] = (counts[user[order]] - 1) - (np.arange(order.size) - start[user[order]])
    test = (rank_from_end < n_test) & (counts[user] > n_test)
    if not test.any():
        raise PanelError(f"split_last: no user of {panel.name} has more than {n_test} choices")
    return subset(panel, ~test), subset(panel, test)


@jax.jit
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


def compare_models(test: PreferencePanel, models: dict[str, Array], baseline: str) -> dict:
    """Held-out metrics of each model (name -> heads [U, d], or [d] for one shared vector).

    Returns {model: {"loglik": ci, "accuracy": ci, "loglik_gain": ci, "accuracy_gain": ci}} where
    ci = mean_ci(...) over users, and the gains are paired differences against ``baseline``.
    """
    data, user = as_choice_data(test), np.asarray(test.user)
    per_user = {}
    for name, heads in models.items():
        heads = jnp.broadcast_to(jnp.asarray(heads), (test.n_users, test.d))
        ll, acc = (np.asarray(x, np.float64) for x in choice_metrics(heads, data, test.user))
        per_user[name] = {"loglik": per_user_mean(ll, user, test.n_users),
                          "accuracy": per_user_mean(acc, user, test.n_users)}
    out = {}
    for name, m in per_user.items():
        out[name] = {k: mean_ci(v) for k, v in m.items()}
        for k in ("loglik", "accuracy"):
            out[name][f"{k}_gain"] = mean_ci(m[k] - per_user[baseline][k])
    return out


def select_shrinkage(train: PreferencePanel, grid, n_iter: int = 30) -> tuple[float, np.ndarray]:
    """Shrinkage with the best mean validation log-likelihood per user, the validation choices
    being each user's last training choice: (best value, mean validation loglik per grid value)."""
    grid = np.asarray(grid, np.float64)
    fit_part, val = split_last(train, 1)
    population = fit_population(fit_part, n_iter=n_iter)
    heads, _ = fit_personalized(fit_part, population, grid, n_iter=n_iter)
    data, user = as_choice_data(val), np.asarray(val.user)
    scores = []
    for h in heads:  # [S] is small; the metric program compiles once
        ll, _ = choice_metrics(h, data, val.user)
        scores.append(np.nanmean(per_user_mean(np.asarray(ll, np.float64), user, val.n_users)))
    scores = np.asarray(scores)
    return float(grid[int(np.argmax(scores))]), scores


def heldout_comparison(panel: PreferencePanel, grid=(0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
                       n_test: int = 1, n_iter: int = 30) -> dict:
    """The whole held-out study: split, population fit, shrinkage chosen on validation,
    personalized fit, metrics. Returns a dict with the fits (arrays) and the metric table."""
    train, test = split_last(panel, n_test)
    population = fit_population(train, n_iter=n_iter)
    best, val_scores = select_shrinkage(train, grid, n_iter)
    heads, grad_norm = fit_personalized(train, population, best, n_iter=n_iter)
    table = compare_models(test, {"population": population.theta, "personalized": heads},
                           baseline="population")
    return {"population": population, "heads": heads, "shrinkage": best, "grid": np.asarray(grid),
            "validation_loglik": val_scores, "max_grad_norm": float(jnp.max(grad_norm)),
            "n_train": train.n_choices, "n_test": test.n_choices, "table": table}
