"""Dial statistics (experiments/dial/stats.py): definitions on synthetic curves with known
answers, estimators against SciPy."""
import numpy as np
import scipy.stats

from experiments.dial import stats as ds


def test_excess_reads_R_at_n0_exactly_on_a_checkpoint():
    ck = np.array([1, 10, 100, 1000])
    R = np.array([[[1.0, 10.0, 60.0, 70.0]]])
    np.testing.assert_allclose(ds.excess(ck, R, 100)[0, 0], [-59, -50, 0, 10])
    np.testing.assert_allclose(ds.excess(ck, R, 0)[0, 0], R[0, 0])


def test_burn_in_of_an_exponential_approach():
    ck = np.arange(1, 10_001)
    A = 10 * (1 - np.exp(-ck / 100.0))  # within 5% of the limit after 100 ln 20 ~ 300 rounds
    burn = ds.burn_in(ck, A[None], n0=0)
    assert abs(burn[0] - 100 * np.log(20)) <= 2
    assert ds.burn_in(ck, np.where(ck > 500, A - A[499], 0.0)[None], n0=500)[0] == \
        ds.burn_in(ck, A[None], n0=0)[0]  # counted from n0
    assert ds.burn_in(ck, np.zeros((1, ck.size)), n0=0)[0] == 0


def test_plateau_is_the_unlocked_seeds_mean_with_a_t_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(5, 2, size=(3, 20))
    locked = rng.random((3, 20)) < 0.3
    mean, lo, hi, n = ds.plateau(x, locked)
    for i in range(3):
        keep = x[i][~locked[i]]
        ci = scipy.stats.t.interval(0.95, keep.size - 1, loc=keep.mean(), scale=scipy.stats.sem(keep))
        np.testing.assert_allclose([mean[i], lo[i], hi[i]], [keep.mean(), *ci], rtol=1e-10)
        assert n[i] == keep.size
    m1, lo1, _, n1 = ds.plateau(x[:1], np.arange(20)[None] > 0)  # one unlocked seed: no interval
    assert n1[0] == 1 and m1[0] == x[0, 0] and np.isnan(lo1[0])


def test_lock_probability_is_clopper_pearson():
    locked = np.zeros((4, 50), bool)
    for i, k in enumerate((0, 1, 17, 50)):
        locked[i, :k] = True
    p, lo, hi = ds.lock_probability(locked)
    for i, k in enumerate((0, 1, 17, 50)):
        ci = scipy.stats.binomtest(k, 50).proportion_ci(0.95, method="exact")
        np.testing.assert_allclose([p[i], lo[i], hi[i]], [k / 50, ci.low, ci.high], atol=1e-12)


def test_spearman_and_slope_match_scipy_with_intervals_around_them():
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=60)
    y = 3 * x**-0.7 * rng.lognormal(0, 0.5, size=60)
    s, l = ds.spearman(x, y), ds.loglog_slope(x, y)
    np.testing.assert_allclose(s["rho"], scipy.stats.spearmanr(x, y)[0], rtol=1e-12)
    np.testing.assert_allclose(l["slope"], scipy.stats.linregress(np.log(x), np.log(y)).slope,
                               rtol=1e-12)
    assert s["ci"][0] < s["rho"] < s["ci"][1] and l["ci"][0] < l["slope"] < l["ci"][1]
    assert l["ci"][0] < -0.7 < l["ci"][1]
    exact = ds.loglog_slope(x, 2 * x**-1.5)  # an exact power law: every resample gives -1.5
    np.testing.assert_allclose([exact["slope"], *exact["ci"]], -1.5, rtol=1e-10)


def test_spearman_ranks_infinities_and_skips_nan():
    x = np.array([1.0, 2.0, np.inf, 4.0, np.nan])
    y = np.array([1.0, 2.0, 5.0, 3.0, 0.0])
    np.testing.assert_allclose(ds.spearman(x, y)["rho"], scipy.stats.spearmanr(
        [1, 2, 4, 3], [1, 2, 4, 3])[0])
    assert ds.loglog_slope(x, y)["n"] == 3  # inf and nan dropped from the logs


def test_within_association_removes_each_lines_level():
    """Lines y = a_g x^-1 with levels a_g rising with x: pooled, the slope is positive; within
    lines it is exactly -1."""
    x = np.tile([1.0, 2.0, 4.0, 8.0], 3) * np.repeat([1.0, 10.0, 100.0], 4)
    a = np.repeat([1.0, 1e3, 1e6], 4)
    y = a / x
    g = np.repeat([0, 1, 2], 4)
    assert ds.loglog_slope(x, y)["slope"] > 0
    w = ds.within_association(x, y, g)
    np.testing.assert_allclose([w["slope"], *w["slope_ci"]], -1.0, rtol=1e-10)
    np.testing.assert_allclose([w["rho"], *w["rho_ci"]], -1.0)
    flat = ds.within_association(np.ones(12), y, g)  # x never moves within a line: no answer
    assert flat["n_groups"] == 0 and np.isnan(flat["slope"])


def test_partial_slope_matches_least_squares_and_sees_through_a_confounder():
    import statsmodels.api as sm
    rng = np.random.default_rng(2)
    gap = rng.lognormal(size=80)
    x = gap**2 * rng.lognormal(0, 0.3, size=80)  # x tracks the control
    y = gap**1.5 * rng.lognormal(0, 0.1, size=80)  # y depends on the control only
    fit = sm.OLS(np.log(y), sm.add_constant(np.column_stack([np.log(x), np.log(gap)]))).fit()
    p = ds.partial_slope(x, y, gap)
    np.testing.assert_allclose(p["slope"], fit.params[1], rtol=1e-8)
    assert p["ci"][0] < 0 < p["ci"][1]  # nothing beyond the control
    assert ds.loglog_slope(x, y)["ci"][0] > 0.5  # while the plain slope is large


def test_warm_regret_is_exact_on_a_checkpoint_and_extrapolated_along_the_warm_start():
    """Uniform play pays a constant mean rate, so R(n0) between checkpoints is read from the last
    checkpoint before n0 scaled by n0 / t (not interpolated towards greedy's rounds after n0)."""
    ck = np.array([1, 10, 80, 150, 1000])
    R = np.array([[0.5, 5.0, 40.0, 52.0, 60.0]])  # rate 0.5 until n0 = 100, then greedy
    np.testing.assert_allclose(ds.warm_regret(ck, R, 100), [50.0])
    np.testing.assert_allclose(ds.warm_regret(ck, R, 80), [40.0])
    np.testing.assert_allclose(ds.warm_regret(ck, R, 0), [0.0])
    np.testing.assert_allclose(ds.excess(ck, R, 100)[0], R[0] - 50.0)


def test_line_slope_recovers_a_power_law_from_seed_noise():
    rng = np.random.default_rng(3)
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    S = 40
    locked = rng.random((5, S)) < 0.1
    falling = 10 * x[:, None] ** -0.5 * rng.lognormal(0, 0.3, (5, S))
    s = ds.line_slope(x, falling, locked)
    assert s["ci"][0] < -0.5 < s["ci"][1] and s["ci"][1] < 0
    flat = 10 * rng.lognormal(0, 0.3, (5, S))
    f = ds.line_slope(x, flat, locked)
    assert f["ci"][0] < 0 < f["ci"][1]
    # the point estimate is the plain least-squares slope on the unlocked seeds' means
    keep = ~locked
    y = (falling * keep).sum(1) / keep.sum(1)
    np.testing.assert_allclose(s["slope"], scipy.stats.linregress(np.log(x), np.log(y)).slope)
