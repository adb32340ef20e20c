"""Regret-curve statistics (jaxpa/diagnostics/curve_stats.py) on synthetic curves with a known
late slope (0 and c > 0) and a known share of stuck seeds, checked against statsmodels; on real
runs of the two ends of every plot (oracle: bounded at 0; uniform: linear, all seeds stuck); and
lock-in (``lock_in``) on hand-made cell trackers, against loops over the definition, and on tiny
runs whose tracker is rebuilt from the round-by-round log."""
import json

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.weightstats import DescrStatsW

import jax
import jax.numpy as jnp

from jaxpa import Instance, Learner, make_feedback, make_learner, simulate
from jaxpa.diagnostics import (curve_stats, curve_verdict, log_slope, plateau_test, seed_slopes,
                               stats_summary, stuck_fraction)
from jaxpa.diagnostics.curve_stats import lock_in, value_at
from jaxpa.envs.instance import gaps
from jaxpa.learners import NoHParams, epsilon_greedy, keep_state
from jaxpa.runner import CellTracker, rollout, seed_keys
from jaxpa.runner.simulate import log_checkpoints
from tests.helpers import stack, tiny_f1

T = 20_000
CKPTS = np.unique(log_checkpoints(T, 60))  # the runner's checkpoints, repeats dropped


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
    # two users, one prompt, K = 4 responses with distinct rewards for both users
    inst = Instance.create(features=[[[0, 0], [1, 0.3], [-0.2, 1], [-1, -1]]], reference=[0],
                           heads=[[1, 0], [0, 1]], W=[[1, 0], [0, 1]])
    key = jax.random.key(1)
    oracle = simulate(key, inst, "bt_ref", make_learner("oracle", "bt_ref"), horizon=400,
                      n_seeds=8, n_checkpoints=30)
    st = curve_stats(oracle)
    assert curve_verdict(st) == "bounded" and st.stuck_fraction == 0.0 and st.final_mean == 0.0
    uniform = simulate(key, inst, "bt_ref", make_learner("uniform", "bt_ref"), horizon=400,
                       n_seeds=8, n_checkpoints=30)
    st = curve_stats(uniform)
    assert curve_verdict(st) == "linear" and st.stuck_fraction == 1.0  # K=4: P(mistake) = 3/4
    assert st.added_low > 0


# ---------------------------------------------------------------- lock-in
def lock_instance() -> Instance:
    """d = k = 1, W = 1, heads +1 and -1, two prompts with phi = (0, 1, 2) and (2, 0, 1): rewards
    r_0(x0) = (0, 1, 2), r_0(x1) = (2, 0, 1), r_1 = -r_0; optimal responses y*_0 = (2, 0),
    y*_1 = (0, 1)."""
    return Instance.create(features=[[[0], [1], [2]], [[2], [0], [1]]], reference=[0, 0],
                           heads=[[1.0], [-1.0]], W=[[1.0]])


def _tracker(plays, first, mixed) -> CellTracker:
    return CellTracker(plays=np.asarray(plays, np.int32), first=np.asarray(first, np.int32),
                       mixed=np.asarray(mixed, bool))


def _lock_in_by_loops(cells, gap, min_plays, batched=False):
    """The definition, one cell at a time. gap: [N, M, K] the instance's gaps, or [B, N, M, K]
    a batch's (``batched``: the cells' first axis is the instance)."""
    plays, first, mixed = (np.asarray(x) for x in (cells.plays, cells.first, cells.mixed))
    locked = np.zeros(plays.shape, bool)
    for idx in np.ndindex(plays.shape):
        lead, (u, x) = idx[:-3], idx[-2:]
        g = gap[lead[0]] if batched else gap
        y = first[idx]
        locked[idx] = (plays[idx] >= min_plays and not mixed[idx] and y >= 0
                       and g[u, x, y] > 0)
    visited = plays >= min_plays
    return {"locked": locked,
            "cell_fraction": locked.sum((-3, -2, -1)) / np.maximum(visited.sum((-3, -2, -1)), 1),
            "seed_any": locked.any((-2, -1)).mean(-1), "user_any": locked.any(-1).mean(-2)}


