"""Permanent lock-in (``simulate(..., continue_factor=c)``, diagnostics/lock_persistence.py): the
continued run is the same run (its first T rounds are ``simulate``'s to T, its end tracker
``simulate``'s to c T, chunked == unchunked, sharded == single device), and ``permanent_lock``
says "permanent" only for a cell locked on the same response in both windows, shown both ways on
hand-made trackers and on real runs."""
import numpy as np
import pytest
import jax

from jaxpa import InstanceError, make_learner, set_hparams, simulate
from jaxpa.diagnostics import permanent_lock, wilson_interval
from jaxpa.envs.families import FAMILIES
from jaxpa.runner import CellTracker
from jaxpa.runner.curves import Curves
from jaxpa.runner.sharding import simulate_sharded
from tests.helpers import tiny_f1

T, S = 200, 4


@pytest.fixture(scope="module")
def run():
    inst, learner = tiny_f1(), make_learner("greedy", "bt_ref")
    hp = set_hparams(learner.default_hparams(), warm_start=10)
    key = jax.random.key(5)
    cont = simulate(key, inst, "bt_ref", learner, hp, horizon=T, n_seeds=S, chunk=150,
                    track_cells=True, continue_factor=4)
    return inst, learner, hp, key, cont


def test_continuation_is_the_same_run(run):
    inst, learner, hp, key, cont = run
    short = simulate(key, inst, "bt_ref", learner, hp, horizon=T, n_seeds=S, track_cells=True)
    long = simulate(key, inst, "bt_ref", learner, hp, horizon=4 * T, n_seeds=S, track_cells=True)
    for a, b in zip(jax.tree.leaves(cont.cells_at_horizon), jax.tree.leaves(short.cells)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(cont.cells), jax.tree.leaves(long.cells)):
        np.testing.assert_array_equal(a, b)  # greedy with a fixed warm start ignores the horizon
    at = {int(t): i for i, t in enumerate(cont.checkpoints)}
    assert T in at and 4 * T in at and cont.checkpoints[-1] == 4 * T
    for t, ref in ((T, short), (4 * T, long)):
        np.testing.assert_allclose(cont.regret[:, at[t]], ref.regret[:, -1], rtol=1e-6)
    whole = simulate(key, inst, "bt_ref", learner, hp, horizon=T, n_seeds=S, track_cells=True,
                     continue_factor=4)
    np.testing.assert_array_equal(whole.regret, cont.regret)
    sharded = simulate_sharded(key, inst, "bt_ref", learner, hp, horizon=T, n_seeds=S,
                               track_cells=True, continue_factor=4)
    np.testing.assert_array_equal(sharded.regret, cont.regret)
    for a, b in zip(jax.tree.leaves(sharded.cells_at_horizon), jax.tree.leaves(short.cells)):
        np.testing.assert_array_equal(a, b)


def _tracker(plays, first, mixed):
    return CellTracker(plays=np.array(plays), first=np.array(first), mixed=np.array(mixed))


def test_permanent_only_when_locked_on_the_same_response_in_both_windows():
    """Instance tiny_f1: 3 users, 2 prompts, K = 3. Four seeds, cell (0, 0) served one response r
    over [T/2, T]; at the end it is: (s0) still r only, (s1) mixed, (s2) another wrong response
    only, (s3) r only but seed 3 is unhealthy."""
    inst = tiny_f1()
    from jaxpa.envs.instance import gaps
    g = np.asarray(gaps(inst))[0, 0]
    wrong = [int(y) for y in np.argsort(-g)[:2]]  # two suboptimal responses of cell (0, 0)
    assert all(g[y] > 0 for y in wrong)
    shape = (4, 3, 2)
    plays, first, mixed = np.zeros(shape, int), np.full(shape, -1), np.zeros(shape, bool)
    plays[:, 0, 0], first[:, 0, 0] = 10, wrong[0]
    at_T = _tracker(plays, first, mixed)
    end_first, end_mixed = first.copy(), mixed.copy()
    end_mixed[1, 0, 0] = True
    end_first[2, 0, 0] = wrong[1]
    curves = Curves(checkpoints=np.array([T, 4 * T]), regret=np.tile([1.0, 5.0], (4, 1)),
                    mistakes=np.zeros((4, 2), int), nonfinite_at=np.array([0, 0, 0, 7]),
                    cells=_tracker(plays, end_first, end_mixed), cells_at_horizon=at_T)
    out = permanent_lock(curves, inst, T)
    np.testing.assert_array_equal(out["locked_run"], [True, True, True, True])
    np.testing.assert_array_equal(out["permanent_run"], [True, False, False, True])
    assert out["n_healthy"] == 3 and out["n_unhealthy"] == 1
    assert out["p_permanent"] == pytest.approx(1 / 3) and out["persist_share"] == pytest.approx(1 / 3)
    np.testing.assert_allclose(out["late_regret"], 4.0)
    low, high = wilson_interval(1, 3)
    assert out["p_permanent_low"] == pytest.approx(low) and low < 1 / 3 < high


def test_real_runs_both_ways():
    """On a robust_fails draw greedy without warm start locks some seed for good over 4T; the
    oracle never locks (permanent share 0 with its interval)."""
    inst = jax.jit(FAMILIES["robust_fails"])(jax.random.key(0))
    key = jax.random.key(1)
    out = {}
    for name in ("greedy", "oracle"):
        learner = make_learner(name, "bt_ref")
        cont = simulate(key, inst, "bt_ref", learner, horizon=400, n_seeds=16, track_cells=True,
                        continue_factor=4)
        out[name] = permanent_lock(cont, inst, 400)
    assert out["greedy"]["p_permanent"] > 0 and out["greedy"]["p_permanent_low"] > 0
    assert out["oracle"]["p_permanent"] == 0 and out["oracle"]["p_lock"] == 0
    assert out["oracle"]["p_permanent_high"] < 0.25


def test_bad_factor_is_refused():
    greedy = make_learner("greedy", "bt_ref")
    for bad in (1, 2.5, True):
        with pytest.raises(InstanceError, match="continue_factor"):
            simulate(jax.random.key(0), tiny_f1(), "bt_ref", greedy, horizon=10,
                     continue_factor=bad)
    with pytest.raises(ValueError, match="continued run"):
        permanent_lock(simulate(jax.random.key(0), tiny_f1(), "bt_ref", greedy, horizon=10,
                                track_cells=True), tiny_f1(), 5)
