"""Statistics of regret curves (MODEL.md §5): plateau test, late log-slope, stuck fraction, and a
verdict. Host-side NumPy/SciPy on the small [seeds, checkpoints] arrays of ``Curves``, by a fixed,
documented method (results are deterministic: the bootstrap uses a seeded generator).

Inputs: checkpoints [C] (1-based rounds, increasing, the last one is the horizon T), cumulative
regret R [..., S, C] and mistake counts [..., S, C] (leading axes, e.g. instances or
hyperparameters, are kept in every output). Values between checkpoints are read by linear
interpolation in t (with R(0) = 0): exact when T/2 is itself a checkpoint, and off by at most the
curve's change between the two checkpoints around T/2 otherwise.

Method:
- plateau test: added_s = R_s(T) - R_s(T/2) per seed; its mean over seeds with a Student-t
  confidence interval (level 0.95 by default; needs S >= 2, else the interval is NaN).
- late log-slope: the late part is the checkpoints t >= late_fraction * T (default 0.1: the last
  decade of rounds; at least 3 checkpoints are required). Per seed, b_s is the least-squares slope
  of R_s(t) on log t there; the slope b of the mean curve equals mean_s b_s (least squares is linear
  in the data). Its CI is a percentile bootstrap over seeds (resample seeds with replacement,
  n_resamples = 2000, numpy generator seeded with ``seed`` = 0): scipy.stats.bootstrap.
- stuck fraction: a seed is stuck when it made a mistake (positive regret) in more than half of
  the rounds of [T/2, T]: (M_s(T) - M_s(T/2)) > (T - T/2) / 2.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.stats
import jax
from flax import struct

from jaxpa.envs.instance import gaps

VERDICTS = ("bounded", "log-growth", "linear", "inconclusive")


@struct.dataclass
class CurveStats:
    """Statistics of one set of curves; arrays have the curves' leading axes [...] (no seed axis).

    horizon: T; half: T/2; late_start: the first late checkpoint; n_seeds: S.
    final_mean: mean R(T). added_mean, added_low, added_high: mean regret added over [T/2, T] and
    its CI. slope, slope_low, slope_high: late slope b of R(t) ~ a + b log t and its bootstrap CI.
    stuck_fraction: share of stuck seeds. level: the confidence level of both intervals.
    early_slope: slope of the mean curve on log t over the decade before the late part,
    [late_fraction^2 T, late_fraction T] (NaN with fewer than 3 checkpoints there).
    """

    final_mean: np.ndarray
    added_mean: np.ndarray
    added_low: np.ndarray
    added_high: np.ndarray
    slope: np.ndarray
    slope_low: np.ndarray
    slope_high: np.ndarray
    stuck_fraction: np.ndarray
    early_slope: np.ndarray = None
    horizon: int = struct.field(pytree_node=False, default=0)
    half: float = struct.field(pytree_node=False, default=0.0)
    late_start: int = struct.field(pytree_node=False, default=0)
    n_seeds: int = struct.field(pytree_node=False, default=0)
    level: float = struct.field(pytree_node=False, default=0.95)


def _check(checkpoints, curve, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(checkpoints, np.float64)
    y = np.asarray(curve, np.float64)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0) or t[0] < 1:
        raise ValueError(f"checkpoints: expected >= 2 increasing rounds >= 1, got {t}")
    if y.ndim < 2 or y.shape[-1] != t.size:
        raise ValueError(f"{name}: expected shape [..., seeds, {t.size}], got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: contains NaN or inf")
    return t, y


def value_at(checkpoints, curve, t: float) -> np.ndarray:
    """Cumulative curve [..., C] read at round t by linear interpolation (R(0) = 0): [...]."""
    ts = np.concatenate([[0.0], np.asarray(checkpoints, np.float64)])
    ys = np.concatenate([np.zeros(curve.shape[:-1] + (1,)), np.asarray(curve, np.float64)], -1)
    if not 0 <= t <= ts[-1]:
        raise ValueError(f"round {t} outside [0, {ts[-1]}]")
    i = min(int(np.searchsorted(ts, t, side="right")) - 1, ts.size - 2)
    w = (t - ts[i]) / (ts[i + 1] - ts[i])
    return (1 - w) * ys[..., i] + w * ys[..., i + 1]


def plateau_test(checkpoints, regret, level: float = 0.95):
    """Mean regret added over [T/2, T] and its Student-t CI over seeds: (mean, low, high) [...]."""
    t, R = _check(checkpoints, regret, "regret")
    added = R[..., -1] - value_at(t, R, t[-1] / 2)
    S = added.shape[-1]
    mean = added.mean(-1)
    if S < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    half = scipy.stats.t.ppf(0.5 + level / 2, S - 1) * scipy.stats.sem(added, axis=-1)
    return mean, mean - half, mean + half


def seed_slopes(checkpoints, regret, late_fraction: float = 0.1) -> tuple[np.ndarray, int]:
    """Least-squares slope of R_s(t) on log t over the late checkpoints, per seed: ([..., S], the
    first late checkpoint)."""
    t, R = _check(checkpoints, regret, "regret")
    late = t >= late_fraction * t[-1]
    if late.sum() < 3:
        raise ValueError(f"late log-slope: need >= 3 checkpoints in [{late_fraction} T, T], got "
                         f"{int(late.sum())}; use more checkpoints or a larger late part")
    x = np.log(t[late])
    x = x - x.mean()
    return (R[..., late] @ x) / (x @ x), int(t[late][0])


def log_slope(checkpoints, regret, late_fraction: float = 0.1, level: float = 0.95,
              n_resamples: int = 2000, seed: int = 0):
    """Late slope b of the mean curve and its percentile-bootstrap CI over seeds: (b, low, high)."""
    b, _ = seed_slopes(checkpoints, regret, late_fraction)
    mean = b.mean(-1)
    if b.shape[-1] < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    if np.all(b == b[..., :1]):  # identical seeds: the bootstrap distribution is a point
        return mean, mean.copy(), mean.copy()
    res = scipy.stats.bootstrap((b,), np.mean, axis=-1, n_resamples=n_resamples,
                                confidence_level=level, method="percentile",
                                rng=np.random.default_rng(seed))
    return mean, res.confidence_interval.low, res.confidence_interval.high


def early_slope(checkpoints, regret, late_fraction: float = 0.1) -> np.ndarray:
    """Slope of the mean curve on log t over [late_fraction^2 T, late_fraction T]: [...]
    (NaN when fewer than 3 checkpoints fall there)."""
    t, R = _check(checkpoints, regret, "regret")
    part = (t >= late_fraction**2 * t[-1]) & (t <= late_fraction * t[-1])
    if part.sum() < 3:
        return np.full(R.shape[:-2], np.nan)
    x = np.log(t[part])
    x = x - x.mean()
    return (R.mean(-2)[..., part] @ x) / (x @ x)


def stuck_fraction(checkpoints, mistakes) -> np.ndarray:
    """Share of seeds with mistakes in more than half of the rounds of [T/2, T]: [...]."""
    t, M = _check(checkpoints, mistakes, "mistakes")
    late_mistakes = M[..., -1] - value_at(t, M, t[-1] / 2)
    return (late_mistakes > (t[-1] - t[-1] / 2) / 2).mean(-1)


def curve_stats(curves=None, *, checkpoints=None, regret=None, mistakes=None,
                late_fraction: float = 0.1, level: float = 0.95, n_resamples: int = 2000,
                seed: int = 0) -> CurveStats:
    """All curve statistics of a ``Curves`` (or of explicit arrays; ``mistakes`` optional, the
    stuck fraction is then NaN)."""
    if curves is not None:
        checkpoints, regret, mistakes = curves.checkpoints, curves.regret, curves.mistakes
    t, R = _check(checkpoints, regret, "regret")
    added = plateau_test(t, R, level)
    slope = log_slope(t, R, late_fraction, level, n_resamples, seed)
    stuck = (stuck_fraction(t, mistakes) if mistakes is not None
             else np.full(R.shape[:-2], np.nan))
    return CurveStats(final_mean=R[..., -1].mean(-1), added_mean=added[0], added_low=added[1],
                      added_high=added[2], slope=slope[0], slope_low=slope[1], slope_high=slope[2],
                      stuck_fraction=stuck, early_slope=early_slope(t, R, late_fraction),
                      horizon=int(t[-1]), half=float(t[-1] / 2),
                      late_start=seed_slopes(t, R, late_fraction)[1], n_seeds=R.shape[-2],
                      level=level)


def curve_verdict(stats: CurveStats, *, linear_share: float = 0.25, flat_share: float = 0.02,
                  decay_share: float = 0.25):
    """'bounded' / 'log-growth' / 'linear' / 'inconclusive' per curve set ([...] array of str, or a
    str when unbatched). With share = added_mean / final_mean (regret added over [T/2, T] as a
    share of R(T); a linear curve has 1/2, a + b log t has b log 2 / R(T) <= log 2 / log T, i.e.
    <= 0.15 for T >= 100):

    1. linear       if share >= linear_share (0.25);
    2. bounded      if R(T) = 0, or the CI's upper end of the added regret <= flat_share (0.02)
                    * R(T) *and* the increments are dying out: that upper end is below
                    decay_share (1/4) of early_slope * log 2, what a log curve with the slope of
                    the decade before the late part would add over [T/2, T] (a log curve keeps
                    one slope in every decade; a constant offset, e.g. a warm start's cost, can
                    make log growth look small against R(T), but not against this);
    3. log-growth   if the slope's CI lies above 0;
    4. inconclusive otherwise (too few seeds, or too noisy to tell).
    Without an early decade (too few checkpoints) only the flat_share rule applies.
    A bounded curve read before its burn-in ends looks logarithmic: the verdict is about [T/2, T].
    """
    final = np.asarray(stats.final_mean, np.float64)
    share = np.divide(stats.added_mean, final, out=np.zeros_like(final), where=final > 0)
    early = np.asarray(stats.early_slope if stats.early_slope is not None else np.nan, np.float64)
    log_pace = np.log(2.0) * np.maximum(early, 0)  # what a log curve would add over [T/2, T]
    dying = np.isnan(early) | (np.asarray(stats.added_high) <= decay_share * log_pace)
    flat = (final <= 0) | ((np.asarray(stats.added_high) <= flat_share * final) & dying)
    out = np.where(share >= linear_share, "linear", np.where(
        flat, "bounded", np.where(np.asarray(stats.slope_low) > 0, "log-growth", "inconclusive")))
    return str(out) if out.ndim == 0 else out


def stats_summary(stats: CurveStats, **verdict_options) -> dict:
    """One (unbatched) set of curve statistics as plain Python values, with its verdict: what an
    experiment stores beside each run's curves."""
    out = {name: float(np.asarray(getattr(stats, name))) for name in
           ("final_mean", "added_mean", "added_low", "added_high", "slope", "slope_low",
            "slope_high", "stuck_fraction")}
    out.update(horizon=stats.horizon, late_start=stats.late_start, n_seeds=stats.n_seeds,
               level=stats.level, verdict=curve_verdict(stats, **verdict_options))
    return out


