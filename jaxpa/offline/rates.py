"""How fast SubOpt(n) decays: exponential rate, polynomial exponent, and a verdict.

Host-side NumPy on the per-seed curves subopt [S, G] over the grid ns [G] (results are
deterministic: the bootstrap uses a seeded generator). Method (thresholds are arguments):

1. resolution: the mean over S seeds cannot resolve SubOpt below about one seed's mistake, so a
   grid point is *resolved* when at least ``min_positive`` (5) seeds have SubOpt > 0 there, and
   n_end is the last resolved n.
2. stalled: the curve is still resolved at the largest n of the grid and its mean fell by less than
   ``stall_drop`` (10%) from the grid point nearest n_max / 2 to n_max: a local power-law exponent
   below log(1/0.9)/log 2 = 0.15. (The identifiable SubOpt of curves.py tells a permanent stall
   from a slow decay.)
3. otherwise the decay is fitted on the late window: the resolved points with
   n >= n_end / ``window_ratio`` (10: one decade), or all resolved points with n >= 1 if the
   window holds fewer than 4. Least
   squares of log mean SubOpt on n gives the exponential rate c (log SubOpt ~ a - c n) and on
   log n the polynomial exponent alpha (~ a - alpha log n). Their 95% CIs are percentile
   bootstraps over seeds (resample seeds, recompute the mean curve, refit on the same window;
   points where a resample's mean is 0 are left out of that refit).
4. verdict: a joint least-squares fit log SubOpt ~ a - c n - beta log n on the window separates
   an exponential factor (c) from a power law (beta, which also absorbs the 1/sqrt(n) prefactor
   of Gaussian tails); c's 95% CI is a bootstrap as above.
   'exponential' if c's CI lies above 0;
   'polynomial' if c's CI upper end u satisfies u * n_hi < 1 (an exponential factor, if any,
   changes SubOpt by less than a factor e across the window) and alpha's CI lies above 0;
   'undetermined' otherwise (fewer than 4 window points, or data that fit both shapes: more
   seeds resolve SubOpt deeper and decide).
"""
from __future__ import annotations

import numpy as np

VERDICTS = ("exponential", "polynomial", "stalled", "undetermined")


def _check(ns, subopt) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(ns, np.float64)
    y = np.asarray(subopt, np.float64)
    if n.ndim != 1 or n.size < 2 or np.any(np.diff(n) <= 0) or n[0] < 0:
        raise ValueError(f"ns: expected an increasing grid of sizes >= 0, got {ns!r}")
    if y.ndim != 2 or y.shape[1] != n.size:
        raise ValueError(f"subopt: expected shape [seeds, {n.size}], got {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValueError("subopt: expected finite values >= 0")
    return n, y


def linear_fit(x: np.ndarray, Y: np.ndarray, mask: np.ndarray):
    """Least squares Y ~ a + b x over the points in ``mask``, for each row of Y [B, G] (mask
    [B, G] or [G]): slopes b [B], intercepts a [B], R^2 [B] (NaN with fewer than 2 points)."""
    Y = np.atleast_2d(Y)
    m = np.broadcast_to(mask, Y.shape).astype(np.float64)
    k = m.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (m * x).sum(1) / k
        ym = (m * np.where(m > 0, Y, 0.0)).sum(1) / k
        dx, dy = x - xm[:, None], np.where(m > 0, Y, 0.0) - ym[:, None]
        sxx, sxy, syy = (m * dx * dx).sum(1), (m * dx * dy).sum(1), (m * dy * dy).sum(1)
        b = sxy / sxx
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), 1.0)
    bad = k < 2
    return (np.where(bad, np.nan, b), np.where(bad, np.nan, ym - b * xm),
            np.where(bad, np.nan, r2))


