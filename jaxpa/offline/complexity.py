"""Sample complexity n(eps) against L = log(1/eps): is it linear (n(eps) = O(log 1/eps)), convex
(faster growth: what a polynomial decay SubOpt ~ n^-alpha gives, n(eps) = eps^(-1/alpha)), or
does SubOpt stall?

Host-side NumPy on the per-seed curves subopt [S, G] over the grid ns [G] (``curves.subopt_curves``)
and, when given, their identifiable SubOpt [S]. Deterministic: the bootstrap uses a seeded
generator. The rule is fixed in advance; its thresholds are arguments with these defaults:

1. stalled: the mean identifiable SubOpt (what the log can ever reveal: SubOpt of the truth
   projected on the logged span) exceeds ``ident_rtol`` (1e-3) times SubOpt at the first grid
   point, or the curve is still resolved at n_max and fell by less than ``stall_drop`` (10%) over
   the last doubling of n (``rates.is_stalled``): targets below it are never reached.
2. resolution: a grid point is resolved when at least ``min_positive`` (16) seeds have SubOpt > 0
   there (``rates.resolved``; below that the mean measures the seed count, not SubOpt); n_end is
   the last resolved n. The curve must be resolved over ``min_decades`` (3) decades of n:
   n_end / (smallest grid n >= 1) >= 10^3, else 'undetermined'.
3. window: the late decade of the resolved curve, grid points with n_end / ``window_ratio`` (10)
   <= n <= n_end (the asymptotic regime is what the claim is about; earlier, every curve passes
   through a pre-asymptotic phase where SubOpt falls like a power of n). At least ``min_points``
   (5) resolved grid points, else 'undetermined'. Targets: ``n_targets`` (24) values of eps
   log-spaced from the mean SubOpt at the window's first point down to the mean at n_end.
4. n(eps): the first n where the mean curve is <= eps, log SubOpt interpolated linearly in n
   between the two grid points around the crossing (``crossing_n``; ``subopt.n_epsilon`` without
   interpolation), searched from the grid point before the window on (a dip of a non-monotone
   curve at small n is not the tail's n(eps)).
5. fit: least squares n(eps) = a + b (L - Lbar) + c (L - Lbar)^2 over the targets (Lbar their mean
   L): b is the slope at the window's centre (rounds per unit of log(1/eps)), and the relative
   curvature kappa = c (L_max - L_min) / b = (slope at the end - slope at the start) / (2 * slope at
   the centre). A line (exponential decay) has kappa = 0. A power law n = eps^(-1/alpha) whose
   n(eps) spans the same ratio r = n_hi / n_lo has kappa_pow(r) whatever alpha
   (``power_law_curvature``: 1.11 for one decade, 1.57 for 1.5 decades); a Gaussian tail
   Phi(-a sqrt(n)), the single-decision form of an exponential decay, has 0.07 to 0.14 over its
   last decade. The *bend* kappa / kappa_pow(r) is 0 for a line and 1 for a power law over the
   window. 95% CIs of b, kappa and the bend: percentile bootstrap over seeds (resample seeds,
   recompute the mean curve, n(eps) at the same targets, refit; a resample missing a target is
   fitted on the rest).
6. class: 'log(1/eps)' if b's CI lies above 0 and the bend's CI lies within [-tolerance,
   tolerance] (tolerance 0.5: closer to a line than to a power law, i.e. |kappa| <= about 0.55 for
   one decade); 'faster than log(1/eps)' if the bend's CI lies above the tolerance (and b's above
   0: convex, as a polynomial decay gives); 'undetermined' otherwise.

Reliability depends on depth: a mixture of exponential terms (several decisions with different
rates) bends upward until its slowest term dominates, so a shallow window (few seeds) can read
'undetermined', or even 'faster', on a curve that is exponential further down; more seeds move
the floor, and the window, deeper (measured on matched draws: kappa about 0.5 with 1024 seeds,
about 0.3 with 4096 to 16384).
"""
from __future__ import annotations

import numpy as np

from jaxpa.offline.rates import _check, bootstrap_means, is_stalled, resolved

CLASSES = ("log(1/eps)", "faster than log(1/eps)", "stalled", "undetermined")


