"""Which decision directions a fitted population covers worst, which users add most coverage, and
what one more user is worth in choices: the audit's coverage computations (pure NumPy on the
outputs of ``diagnose``; instances are calibrated ones, so k = d and W = I).

- ``worst_directions``: eigenvectors of Sigma* restricted to D (Q_D^T Sigma* Q_D, D's orthonormal
  basis from ``diagnose``) with the smallest eigenvalues: the decision-relevant parameter
  directions optimal play identifies least. For bt_ref this is the matrix whose smallest
  eigenvalue is lambda_D (diagnostics docstring). A direction v in the design z = h ⊗ phi is a
  k x d matrix V (row i: head coordinate i, column j: feature j); its leading singular pair
  (a, b) reads "users whose taste points along a value the feature contrast b": b names the
  data's features (in standardized units).
- ``greedy_pick``: users added one at a time, each the one that most increases log det of the
  summed optimal-play information on D (D-optimal design); lambda_D of the subset's information
  (the mean over its users, as ``coverage.user_coverage``) after each pick.
- ``exchange_rate``: from SubOpt on a (users n, budget B) grid, the budget the fewest-users arm
  needs to match the most-users arm at a given budget.
"""
from __future__ import annotations

import functools

import numpy as np
import jax

from jaxpa.diagnostics import Diagnostics, optimal_play_factors
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance
from jaxpa.learners.design import design

Array = jax.Array


def _D(diag: Diagnostics) -> np.ndarray:
    return np.asarray(diag.D_basis, np.float64)[:, np.asarray(diag.D_mask)]


def orient(taste: np.ndarray, heads: np.ndarray | None, probs: np.ndarray | None) -> float:
    """+1 or -1: the sign that makes the taste vector [k] agree with the users it describes
    (heads [N, k], weights probs [N]): the sign of the users' weighted mean projection on it,
    or, when that is zero (tastes symmetric about it), of the most aligned user's projection."""
    if heads is None:
        return 1.0
    proj = np.asarray(heads, np.float64) @ taste
    w = np.full(proj.size, 1.0 / proj.size) if probs is None else np.asarray(probs, np.float64)
    mean = float(w @ proj)
    if abs(mean) > 1e-9 * max(float(np.max(np.abs(proj))), 1e-300):
        return float(np.sign(mean))
    return float(np.sign(proj[np.argmax(np.abs(proj))]) or 1.0)


def worst_directions(diag: Diagnostics, feature_names, n: int = 3, heads=None,
                     probs=None) -> list[dict]:
    """The ``n`` least covered directions of D (module docstring), each as a dict: eigenvalue,
    relative (to lambda_max(Sigma*)), feature_contrast and user_taste (name -> weight, unit
    vectors), share (of the direction's norm in its leading singular pair). The direction's sign
    is arbitrary: the contrast is shown with its largest weight positive, and the taste is
    oriented (``orient``) to agree with the users' heads [N, k] (weights probs [N]) when given."""
    Q = _D(diag)
    if Q.shape[1] == 0:
        return []
    sigma = np.asarray(diag.sigma_star, np.float64)
    e, V = np.linalg.eigh(Q.T @ sigma @ Q)
    d = len(feature_names)
    out = []
    for i in range(min(n, e.size)):
        M = (Q @ V[:, i]).reshape(-1, d)
        a, s, bt = np.linalg.svd(M)
        sign = np.sign(bt[0][np.argmax(np.abs(bt[0]))])  # largest feature weight positive
        taste = a[:, 0] * orient(a[:, 0], heads, probs)
        out.append({"eigenvalue": float(max(e[i], 0.0)),
                    "relative": float(max(e[i], 0.0) / max(float(diag.lambda_max), 1e-300)),
                    "feature_contrast": dict(zip(feature_names, (sign * bt[0]).tolist())),
                    "user_taste": dict(zip(feature_names, taste.tolist())),
                    "share": float(s[0] ** 2 / np.sum(s**2))})
    return out


