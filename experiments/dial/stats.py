"""Host-side statistics of a diversity dial: burn-in, plateau and lock-in probability per instance,
and how well a candidate constant predicts them across instances.

Inputs are NumPy arrays of the runner's curves (an experiment's ``Run``): checkpoints [C] (1-based
rounds, the last is the horizon T), cumulative regret [..., S, C] and locked seeds [..., S] (bool,
from ``curve_stats.lock_in``). Definitions:

- excess: R_s(t) - R_s(n0), what greedy pays after its n0-round uniform warm start. R_s(n0) is
  read at the checkpoint n0 when there is one; otherwise it is extrapolated from the last
  checkpoint t_a <= n0 along the warm start, R_s(t_a) n0 / t_a: uniform play pays the same
  expected regret every round, so this is unbiased (a linear interpolation towards the checkpoint
  after n0 would mix in greedy's first, costliest rounds).
- plateau: mean over the *unlocked* seeds of the excess at T, with a Student-t CI. Lock-ins make
  regret grow linearly, so they are counted apart (lock-in probability), not averaged in.
- burn-in: on the unlocked seeds' mean excess curve A(t), the first checkpoint t >= n0 with
  A(T) - A(t) <= frac * A(T) (frac = 0.05: the curve adds < 5% of its final value after it),
  counted from n0. The horizon is long enough when T - n0 >= factor * burn-in (factor 4).
- lock-in probability: share of locked seeds, Clopper-Pearson (exact binomial) interval.
- association of a constant x with a target y across instances: Spearman rho, and the
  least-squares slope of log y on log x (over x, y > 0), each with a percentile bootstrap CI over
  instances (2000 resamples with replacement, seeded generator, vectorized); within dial lines:
  the same after removing each line's means (``within_association``); one line's slope with a CI
  from resampling each point's seeds (``line_slope``).
"""
from __future__ import annotations

import numpy as np
import scipy.stats



def warm_regret(checkpoints, regret, n0: float) -> np.ndarray:
    """R(n0) per curve [..., S] (module docstring: exact on a checkpoint, else extrapolated along
    the uniform warm start from the last checkpoint before n0; 0 for n0 = 0)."""
    t = np.asarray(checkpoints, np.float64)
    R = np.asarray(regret, np.float64)
    if n0 <= 0:
        return np.zeros(R.shape[:-1])
    if np.any(t == n0):
        return R[..., int(np.argmax(t == n0))]
    before = np.nonzero(t < n0)[0]
    if before.size == 0:  # n0 before the first checkpoint (round 1): R(1) per round
        return R[..., 0] * n0 / t[0]
    a = before[-1]
    return R[..., a] * n0 / t[a]


def excess(checkpoints, regret, n0: float) -> np.ndarray:
    """R(t) - R(n0) for every checkpoint: [..., S, C] float64."""
    R = np.asarray(regret, np.float64)
    return R - warm_regret(checkpoints, R, n0)[..., None]


def burn_in(checkpoints, mean_excess, n0: float, frac: float = 0.05) -> np.ndarray:
    """Rounds after n0 until the mean excess curve [..., C] is within frac of its final value: [...]
    (0 when the final value is <= 0)."""
    t = np.asarray(checkpoints, np.float64)
    A = np.asarray(mean_excess, np.float64)
    done = (A[..., -1:] - A <= frac * np.maximum(A[..., -1:], 0.0)) & (t >= n0)
    return np.where(A[..., -1] > 0, np.maximum(t[np.argmax(done, axis=-1)] - n0, 0.0), 0.0)


def plateau(final_excess, locked, level: float = 0.95):
    """Mean excess at T over unlocked seeds and its Student-t CI: (mean, low, high, n) [...]; NaN
    where fewer than 2 seeds are unlocked (mean alone where exactly 1)."""
    x = np.asarray(final_excess, np.float64)
    keep = ~np.asarray(locked, bool)
    n = keep.sum(-1)
    mean = np.where(n > 0, (x * keep).sum(-1) / np.maximum(n, 1), np.nan)
    var = ((x - mean[..., None]) ** 2 * keep).sum(-1) / np.maximum(n - 1, 1)
    half = scipy.stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * np.sqrt(var / np.maximum(n, 1))
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half, n


