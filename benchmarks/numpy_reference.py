"""The benchmark's baseline: greedy ridge MLE under ``bt_ref`` feedback in plain NumPy, vectorized
over seeds. The same algorithm as jaxpa's ``make_learner("greedy", "bt_ref")`` (learners/glm.py):
one online Newton step per round with a Sherman-Morrison update of V^-1 (one V^-1 product a
round, as in ``glm_update_rank_one``), ties broken at random, uniform play for the first
``warm_start`` rounds (the ``warm_start`` wrapper of learners/explore.py, with warm_start_c = 0),
Bernoulli feedback sigmoid(r(y) - r(y0)).

It is written the way a careful researcher would without JAX: float32 like jaxpa's default, all
seeds advanced together with batched einsums, scores from the [k, d] view of theta (never forming
the [S, K, k*d] design), the rank-one update in place, users and prompts drawn by inverse CDF.

``draws`` replaces NumPy's random stream by given per-round draws (for instance the ones jaxpa
makes, see tests/runner/test_numpy_reference.py), so both implementations can be compared seed
by seed.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Draws = Callable[[int], dict]  # t -> {user, prompt, tie_u, uniform_action, feedback_u}


def numpy_draws(rng: np.random.Generator, inst: dict, n_seeds: int, dtype=np.float32) -> Draws:
    """Per-round draws from NumPy's generator: users and prompts by inverse CDF, the tie-break
    uniform [S], a uniform response index for warm-start rounds, the feedback uniform."""
    user_cdf = np.cumsum(inst["user_probs"], dtype=np.float64)
    prompt_cdf = np.cumsum(inst["prompt_probs"], axis=1, dtype=np.float64)
    N, M = prompt_cdf.shape
    K = inst["features"].shape[1]

    def draw(t: int) -> dict:
        user = np.minimum(np.searchsorted(user_cdf, rng.random(n_seeds), side="right"), N - 1)
        if M == 1:
            prompt = np.zeros(n_seeds, np.intp)
        else:
            u = rng.random(n_seeds)[:, None]
            prompt = np.minimum((prompt_cdf[user] <= u).sum(axis=1), M - 1)
        return dict(user=user, prompt=prompt, tie_u=rng.random(n_seeds, dtype=np.float32),
                    uniform_action=rng.integers(0, K, n_seeds),
                    feedback_u=rng.random(n_seeds, dtype=dtype))

    return draw


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _random_argmax(scores, u):
    """Per row of scores [S, K], the j-th maximal entry with j = floor(u n), n the number of
    maximal entries, u [S] uniform: a uniform choice among the ties (envs/draws.py:
    random_argmax)."""
    is_max = scores >= scores.max(axis=1, keepdims=True)
    n = is_max.sum(axis=1)
    j = np.minimum((u.astype(np.float32) * n.astype(np.float32)).astype(np.int64), n - 1)
    return (np.cumsum(is_max, axis=1) <= j[:, None]).sum(axis=1)


def simulate_numpy(inst: dict, *, horizon: int, n_seeds: int, checkpoints, ridge: float = 1.0,
                   warm_start: int = 0, seed: int = 0, draws: Draws | None = None,
                   dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Run greedy/bt_ref for ``n_seeds`` seeds. ``inst``: dict of NumPy arrays with the fields of
    ``jaxpa.Instance`` (features [M,K,d], reference [M], heads [N,k], W [k,d], user_probs [N],
    prompt_probs [N,M], shared [d]). ``checkpoints``: 1-based rounds [C], non-decreasing
    (a repeated round fills each of its slots, like ``runner.log_checkpoints``).

    Returns (regret [S, C] float64 cumulative pseudo-regret, mistakes [S, C] int64).
    """
    F = np.asarray(inst["features"], dtype)
    ref_of = np.asarray(inst["reference"])
    H = np.asarray(inst["heads"], dtype)
    reward_w = np.asarray(inst["W"], dtype)
    beta = np.asarray(inst["shared"], dtype)
    M, K, d = F.shape
    k = H.shape[1]
    S, p = n_seeds, k * d
    draws = draws or numpy_draws(np.random.default_rng(seed), inst, S, dtype)
    checkpoints = np.asarray(checkpoints)
    slot = {}
    for i, c in enumerate(checkpoints):
        slot.setdefault(int(c), []).append(i)

    theta = np.zeros((S, p), dtype)
    V = np.broadcast_to(np.eye(p, dtype=dtype) / dtype(ridge), (S, p, p)).copy()
    outer = np.empty_like(V)
    rows = np.arange(S)
    total = np.zeros(S)
    mistakes = np.zeros(S, np.int64)
    curve_r = np.zeros((S, len(checkpoints)))
    curve_m = np.zeros((S, len(checkpoints)), np.int64)
    for t in range(horizon):
        dr = draws(t)
        h = H[dr["user"]]                                            # [S, k]
        phi = F[dr["prompt"]]                                        # [S, K, d]
        ref = ref_of[dr["prompt"]]                                   # [S]
        # greedy with random tie-breaking: scores = phi @ (theta as [k, d])^T h
        w_hat = np.einsum("sk,skd->sd", h, theta.reshape(S, k, d))
        scores = np.einsum("sjd,sd->sj", phi, w_hat)
        first = _random_argmax(scores, dr["tie_u"])
        action = np.where(t < warm_start, dr["uniform_action"], first)
        # the environment: pseudo-regret and Bernoulli feedback against the reference
        r = np.einsum("sjd,sd->sj", phi, h @ reward_w + beta)
        r_a = r[rows, action]
        regret = r.max(axis=1) - r_a
        obs = (dr["feedback_u"] < _sigmoid(r_a - r[rows, ref])).astype(dtype)
        # one online Newton step: g = h ⊗ (phi[a] - phi[ref]) (exactly 0 when a is the reference)
        g = (h[:, :, None] * (phi[rows, action] - phi[rows, ref])[:, None, :]).reshape(S, p)
        prob = _sigmoid(np.clip(np.einsum("sp,sp->s", theta, g), -30.0, 30.0))
        # Sherman-Morrison with one V^-1 product (learners/glm.py: glm_update_rank_one)
        hess = prob * (1.0 - prob)
        w = np.einsum("sij,sj->si", V, g)
        c = 1.0 + hess * np.einsum("si,si->s", g, w)
        np.multiply(w[:, :, None], w[:, None, :], out=outer)          # symmetric by construction
        outer *= (hess / c)[:, None, None]
        V -= outer
        theta += ((obs - prob) / c)[:, None] * w
        total += regret
        mistakes += regret > 0
        for i in slot.get(t + 1, ()):
            curve_r[:, i] = total
            curve_m[:, i] = mistakes
    return curve_r, curve_m