def crossing_n(ns, curves, eps) -> np.ndarray:
    """n(eps) of each curve: the first grid n where the curve is <= eps, with log(curve)
    interpolated linearly in n between that grid point and the one before (the grid value when
    the crossing is at the first point or the curve reaches 0 there); inf where never reached.

    ns [G] increasing; curves [..., G] >= 0; eps [E]. Returns [..., E] float."""
    n = np.asarray(ns, np.float64)
    y = np.asarray(curves, np.float64)
    e = np.asarray(eps, np.float64).reshape(-1)
    below = y[..., None, :] <= e[:, None]                                   # [..., E, G]
    hit = below.any(-1)
    g = np.argmax(below, -1)                                                # first crossing
    gp = np.maximum(g - 1, 0)
    y1 = np.take_along_axis(y, gp.reshape(y.shape[:-1] + (-1,)), -1).reshape(g.shape)
    y2 = np.take_along_axis(y, g.reshape(y.shape[:-1] + (-1,)), -1).reshape(g.shape)
    n1, n2 = n[gp], n[g]
    ee = np.broadcast_to(e, g.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (np.log(y1) - np.log(ee)) / (np.log(y1) - np.log(y2))
    interp = (g > 0) & (y2 > 0) & (y1 > y2) & np.isfinite(frac)
    out = np.where(interp, n1 + np.clip(frac, 0.0, 1.0) * (n2 - n1), n2)
    return np.where(hit, out, np.inf)


def quadratic_fit(L, N) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least squares N ~ a + b (L - Lbar) + c (L - Lbar)^2 for each row of N [B, E] over its
    finite entries (L [E]; Lbar the mean of the L used by that row): (a, b, c, Lbar), each [B]
    (NaN with fewer than 4 finite points). Rows with every entry finite are solved together."""
    L = np.asarray(L, np.float64)
    N = np.atleast_2d(np.asarray(N, np.float64))
    out = np.full((4, N.shape[0]), np.nan)

    def design(x):
        return np.stack([np.ones_like(x), x, x * x], -1)

    ok = np.isfinite(N)
    full = ok.all(1)
    if full.any() and L.size >= 4:
        lbar = L.mean()
        out[:3, full] = np.linalg.lstsq(design(L - lbar), N[full].T, rcond=None)[0]
        out[3, full] = lbar
    for r in np.flatnonzero(~full & (ok.sum(1) >= 4)):
        lbar = L[ok[r]].mean()
        out[:3, r] = np.linalg.lstsq(design(L[ok[r]] - lbar), N[r, ok[r]], rcond=None)[0]
        out[3, r] = lbar
    return out[0], out[1], out[2], out[3]


def power_law_curvature(ratio: float, points: int = 24) -> float:
    """kappa of a power law n = eps^(-1/alpha) whose n spans ``ratio`` = n_hi / n_lo, fitted at
    ``points`` targets evenly spaced in log(1/eps) (the same for every alpha): 1.11 for one
    decade, 1.57 for 30, 2.01 for 100."""
    u = np.linspace(0.0, np.log(max(float(ratio), 1.0 + 1e-9)), points)
    _, b, c, _ = quadratic_fit(u, np.exp(u)[None])
    return float(c[0] * (u[-1] - u[0]) / b[0])


def _percentile(x, level: float) -> list[float]:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def complexity_test(ns, subopt, identifiable=None, *, min_positive: int = 16,
                    window_ratio: float = 10.0, min_decades: float = 3.0, min_points: int = 5,
                    n_targets: int = 24, tolerance: float = 0.5, ident_rtol: float = 1e-3,
                    stall_drop: float = 0.1, n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0) -> dict:
    """The test of the module docstring on one curve set, as a JSON-able dict: ``class`` (one of
    CLASSES) and ``reason`` (why, in words); ``slope`` b and ``slope_ci``; ``curvature`` kappa and
    ``curvature_ci``; ``bend`` (kappa over a power law's kappa on the same n ratio,
    ``power_law_curvature``) and ``bend_ci``; ``coef`` (a, b, c) and ``lbar`` of the fit; ``decades`` of n the resolved
    curve spans; ``window`` [n_lo, n_hi] and its grid points ``n_points``; ``eps`` [E] targets,
    ``n_eps`` [E] and its bootstrap band ``n_eps_low``/``n_eps_high``; ``identifiable`` (mean) and
    the thresholds used."""
    n, y = _check(ns, subopt)
    nan = float("nan")
    mean = y.mean(0)
    out = {"min_positive": min_positive, "window_ratio": window_ratio, "min_decades": min_decades,
           "min_points": min_points, "tolerance": tolerance, "ident_rtol": ident_rtol,
           "stall_drop": stall_drop, "n_boot": n_boot, "level": level, "n_seeds": int(y.shape[0]),
           "subopt_start": float(mean[0]), "final_mean": float(mean[-1]),
           "identifiable": (nan if identifiable is None
                            else float(np.mean(np.asarray(identifiable, np.float64)))),
           "slope": nan, "slope_ci": [nan, nan], "curvature": nan, "curvature_ci": [nan, nan],
           "bend": nan, "bend_ci": [nan, nan], "power_law_curvature": nan,
           "coef": [nan, nan, nan], "lbar": nan, "decades": 0.0, "n_end": nan, "window": None,
           "n_points": 0, "eps": [], "n_eps": [], "n_eps_low": [], "n_eps_high": [],
           "floor": nan}
    ok = resolved(y, min_positive) & (n >= 1)
    if ok.any():
        n_end = float(n[ok].max())
        first = float(n[n >= 1].min())
        out.update(n_end=n_end, decades=float(np.log10(n_end / first)),
                   floor=float(mean[n == n_end][0]))
    ident_stall = (identifiable is not None
                   and out["identifiable"] > ident_rtol * max(out["subopt_start"], 1e-300))
    if ident_stall or is_stalled(n, y, min_positive, stall_drop):
        why = (f"identifiable SubOpt {out['identifiable']:.3g} > {ident_rtol:g} x SubOpt(start)"
               if ident_stall else f"SubOpt fell by less than {stall_drop:.0%} over the last "
               f"doubling of n and is still resolved at n_max = {n[-1]:.0f}")
        return dict(out, **{"class": "stalled", "reason": why})
    if not ok.any() or out["decades"] < min_decades:
        return dict(out, **{"class": "undetermined", "reason": (
            f"the resolved curve spans {out['decades']:.2f} decades of n (< {min_decades:g}; "
            f">= {min_positive} seeds with SubOpt > 0 at n_end)")})
    window = ok & (n >= out["n_end"] / window_ratio)
    out.update(window=[float(n[window].min()), float(n[window].max())],
               n_points=int(window.sum()))
    if window.sum() < min_points:
        return dict(out, **{"class": "undetermined", "reason": (
            f"{int(window.sum())} resolved grid points in the last {window_ratio:g}-fold of n "
            f"(< {min_points})")})
    eps_hi, eps_lo = float(mean[window][0]), out["floor"]
    if not eps_hi > eps_lo > 0:
        return dict(out, **{"class": "undetermined",
                            "reason": "the mean does not fall across the window"})
    eps = np.geomspace(eps_hi, eps_lo, n_targets)
    L = np.log(1.0 / eps)
    start = max(int(np.argmax(window)) - 1, 0)     # crossings are searched from the window on
    n_eps = crossing_n(n[start:], mean[start:], eps)
    a, b, c, lbar = (v[0] for v in quadratic_fit(L, n_eps[None]))
    boots = bootstrap_means(y, n_boot, seed)
    n_boot_eps = crossing_n(n[start:], boots[:, start:], eps)             # [n_boot, E]
    _, bb, cb, _ = quadratic_fit(L, n_boot_eps)
    span = float(L.max() - L.min())
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa, kappa_b = c * span / b, cb * span / bb
    ratio = n_eps[-1] / n_eps[0] if np.isfinite(n_eps).all() and n_eps[0] > 0 else float("nan")
    k_pow = power_law_curvature(ratio, n_targets) if np.isfinite(ratio) else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        lo_band, hi_band = (np.nanpercentile(np.where(np.isfinite(n_boot_eps), n_boot_eps, np.nan),
                                             q, axis=0) for q in (50 * (1 - level),
                                                                  50 * (1 + level)))
    out.update(slope=float(b), slope_ci=_percentile(bb, level), curvature=float(kappa),
               curvature_ci=_percentile(kappa_b, level), power_law_curvature=k_pow,
               bend=float(kappa / k_pow), bend_ci=_percentile(kappa_b / k_pow, level),
               coef=[float(a), float(b), float(c)], n_ratio=float(ratio),
               lbar=float(lbar), eps=eps.tolist(), n_eps=n_eps.tolist(),
               n_eps_low=lo_band.tolist(), n_eps_high=hi_band.tolist(),
               boot_failures=int(np.sum(~np.isfinite(bb))))
    out["class"], out["reason"] = classify(out)
    return out


def classify(fit: dict) -> tuple[str, str]:
    """Step 6 of the module docstring on a ``complexity_test`` dict with its CIs: (class,
    reason)."""
    (b_lo, b_hi), (k_lo, k_hi), tol = fit["slope_ci"], fit["bend_ci"], fit["tolerance"]
    ci = (f"slope {fit['slope']:.3g} [{b_lo:.3g}, {b_hi:.3g}] rounds per unit of log(1/eps); "
          f"curvature {fit['curvature']:.2f} [{fit['curvature_ci'][0]:.2f}, "
          f"{fit['curvature_ci'][1]:.2f}], {fit['bend']:.2f} [{k_lo:.2f}, {k_hi:.2f}] of a power "
          f"law's ({fit['power_law_curvature']:.2f} over the same {fit['n_ratio']:.1f}-fold of n)")
    if not np.isfinite([b_lo, k_lo, k_hi]).all():
        return "undetermined", "no finite fit"
    if b_lo > 0 and -tol <= k_lo and k_hi <= tol:
        return "log(1/eps)", f"{ci}: within +-{tol:g}"
    if b_lo > 0 and k_lo > tol:
        return "faster than log(1/eps)", f"{ci}: above {tol:g} (convex)"
    return "undetermined", f"{ci}: neither within +-{tol:g} nor above it"