def lock_probability(locked, level: float = 0.95):
    """Share of locked seeds and its Clopper-Pearson interval: (p, low, high) [...]."""
    L = np.asarray(locked, bool)
    k, n = L.sum(-1), L.shape[-1]
    a = (1 - level) / 2
    low = np.where(k > 0, scipy.stats.beta.ppf(a, np.maximum(k, 1), n - k + 1), 0.0)
    high = np.where(k < n, scipy.stats.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1)), 1.0)
    return k / n, low, high


def _percentile_ci(boots: np.ndarray, level: float) -> list[float]:
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return [float("nan")] * 2
    return [float(v) for v in np.percentile(boots, [50 * (1 - level), 50 * (1 + level)])]


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] indices drawn with replacement (seeded)."""
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def _rank_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho along the last axis (average ranks for ties): [...]; NaN where constant."""
    rx = scipy.stats.rankdata(x, axis=-1)
    ry = scipy.stats.rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(-1, keepdims=True), ry - ry.mean(-1, keepdims=True)
    den = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(-1) / den, np.nan)


def _ls_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x along the last axis: [...]; NaN where x is constant."""
    dx = x - x.mean(-1, keepdims=True)
    sxx = (dx * dx).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx > 0, (dx * (y - y.mean(-1, keepdims=True))).sum(-1) / sxx, np.nan)


def spearman(x, y, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Spearman rho of (x, y) pairs without NaN (+-inf rank at the ends) with a bootstrap CI:
    {rho, ci, n}."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return {"rho": float("nan"), "ci": [float("nan")] * 2, "n": int(x.size)}
    idx = _resamples(x.size, n_boot, seed)
    return {"rho": float(_rank_corr(x, y)), "ci": _percentile_ci(_rank_corr(x[idx], y[idx]), level),
            "n": int(x.size)}


def loglog_slope(x, y, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Least-squares slope of log y on log x over pairs with x, y > 0 and finite, with a
    bootstrap CI: {slope, ci, n}."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    if lx.size < 3 or np.ptp(lx) == 0:
        return {"slope": float("nan"), "ci": [float("nan")] * 2, "n": int(lx.size)}
    idx = _resamples(lx.size, n_boot, seed)
    return {"slope": float(_ls_slope(lx, ly)), "ci": _percentile_ci(_ls_slope(lx[idx], ly[idx]), level),
            "n": int(lx.size)}


def partial_slope(x, y, control, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Coefficient of log x in the least-squares fit log y ~ 1 + log x + log control (pairs with
    all three positive and finite), with a bootstrap CI: whether x predicts y beyond the control.
    {slope, ci, n}."""
    x, y, z = (np.asarray(a, np.float64) for a in (x, y, control))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & (x > 0) & (y > 0) & (z > 0)
    X = np.stack([np.ones(ok.sum()), np.log(x[ok]), np.log(z[ok])], -1)
    ly = np.log(y[ok])
    if ly.size < 4 or np.linalg.matrix_rank(X) < 3:
        return {"slope": float("nan"), "ci": [float("nan")] * 2, "n": int(ly.size)}

    def coef(i):
        A = X[i]
        G = np.einsum("...ni,...nj->...ij", A, A)
        b = np.einsum("...ni,...n->...i", A, ly[i])
        with np.errstate(invalid="ignore"):
            good = np.linalg.cond(G) < 1e12
            G = np.where(good[..., None, None], G, np.eye(3))
        return np.where(good, np.linalg.solve(G, b[..., None])[..., 1, 0], np.nan)

    idx = _resamples(ly.size, n_boot, seed)
    return {"slope": float(coef(np.arange(ly.size))), "ci": _percentile_ci(coef(idx), level),
            "n": int(ly.size)}


def association(x, y, n_boot: int = 2000, seed: int = 0) -> dict:
    """Spearman rho and log-log slope of y against x, with CIs: {rho, rho_ci, slope, slope_ci, n}."""
    s, l = spearman(x, y, n_boot, seed), loglog_slope(x, y, n_boot, seed)
    return {"rho": s["rho"], "rho_ci": s["ci"], "slope": l["slope"], "slope_ci": l["ci"],
            "n": s["n"], "n_log": l["n"]}