@functools.partial(jax.jit, static_argnames=("feedback", "featurizer"))
def _factors(inst: Instance, feedback: FeedbackModel, featurizer: str) -> Array:
    return optimal_play_factors(inst, design(inst, featurizer), feedback)[0]


def per_user_information(inst: Instance, diag: Diagnostics,
                         feedback: str | FeedbackModel = "bt_ref") -> np.ndarray:
    """Each user's optimal-play information on D, sum_x rho(x|u) F_ux^T F_ux in D's basis:
    [N, r, r] (r = dim D); feedback: the model ``diag`` was computed for."""
    F = np.asarray(_factors(inst, make_feedback(feedback), diag.featurizer), np.float64)
    per_user = np.einsum("nm,nmrp,nmrq->npq", np.asarray(inst.prompt_probs, np.float64), F, F)
    Q = _D(diag)
    return np.einsum("pi,npq,qj->nij", Q, per_user, Q)


def greedy_pick(inst: Instance, diag: Diagnostics, max_steps: int = 50,
                feedback: str | FeedbackModel = "bt_ref") -> dict:
    """Greedy D-optimal choice of users (module docstring). Returns order [T] (user indices),
    lambda_D [T] after each pick, covered [T] (lambda_D > diag.tol), users_to_cover (picks until
    covered, None if never), tol."""
    info = per_user_information(inst, diag, feedback)
    N, r = info.shape[0], info.shape[1]
    tol = float(diag.tol)
    steps = min(max_steps, N)
    eps = max(tol, 1e-12) * np.eye(r)
    total, chosen, lam = np.zeros((r, r)), [], []
    free = np.ones(N, bool)
    for t in range(steps):
        cand = total[None] + info + eps[None]
        score = np.where(free, np.linalg.slogdet(cand)[1], -np.inf)
        u = int(np.argmax(score))
        chosen.append(u)
        free[u] = False
        total = total + info[u]
        lam.append(float(np.linalg.eigvalsh(total / len(chosen))[0]) if r else np.inf)
    lam = np.maximum(np.asarray(lam), 0.0)
    covered = lam > tol
    return {"order": np.asarray(chosen), "lambda_D": lam, "covered": covered, "tol": tol,
            "users_to_cover": int(np.argmax(covered)) + 1 if covered.any() else None}


def exchange_rate(users, budgets, subopt: np.ndarray, budget_index: int = -2) -> dict:
    """Compare the arms with the fewest and the most users at budget ``budgets[budget_index]``.

    users [G_n], budgets [G_b] increasing, subopt [G_n, G_b, R]. Returns the budget B, the two
    arms' users and mean SubOpt, and ``few_needs``: the budget the fewest-users arm needs to
    reach the most-users arm's SubOpt at B (log-linear interpolation on the grid; None if it
    never does within the grid), with ``choices_per_extra_user`` = (few_needs - B) /
    (n_most - n_few): how many extra choices of existing users one more user is worth."""
    users, budgets = np.asarray(users), np.asarray(budgets, np.float64)
    mean = np.asarray(subopt, np.float64).mean(axis=-1)  # [G_n, G_b]
    j = budget_index % budgets.size
    target, few = mean[-1, j], mean[0]
    need = None
    ok = np.flatnonzero(few <= target)
    if ok.size:
        i = int(ok[0])
        if i == 0:
            need = float(budgets[0])
        else:  # interpolate log budget against SubOpt between the last miss and the first hit
            x0, x1, y0, y1 = np.log(budgets[i - 1]), np.log(budgets[i]), few[i - 1], few[i]
            w = 0.0 if y1 == y0 else (y0 - target) / (y0 - y1)
            need = float(np.exp(x0 + w * (x1 - x0)))
    extra = None if need is None else (need - budgets[j]) / max(int(users[-1] - users[0]), 1)
    return {"budget": float(budgets[j]), "n_few": int(users[0]), "n_most": int(users[-1]),
            "subopt_few": float(few[j]), "subopt_most": float(target), "few_needs": need,
            "choices_per_extra_user": extra, "max_budget": float(budgets[-1])}
