"""Permanent lock-in as a measured quantity: which cells locked over [T/2, T] are still locked on
the same response after the run is continued to factor * T (``simulate(..., track_cells=True,
continue_factor=factor)``), per run and, over seeds, per draw with a Wilson interval.

A cell (u, x) is locked over a window when it was visited at least ``min_plays`` times there and
every visit served one and the same suboptimal response (``lock_in``). A lock is *permanent* (as
far as the continuation can tell) when the cell is locked over [T/2, T] and again over
[factor T / 2, factor T] on the same response; a run has a permanent lock when some cell has one.
Rounds (T, factor T / 2) are not inspected: a lock that breaks and re-forms on the same response
there counts as permanent. Unhealthy runs (``Curves.nonfinite_at`` > 0) are left out of the
per-draw shares and counted.
"""
from __future__ import annotations

import numpy as np
import scipy.stats

from jaxpa.diagnostics.curve_stats import lock_in, value_at


def wilson_interval(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """SciPy's Wilson score interval of k / n, elementwise over arrays of counts (NaN where
    n = 0): (low, high)."""
    k, n = np.broadcast_arrays(np.asarray(k, int), np.asarray(n, int))
    low, high = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    for i in np.ndindex(k.shape):
        if n[i] > 0:
            ci = scipy.stats.binomtest(int(k[i]), int(n[i])).proportion_ci(level, "wilson")
            low[i], high[i] = ci.low, ci.high
    return low, high


def permanent_lock(curves, instance, horizon: int, min_plays: int = 5,
                   level: float = 0.95) -> dict:
    """Permanent lock-in of a continued run's Curves (``cells_at_horizon`` over [T/2, T],
    ``cells`` over the continued run's last half; horizon: T; module docstring).

    Returns NumPy arrays, leading axes those of the runs [..., S] (S seeds last) or of the draws
    [...] (seeds reduced): locked_at_T, still_locked [..., S, N, M] bool; locked_run,
    permanent_run [..., S] bool (some cell locked over [T/2, T]; some cell still locked);
    late_regret [..., S] (R(factor T) - R(T)); healthy [..., S]; and per draw, over healthy
    seeds: n_healthy, n_unhealthy, p_lock (share of runs with a lock at T), p_permanent with
    its Wilson interval p_permanent_low / p_permanent_high at ``level``, and persist_share (of
    the runs locked at T, the share whose lock is permanent; NaN without one)."""
    if curves.cells_at_horizon is None or curves.cells is None:
        raise ValueError("permanent_lock: needs a continued run with its cells tracked "
                         "(simulate(..., track_cells=True, continue_factor=c))")
    end = int(np.asarray(curves.checkpoints)[-1])
    if not 0 < horizon < end:
        raise ValueError(f"permanent_lock: horizon {horizon} must lie inside the run (1..{end})")
    first_T = np.asarray(curves.cells_at_horizon.first)
    first_end = np.asarray(curves.cells.first)
    at_T = lock_in(curves.cells_at_horizon, instance, min_plays)["locked"]
    at_end = lock_in(curves.cells, instance, min_plays)["locked"]
    still = at_T & at_end & (first_T == first_end)
    healthy = curves.healthy
    locked_run, permanent_run = at_T.any((-2, -1)), still.any((-2, -1))
    n = healthy.sum(-1)
    k_lock, k_perm = (locked_run & healthy).sum(-1), (permanent_run & healthy).sum(-1)
    low, high = wilson_interval(k_perm, n, level)
    late = (value_at(curves.checkpoints, curves.regret, end)
            - value_at(curves.checkpoints, curves.regret, horizon))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"locked_at_T": at_T, "still_locked": still, "locked_run": locked_run,
                "permanent_run": permanent_run, "late_regret": late, "healthy": healthy,
                "n_healthy": n, "n_unhealthy": (~healthy).sum(-1),
                "p_lock": np.where(n > 0, k_lock / n, np.nan),
                "p_permanent": np.where(n > 0, k_perm / n, np.nan),
                "p_permanent_low": low, "p_permanent_high": high,
                "persist_share": np.where(k_lock > 0, k_perm / np.maximum(k_lock, 1), np.nan)}