def per_seed_loop(inst: dict, *, horizon: int, n_seeds: int, checkpoints, ridge: float = 1.0,
                  warm_start: int = 0, seed: int = 0, draws: Draws | None = None,
                  dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The same algorithm one seed at a time, round by round, on [p]-vectors and a [p, p] matrix
    (how many simulation scripts start). Same arguments and outputs as ``simulate_numpy``; with
    ``draws`` (for all n_seeds seeds) seed s uses column s of every round's draws."""
    F = np.asarray(inst["features"], dtype)
    ref_of = np.asarray(inst["reference"])
    H = np.asarray(inst["heads"], dtype)
    reward_w = np.asarray(inst["W"], dtype)
    beta = np.asarray(inst["shared"], dtype)
    k, d = reward_w.shape
    p = k * d
    checkpoints = np.asarray(checkpoints)
    curve_r = np.zeros((n_seeds, len(checkpoints)))
    curve_m = np.zeros((n_seeds, len(checkpoints)), np.int64)
    for s in range(n_seeds):
        if draws is None:
            one = numpy_draws(np.random.default_rng(seed + s), inst, 1, dtype)
            get = lambda t: {name: v[0] for name, v in one(t).items()}
        else:
            get = lambda t, s=s: {name: v[s] for name, v in draws(t).items()}
        theta = np.zeros(p, dtype)
        V = np.eye(p, dtype=dtype) / dtype(ridge)
        total, mistakes, c_i = 0.0, 0, 0
        for t in range(horizon):
            dr = get(t)
            h, phi, ref = H[dr["user"]], F[dr["prompt"]], ref_of[dr["prompt"]]
            scores = phi @ (h @ theta.reshape(k, d))
            first = int(_random_argmax(scores[None], np.atleast_1d(dr["tie_u"]))[0])
            a = int(dr["uniform_action"]) if t < warm_start else first
            r = phi @ (h @ reward_w + beta)
            regret = r.max() - r[a]
            obs = dtype(dr["feedback_u"] < _sigmoid(r[a] - r[ref]))
            g = np.outer(h, phi[a] - phi[ref]).reshape(p)
            prob = _sigmoid(np.clip(theta @ g, -30.0, 30.0))
            hess = prob * (1.0 - prob)
            w = V @ g
            c = 1.0 + hess * (g @ w)
            V -= np.outer(w, w) * (hess / c)
            theta += ((obs - prob) / c) * w
            total += regret
            mistakes += regret > 0
            while c_i < len(checkpoints) and t + 1 == checkpoints[c_i]:
                curve_r[s, c_i], curve_m[s, c_i] = total, mistakes
                c_i += 1
    return curve_r, curve_m