def lock_in(cells, instance, min_plays: int = 5) -> dict[str, np.ndarray]:
    """Lock-in per (seed, user, prompt) cell from the runner's last-half cell tracker
    (``simulate(..., track_cells=True)``; runner/cells.py) and the instance's gaps.

    A cell is locked when it was visited at least ``min_plays`` times in the last half and every
    visit served one and the same suboptimal response. cells: CellTracker with leaves
    [..., S, N, M] (the instance unbatched, or batched along the leading axis of the cells).
    Returns NumPy arrays: locked [..., S, N, M] bool; cell_fraction [...] (share of visited cells
    locked, over seeds); seed_any [...] (share of seeds with at least one locked cell); and
    user_any [..., N] (share of seeds in which some prompt of user u is locked).
    """
    plays, first, mixed = (np.asarray(x) for x in (cells.plays, cells.first, cells.mixed))
    g = np.asarray(jax.vmap(gaps)(instance) if instance.batch_shape else gaps(instance))
    extra = plays.ndim - 3 - (1 if instance.batch_shape else 0)      # axes between B and S
    if instance.batch_shape:
        g = g.reshape(g.shape[:1] + (1,) * (extra + 1) + g.shape[1:])
    else:
        g = g.reshape((1,) * (plays.ndim - 2) + g.shape)
    served_gap = np.take_along_axis(np.broadcast_to(g, plays.shape + g.shape[-1:]),
                                    np.maximum(first, 0)[..., None], axis=-1)[..., 0]
    locked = (plays >= min_plays) & ~mixed & (first >= 0) & (served_gap > 0)
    visited = (plays >= min_plays).sum((-2, -1))
    return {"locked": locked,
            "cell_fraction": locked.sum((-2, -1)).sum(-1) / np.maximum(visited.sum(-1), 1),
            "seed_any": locked.any((-2, -1)).mean(-1),
            "user_any": locked.any(-1).mean(-2)}