def test_lock_in_on_hand_made_trackers():
    """Three seeds of the lock instance, the answer worked out by hand: seed 0 plays y* in every
    cell; seed 1 locks cell (0, 0) on y = 0 (6 plays), plays y = 0 only 4 times in (1, 1) (too few
    to count), serves two responses in (0, 1) (mixed) and never meets (1, 0); seed 2 locks (1, 0)
    on y = 2 with exactly min_plays = 5 plays."""
    inst = lock_instance()
    np.testing.assert_array_equal(np.asarray(gaps(inst))[..., :], [[[2, 1, 0], [0, 2, 1]],
                                                                  [[0, 1, 2], [2, 0, 1]]])
    cells = _tracker(plays=[[[10, 10], [10, 10]], [[6, 7], [0, 4]], [[5, 5], [5, 9]]],
                     first=[[[2, 0], [0, 1]], [[0, 1], [-1, 0]], [[2, 0], [2, 1]]],
                     mixed=[[[0, 0], [0, 0]], [[0, 1], [0, 0]], [[0, 0], [0, 0]]])
    out = lock_in(cells, inst)
    expected = np.zeros((3, 2, 2), bool)
    expected[1, 0, 0] = expected[2, 1, 0] = True
    np.testing.assert_array_equal(out["locked"], expected)
    assert out["cell_fraction"] == pytest.approx(2 / 10)  # visited: 4 + 2 + 4 cells
    assert out["seed_any"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(out["user_any"], [1 / 3, 1 / 3])
    strict = lock_in(cells, inst, min_plays=7)  # (0, 0) of seed 1 and (1, 0) of seed 2 drop out
    assert not strict["locked"].any() and strict["cell_fraction"] == 0.0
    assert strict["seed_any"] == 0.0


def test_lock_in_matches_loops_with_batch_and_sweep_axes():
    """Random trackers with instance [B = 2] and sweep [H = 3] axes against the loops: the gaps
    of instance b are used for the cells of instance b only."""
    flipped = lock_instance().replace(heads=-lock_instance().heads)  # users swap optimal responses
    batch = stack(lock_instance(), flipped)
    rng = np.random.default_rng(0)
    shape = (2, 3, 4, 2, 2)  # [B, H, S, N, M]
    cells = _tracker(plays=rng.integers(0, 9, shape), first=rng.integers(-1, 3, shape),
                     mixed=rng.random(shape) < 0.2)
    out = lock_in(cells, batch, min_plays=3)
    ref = _lock_in_by_loops(cells, np.asarray(jax.vmap(gaps)(batch)), 3, batched=True)
    assert out["locked"].any() and not out["locked"].all()
    for name in ("locked", "cell_fraction", "seed_any", "user_any"):
        np.testing.assert_allclose(out[name], ref[name], err_msg=name)
    assert out["cell_fraction"].shape == out["seed_any"].shape == (2, 3)
    assert out["user_any"].shape == (2, 3, 2)
    # unbatched instance with a sweep axis [H, S, N, M]
    one = jax.tree.map(lambda x: x[0], cells)
    ref = _lock_in_by_loops(one, np.asarray(gaps(lock_instance())), 3)
    np.testing.assert_array_equal(lock_in(one, lock_instance(), 3)["locked"], ref["locked"])


def stubborn(feedback) -> Learner:
    """Always serves response 0."""
    return Learner("stubborn", feedback, lambda key, inst, hp: (),
                   lambda key, state, ctx, hp: jnp.zeros((1,), jnp.int32), keep_state, NoHParams)


def sticky(feedback) -> Learner:
    """Serves response (user + prompt) mod K in every cell: a per-cell habit (wrapped in an
    epsilon coin below, so some cells stay clean and locked, others get mixed)."""
    def act(key, state, ctx, hp):
        return ((ctx.user + ctx.prompt) % ctx.features.shape[0]).astype(jnp.int32)[None]

    return Learner("sticky", feedback, lambda key, inst, hp: (), act, keep_state, NoHParams)


def test_lock_in_on_tiny_runs():
    """A learner that always serves response 0 is locked exactly in the visited cells where 0 is
    suboptimal. For a per-cell habit under an epsilon coin, the runner's tracker equals the one
    rebuilt from the round-by-round log (seed s of ``simulate`` is ``rollout`` with seed key s),
    and lock_in on it equals the loops over the definition."""
    inst, T, S = tiny_f1(), 80, 4
    key = jax.random.key(5)
    fb = make_feedback("bt_ref")
    run = simulate(key, inst, fb, stubborn(fb), horizon=T, n_seeds=S, track_cells=True)
    cells, g = run.cells, np.asarray(gaps(inst))
    assert cells.plays.shape == (S, inst.n_users, inst.n_prompts)
    assert int(np.asarray(cells.plays).sum()) == S * (T - T // 2)  # the last half only
    visited = np.asarray(cells.plays) >= 5
    np.testing.assert_array_equal(np.asarray(cells.first)[visited], 0)
    assert not np.asarray(cells.mixed).any()
    out = lock_in(cells, inst)
    np.testing.assert_array_equal(out["locked"], visited & (g[None, :, :, 0] > 0))
    assert out["locked"].any()  # response 0 is suboptimal somewhere on this instance

    learner = epsilon_greedy(sticky(fb), epsilon=0.15)
    hp = learner.default_hparams()
    curves = simulate(key, inst, fb, learner, hp, horizon=T, n_seeds=S, track_cells=True)
    logs = jax.jit(jax.vmap(lambda k: rollout(k, inst, fb, learner, hp, T)[1]))(
        seed_keys(key, S))
    late = np.arange(T) >= T // 2
    for s in range(S):
        plays = np.zeros((inst.n_users, inst.n_prompts), int)
        served = {}
        for t in np.flatnonzero(late):
            u, x = int(logs.context.user[s, t]), int(logs.context.prompt[s, t])
            plays[u, x] += 1
            served.setdefault((u, x), []).append(int(logs.action[s, t, 0]))
        np.testing.assert_array_equal(curves.cells.plays[s], plays)
        for (u, x), ys in served.items():
            assert curves.cells.first[s, u, x] == ys[0]
            assert bool(curves.cells.mixed[s, u, x]) == (len(set(ys)) > 1)
    ref = _lock_in_by_loops(curves.cells, g, 5)
    out = lock_in(curves.cells, inst)
    mixed = np.asarray(curves.cells.mixed)
    assert out["locked"].any() and mixed.any() and not mixed.all()  # a discriminating case
    for name in ("locked", "cell_fraction", "seed_any", "user_any"):
        np.testing.assert_allclose(out[name], ref[name], err_msg=name)