def joint_fit(n: np.ndarray, Y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least squares Y ~ a - c n - beta log n over the points in ``mask`` for each row of Y [B, G]
    (mask [B, G] or [G]): c [B] (NaN with fewer than 4 points). n is rescaled internally."""
    Y = np.atleast_2d(Y)
    m = np.broadcast_to(mask, Y.shape)
    scale = n.max() if n.max() > 0 else 1.0
    A = np.stack([np.ones_like(n), n / scale, np.log(np.maximum(n, 1.0))], -1)  # [G, 3]
    out = np.full(Y.shape[0], np.nan)
    for b in range(Y.shape[0]):
        if m[b].sum() >= 4:
            coef = np.linalg.lstsq(A[m[b]], Y[b, m[b]], rcond=None)[0]
            out[b] = -coef[1] / scale
    return out


def resolved(subopt: np.ndarray, min_positive: int = 5) -> np.ndarray:
    """Grid points where at least ``min_positive`` seeds have SubOpt > 0: [G] bool."""
    return (np.asarray(subopt) > 0).sum(0) >= min(min_positive, np.asarray(subopt).shape[0])


def fit_window(ns, subopt, min_positive: int = 5, window_ratio: float = 10.0) -> np.ndarray:
    """The grid points the decay is fitted on (step 3 of the module docstring): [G] bool."""
    n, y = _check(ns, subopt)
    ok = resolved(y, min_positive) & (n >= 1)
    if not ok.any():
        return ok
    n_end = n[ok].max()
    late = ok & (n >= n_end / window_ratio)
    return late if late.sum() >= 4 else ok


def bootstrap_means(subopt: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Mean curves of ``n_boot`` resamples of the seeds (with replacement): [n_boot, G]."""
    y = np.asarray(subopt, np.float64)
    S = y.shape[0]
    counts = np.random.default_rng(seed).multinomial(S, np.full(S, 1.0 / S), size=n_boot)
    return counts @ y / S


def _percentile(x: np.ndarray, level: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def is_stalled(ns, subopt, min_positive: int = 5, stall_drop: float = 0.1) -> bool:
    """Step 2 of the module docstring."""
    n, y = _check(ns, subopt)
    mean = y.mean(0)
    if not resolved(y, min_positive)[-1]:
        return False
    half = int(np.argmin(np.abs(n - n[-1] / 2)))
    return bool(half < n.size - 1 and mean[-1] >= (1 - stall_drop) * mean[half])


def decay_fit(ns, subopt, *, min_positive: int = 5, window_ratio: float = 10.0,
              stall_drop: float = 0.1, n_boot: int = 1000, level: float = 0.95,
              seed: int = 0) -> dict:
    """Fitted decay of the mean curve (module docstring) as a JSON-able dict: verdict, rate
    (per round) and its CI, exponent and its CI, both R^2, the window [n_lo, n_hi] and its size,
    and the thresholds used."""
    n, y = _check(ns, subopt)
    out = {"min_positive": min_positive, "window_ratio": window_ratio, "stall_drop": stall_drop,
           "level": level, "n_boot": n_boot, "final_mean": float(y[:, -1].mean())}
    window = fit_window(n, y, min_positive, window_ratio)
    out.update(n_window=int(window.sum()),
               window=[float(n[window].min()), float(n[window].max())] if window.any() else None)
    nan = float("nan")
    out.update(rate=nan, rate_ci=[nan, nan], r2_exp=nan, exponent=nan, exponent_ci=[nan, nan],
               r2_poly=nan, joint_rate=nan, joint_rate_ci=[nan, nan])
    if window.sum() >= 2:
        log_mean = np.log(np.where(window, y.mean(0), 1.0))
        boots = bootstrap_means(y, n_boot, seed)
        log_boot = np.log(np.where(boots > 0, boots, 1.0))
        keep = window[None] & (boots > 0)
        logn = np.log(np.maximum(n, 1.0))
        b_exp, _, r2_exp = linear_fit(n, log_mean[None], window)
        b_pol, _, r2_pol = linear_fit(logn, log_mean[None], window)
        out.update(rate=float(-b_exp[0]), r2_exp=float(r2_exp[0]), exponent=float(-b_pol[0]),
                   r2_poly=float(r2_pol[0]),
                   joint_rate=float(joint_fit(n, log_mean[None], window)[0]),
                   joint_rate_ci=_percentile(joint_fit(n, log_boot, keep), level),
                   rate_ci=sorted(-v for v in _percentile(linear_fit(n, log_boot, keep)[0], level)),
                   exponent_ci=sorted(-v for v in _percentile(linear_fit(logn, log_boot, keep)[0],
                                                             level)))
    out["verdict"] = rate_verdict(out, stalled=is_stalled(n, y, min_positive, stall_drop))
    return out


def rate_verdict(fit: dict, stalled: bool = False) -> str:
    """'stalled' / 'exponential' / 'polynomial' / 'undetermined' from a ``decay_fit`` dict
    (step 4 of the module docstring)."""
    if stalled:
        return "stalled"
    if fit["n_window"] < 4 or not np.isfinite(fit["joint_rate"]):
        return "undetermined"
    if fit["joint_rate_ci"][0] > 0:
        return "exponential"
    if fit["joint_rate_ci"][1] * fit["window"][1] < 1 and fit["exponent_ci"][0] > 0:
        return "polynomial"
    return "undetermined"
