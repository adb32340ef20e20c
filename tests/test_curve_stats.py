"""Regret-curve statistics (jaxpa/diagnostics/curve_stats.py) on synthetic curves with a known
late slope (0 and c > 0) and a known share of stuck seeds, checked against statsmodels; and on
real runs of the two ends of every plot (oracle: bounded at 0; uniform: linear, all seeds stuck)."""
import json

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.weightstats import DescrStatsW

import jax

from jaxpa.diagnostics import (curve_stats, curve_verdict, log_slope, plateau_test, seed_slopes,
                               stats_summary, stuck_fraction)
from jaxpa.diagnostics.curve_stats import value_at
from jaxpa.runner.simulate import log_checkpoints

T = 20_000
CKPTS = log_checkpoints(T, 60)


def log_curves(c, n_seeds=24, seed=0, noise=0.0):
    """R_s(t) = a_s + c_s log(t) with c_s ~ c (1 + 0.2 N(0, 1)), clipped at 0: [S, C]."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 5, (n_seeds, 1))
    cs = c * (1 + 0.2 * rng.normal(size=(n_seeds, 1)))
    R = a + cs * np.log(CKPTS)[None] + noise * rng.normal(size=(n_seeds, CKPTS.size))
    return R, cs[:, 0]


def plateau_curves(n_seeds=24, seed=1):
    """Bounded: R_s(t) = a_s (1 - exp(-t / tau_s)), burn-in tau_s <= 100 << T."""
    rng = np.random.default_rng(seed)
    a, tau = rng.uniform(1, 10, (n_seeds, 1)), rng.uniform(20, 100, (n_seeds, 1))
    return a * (1 - np.exp(-CKPTS[None] / tau))


def test_value_at_interpolates_and_hits_checkpoints():
    R, _ = log_curves(1.0)
    np.testing.assert_allclose(value_at(CKPTS, R, float(CKPTS[7])), R[:, 7])
    t = 0.5 * (CKPTS[20] + CKPTS[21])
    np.testing.assert_allclose(value_at(CKPTS, R, t), 0.5 * (R[:, 20] + R[:, 21]))
    np.testing.assert_allclose(value_at(CKPTS, R, 0.0), 0.0)


@pytest.mark.parametrize("c", [0.0, 0.7, 3.0])
def test_late_slope_of_log_curves(c):
    R, cs = log_curves(c)
    b, lo, hi = log_slope(CKPTS, R)
    assert b == pytest.approx(cs.mean(), abs=1e-9)  # exact: the curves are linear in log t
    assert lo - 1e-12 <= cs.mean() <= hi + 1e-12
    # statsmodels OLS of the mean curve on log t over the same late checkpoints gives b too
    late = CKPTS >= 0.1 * T
    fit = sm.OLS(R.mean(0)[late], sm.add_constant(np.log(CKPTS[late]))).fit()
    assert b == pytest.approx(fit.params[1], rel=1e-9, abs=1e-12)
    if c > 0:
        assert lo > 0 and hi - lo < 0.5 * c and curve_verdict(curve_stats(
            checkpoints=CKPTS, regret=R)) == "log-growth"


def test_slope_of_a_plateau_is_zero_and_verdict_bounded():
    R = plateau_curves()
    st = curve_stats(checkpoints=CKPTS, regret=R, mistakes=np.zeros_like(R))
    assert max(abs(st.slope), abs(st.slope_low), abs(st.slope_high)) < 1e-6
    assert abs(st.added_mean) < 1e-6 and st.stuck_fraction == 0.0
    assert curve_verdict(st) == "bounded"


def test_plateau_ci_matches_statsmodels():
    R, _ = log_curves(1.0, noise=0.3, seed=4)
    mean, lo, hi = plateau_test(CKPTS, R, level=0.9)
    added = R[:, -1] - value_at(CKPTS, R, T / 2)
    ref_lo, ref_hi = DescrStatsW(added).tconfint_mean(alpha=0.1)
    assert mean == pytest.approx(added.mean()) and lo == pytest.approx(ref_lo)
    assert hi == pytest.approx(ref_hi)
    assert np.log(2) * 0.7 < mean < np.log(2) * 1.3  # b log 2 with b = 1 +- 20% noise


def test_bootstrap_is_deterministic_and_covers():
    """Fixed seed: the same CI twice. Coverage of the percentile CI for the mean slope over
    fresh synthetic populations is near its level (20 seeds; percentile bootstraps undercover a
    little at this size)."""
    R, _ = log_curves(1.0, seed=5)
    assert log_slope(CKPTS, R) == log_slope(CKPTS, R)
    hits = 0
    for rep in range(150):
        R, _ = log_curves(1.0, n_seeds=20, seed=100 + rep)
        _, lo, hi = log_slope(CKPTS, R, n_resamples=500, seed=rep)
        hits += lo <= 1.0 <= hi  # the population mean slope
    assert 0.85 <= hits / 150 <= 0.99


def test_stuck_fraction_and_linear_verdict():
    """Seeds 0..5 stuck (a mistake every round, regret 0.3 a round); the others learn."""
    S, stuck = 16, 6
    R = plateau_curves(S)
    M = np.minimum(CKPTS[None], 40).repeat(S, 0).astype(float)
    R[:stuck] = 0.3 * CKPTS[None]
    M[:stuck] = CKPTS[None]
    assert stuck_fraction(CKPTS, M) == pytest.approx(stuck / S)
    st = curve_stats(checkpoints=CKPTS, regret=R, mistakes=M)
    assert st.stuck_fraction == pytest.approx(stuck / S) and curve_verdict(st) == "linear"
    summary = stats_summary(st)
    assert summary["verdict"] == "linear" and json.loads(json.dumps(summary)) == summary
    # a seed with mistakes in exactly 40% of [T/2, T] is not stuck
    M2 = np.where(CKPTS <= T / 2, CKPTS, T / 2 + 0.4 * (CKPTS - T / 2))[None].astype(float)
    assert stuck_fraction(CKPTS, M2) == 0.0


def test_batched_axes_and_bad_input():
    R = np.stack([log_curves(0.5)[0], plateau_curves()])  # [2, S, C]
    st = curve_stats(checkpoints=CKPTS, regret=R)
    assert st.slope.shape == (2,) and list(curve_verdict(st)) == ["log-growth", "bounded"]
    assert np.isnan(st.stuck_fraction).all()
    b, _ = seed_slopes(CKPTS, R)
    assert st.slope[0] == pytest.approx(b[0].mean())
    with pytest.raises(ValueError, match="late"):
        log_slope(CKPTS, R, late_fraction=0.999)
    with pytest.raises(ValueError, match="regret"):
        plateau_test(CKPTS, R[..., :-1])
    with pytest.raises(ValueError, match="checkpoints"):
        plateau_test(CKPTS[::-1], R)


def test_on_real_runs_oracle_bounded_uniform_linear():
    from jaxpa.envs.instance import Instance
    from jaxpa.learners import make_learner
    from jaxpa.runner import simulate

    # two users, one prompt, K = 4 responses with distinct rewards for both users
    inst = Instance.create(features=[[[0, 0], [1, 0.3], [-0.2, 1], [-1, -1]]], reference=[0],
                           heads=[[1, 0], [0, 1]], W=[[1, 0], [0, 1]])
    key = jax.random.key(1)
    oracle = simulate(key, inst, make_learner("oracle", "bt_ref"), horizon=400, n_seeds=8,
                      n_checkpoints=30)
    st = curve_stats(oracle)
    assert curve_verdict(st) == "bounded" and st.stuck_fraction == 0.0 and st.final_mean == 0.0
    uniform = simulate(key, inst, make_learner("uniform", "bt_ref"), horizon=400, n_seeds=8,
                       n_checkpoints=30)
    st = curve_stats(uniform)
    assert curve_verdict(st) == "linear" and st.stuck_fraction == 1.0  # K=4: P(mistake) = 3/4
    assert st.added_low > 0
