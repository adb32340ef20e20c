"""When to stop computing bootstrap replicates: the verdict at n_boot replicates, decided early.

The verdict (bootstrap.ud_verdict) compares the fractions of replicates where UD holds, on
resolved and on raw heads, with ``level``. Replicates are computed in looks (``looks``: n/4,
n/2, n of the n_boot replicates, for n_boot >= 40; all at once below). After a look of m
replicates with k_res and k_raw holding, the count each reading would reach at n_boot is
predicted: K = k + X, X ~ BetaBinomial(n_boot - m, k + 1/2, m - k + 1/2) (the Jeffreys
posterior of the hold probability, propagated to the replicates not yet drawn). With A_r =
{K_r >= level n_boot} and F_r = {K_r <= (1 - level) n_boot}, bounds that hold whatever the
dependence of the two readings (Fréchet) give

  P(holds) >= P(A_res) + P(A_raw) - 1,   P(fails) >= P(F_res) + P(F_raw) - 1,
  P(undetermined) >= 1 - min(P(A_res), P(A_raw)) - min(P(F_res), P(F_raw)),

and the bootstrap stops with that verdict as soon as one of these lower bounds is at least
1 - delta (delta = 0.01). The verdict reported is the one predicted for n_boot; its fractions
are over the m replicates computed. tests/audit/test_audit.py checks the rule's error rate
against the full n_boot on simulated replicate outcomes.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

DELTA = 0.01


def looks(n_boot: int) -> list[int]:
    """Replicates computed by each look (cumulative): [n/4, n/2, n] from 40 on, [n] below."""
    if n_boot < 40:
        return [n_boot]
    return sorted({int(np.ceil(n_boot / 4)), int(np.ceil(n_boot / 2)), n_boot})


def _tail(k: int, m: int, n: int, at_least: float | None = None, at_most: float | None = None):
    """P(K >= at_least) or P(K <= at_most) for K = k + BetaBinomial(n - m, k + 1/2, m - k + 1/2)."""
    r = n - m
    X = stats.betabinom(r, k + 0.5, m - k + 0.5)
    if at_least is not None:
        need = int(np.ceil(at_least - 1e-9)) - k
        return 1.0 if need <= 0 else (0.0 if need > r else float(X.sf(need - 1)))
    most = int(np.floor(at_most + 1e-9)) - k
    return 0.0 if most < 0 else (1.0 if most >= r else float(X.cdf(most)))


def decided(k_res: int, k_raw: int, m: int, n_boot: int, level: float,
            delta: float = DELTA) -> str | None:
    """The verdict at n_boot when the module docstring's rule decides it after m replicates
    with k_res and k_raw holding; None when more replicates are needed."""
    if m >= n_boot:
        return None
    a = [_tail(k, m, n_boot, at_least=level * n_boot) for k in (k_res, k_raw)]
    f = [_tail(k, m, n_boot, at_most=(1 - level) * n_boot) for k in (k_res, k_raw)]
    if a[0] + a[1] - 1 >= 1 - delta:
        return "holds"
    if f[0] + f[1] - 1 >= 1 - delta:
        return "fails"
    if 1 - min(a) - min(f) >= 1 - delta:
        return "undetermined"
    return None