GROWTH = ("dies out", "persists", "linear", "undetermined")


def growth(checkpoints, regret, *, floor: float = 0.5, level: float = 0.95,
           n_resamples: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Whether a regret curve's growth dies out or persists, from its per-doubling increments.

    With I_0 = R(T) - R(T/2) and I_2 = R(T/4) - R(T/8) per seed (two doublings apart): a bounded
    curve's increments shrink towards 0, a + b log t adds the same b log 2 every doubling, and a
    linear curve's increments double every doubling (I_0 / I_2 = 4). Over seeds: the ratio of
    mean increments rho = mean I_0 / mean I_2 with a percentile-bootstrap CI (paired over seeds),
    the late log-slope b with its CI (``log_slope``) and share = mean I_0 / mean R(T).

    Classes ([...] str), by a rule fixed in advance, ``floor`` being the log-slope (regret per
    e-fold of t) below which growth counts as negligible:
      linear:       share >= 1/4 (as in ``curve_verdict``);
      dies out:     the increments shrink: rho's upper end < 1/2 (faster than the 1/4 of a
                    c / t tail, where a log curve keeps 1), or the CI's upper end of mean I_0 is
                    at most floor log 2;
      persists:     the increments are not shown to shrink and b's CI lies above the floor;
      undetermined: otherwise (too few seeds, too short a horizon).
    Returns {"class", "rho", "rho_low", "rho_high", "slope", "slope_low", "slope_high",
    "increment", "increment_high", "share"} ([...] arrays; the seed axis reduced).
    """
    t, R = _check(checkpoints, regret, "regret")
    T = t[-1]
    I0 = R[..., -1] - value_at(t, R, T / 2)
    I2 = value_at(t, R, T / 4) - value_at(t, R, T / 8)
    S = R.shape[-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = I0.mean(-1) / I2.mean(-1)
    if S >= 2 and not np.all(I0 == I0[..., :1]):
        stat = lambda a, b, axis: np.mean(a, axis) / np.where(np.mean(b, axis) > 0,
                                                                np.mean(b, axis), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
            ci = scipy.stats.bootstrap((I0, I2), stat, paired=True, vectorized=True, axis=-1,
                                       n_resamples=n_resamples, confidence_level=level,
                                       method="percentile", rng=np.random.default_rng(seed))
        rho_lo, rho_hi = ci.confidence_interval.low, ci.confidence_interval.high
        inc_hi = I0.mean(-1) + scipy.stats.t.ppf(0.5 + level / 2, S - 1) * scipy.stats.sem(I0, -1)
    else:
        rho_lo = rho_hi = rho
        inc_hi = I0.mean(-1)
    b, b_lo, b_hi = log_slope(t, R, 0.1, level, n_resamples, seed)
    final = R[..., -1].mean(-1)
    share = np.divide(I0.mean(-1), final, out=np.zeros_like(final), where=final > 0)
    # a ratio without a denominator (no regret two doublings back) is never evidence of dying
    dies = (np.nan_to_num(inc_hi, nan=0.0) <= floor * np.log(2)) | \
        (np.nan_to_num(np.asarray(rho_hi, np.float64), nan=np.inf) < 0.5)
    persists = ~dies & (np.asarray(b_lo) > floor)
    cls = np.where(share >= 0.25, "linear", np.where(dies, "dies out",
                                                     np.where(persists, "persists", "undetermined")))
    return {"class": cls, "rho": rho, "rho_low": np.asarray(rho_lo), "rho_high": np.asarray(rho_hi),
            "slope": b, "slope_low": b_lo, "slope_high": b_hi, "increment": I0.mean(-1),
            "increment_high": inc_hi, "share": share}