def seed_resampled_plateaus(final_excess, locked, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """Plateaus [n_boot, P] of P instances with their seeds resampled (with replacement, each
    instance apart): the mean final excess over the unlocked seeds of each resample (NaN where a
    resample has none). final_excess, locked: [P, S]."""
    x = np.asarray(final_excess, np.float64)
    keep = ~np.asarray(locked, bool)
    P, S = x.shape
    idx = np.random.default_rng(seed).integers(0, S, (n_boot, P, S))
    xs = np.take_along_axis(np.broadcast_to(x, (n_boot, P, S)), idx, -1)
    ks = np.take_along_axis(np.broadcast_to(keep, (n_boot, P, S)), idx, -1)
    n = ks.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (xs * ks).sum(-1) / np.maximum(n, 1), np.nan)


def line_slope(x, final_excess, locked, n_boot: int = 2000, seed: int = 0,
               level: float = 0.95) -> dict:
    """One dial line: the least-squares slope of log plateau on log x over its P points (x [P]
    positive and finite, plateaus positive), with a percentile CI from resampling each point's
    seeds (``seed_resampled_plateaus``): the slope of *this* line's plateaus, its uncertainty the
    seed noise of each plateau. Resamples with a non-positive plateau are dropped.
    {slope, ci, n}."""
    x = np.log(np.asarray(x, np.float64))
    ex = np.asarray(final_excess, np.float64)
    L = np.asarray(locked, bool)
    keep = ~L
    n = keep.sum(-1)
    y = np.where(n > 0, (ex * keep).sum(-1) / np.maximum(n, 1), np.nan)
    if x.size < 3 or np.ptp(x) == 0 or not np.all(y > 0):
        return {"slope": float("nan"), "ci": [float("nan")] * 2, "n": int(x.size)}
    boots = seed_resampled_plateaus(ex, L, n_boot, seed)  # [n_boot, P]
    ok = np.all(boots > 0, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = _ls_slope(np.broadcast_to(x, boots[ok].shape), np.log(boots[ok]))
    return {"slope": float(_ls_slope(x, np.log(y))), "ci": _percentile_ci(slopes, level),
            "n": int(x.size)}


def within_association(x, y, groups, n_boot: int = 2000, seed: int = 0,
                       min_range: float = 1.5, min_groups: int = 3) -> dict:
    """Association of y with x *within* groups (one group = one dial line: one draw, the dial
    moved): the log-log slope after removing each group's mean of log x and log y (a fixed-effects
    slope), and the mean over groups of the per-group Spearman rho; both with a bootstrap CI that
    resamples whole groups. Only pairs with x, y > 0 and finite count; groups where x moves by
    less than a factor ``min_range`` (the dial does not move that constant) or with < 3 pairs are
    dropped; the CIs are NaN with fewer than ``min_groups`` groups left:
    {rho, rho_ci, slope, slope_ci, n_groups}."""
    x, y, g = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(groups)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    sxx, sxy, rho = [], [], []
    for k in np.unique(g):
        m = ok & (g == k)
        lx, ly = np.log(x[m]), np.log(y[m])
        if lx.size >= 3 and np.ptp(lx) >= np.log(min_range):
            dx, dy = lx - lx.mean(), ly - ly.mean()
            sxx.append(dx @ dx)
            sxy.append(dx @ dy)
            rho.append(float(np.nan_to_num(_rank_corr(lx, ly))))  # y constant: rho 0
    n = len(rho)
    if n == 0:
        nan = float("nan")
        return {"rho": nan, "rho_ci": [nan, nan], "slope": nan, "slope_ci": [nan, nan], "n_groups": 0}
    sxx, sxy, rho = np.array(sxx), np.array(sxy), np.array(rho)
    out = {"rho": float(rho.mean()), "rho_ci": [float("nan")] * 2,
           "slope": float(sxy.sum() / sxx.sum()), "slope_ci": [float("nan")] * 2, "n_groups": n}
    if n >= min_groups:  # resampling one or two groups says nothing about the spread
        counts = np.stack([np.bincount(i, minlength=n) for i in _resamples(n, n_boot, seed)])
        out.update(rho_ci=_percentile_ci(counts @ rho / n, 0.95),
                   slope_ci=_percentile_ci(counts @ sxy / (counts @ sxx), 0.95))
    return out
