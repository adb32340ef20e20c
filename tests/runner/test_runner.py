"""The engine against itself: same key == same result, vmap[i] == single run, jit == no jit,
chunked == one loop, instance batches and hyperparameter sweeps == separate runs, no recompiles
for new values, rollout == simulate; and the runner's bookkeeping (checkpoints, seed buckets,
the learner's init key, bt_duel's side-by-side regrets)."""
import importlib

import numpy as np
import pytest
import jax
import jax.numpy as jnp
import chex

from jaxpa import Learner, make_learner, rollout, set_hparams, simulate
from jaxpa.learners import NoHParams, keep_state
from jaxpa.runner import log_checkpoints, seed_bucket, seed_keys
from jaxpa.runner.simulate import INIT_ROUND
from tests.helpers import stack, tiny_f1

sim = importlib.import_module("jaxpa.runner.simulate")  # the module (jaxpa.runner.simulate is
                                                        # shadowed by the function of that name)
T, S = 120, 6
FB = "bt_ref"
GREEDY = make_learner("greedy", FB)
HP = set_hparams(GREEDY.default_hparams(), ridge=1.0, warm_start=10)


@pytest.fixture(scope="module")
def base():
    return simulate(jax.random.key(3), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=S)


# rollout jitted once per (feedback, learner, horizon): the single-run reference of many tests
ROLLOUT = jax.jit(rollout, static_argnums=(2, 3, 5))


def _rollout_curves(seed_key, inst, hparams, checkpoints, learner=GREEDY, horizon=T):
    """One seed played by ``rollout`` (a scan, no vmap, no checkpoint machinery): cumulative
    regret and mistakes read at the checkpoints."""
    _, rec = ROLLOUT(seed_key, inst, learner.feedback, learner, hparams, horizon)
    regret = np.asarray(rec.regret, np.float64)
    idx = np.asarray(checkpoints) - 1
    return np.cumsum(regret)[idx], np.cumsum(regret > 0)[idx], rec


def test_same_key_same_result_and_other_key_differs(base):
    again = simulate(jax.random.key(3), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=S)
    chex.assert_trees_all_equal(base, again)
    other = simulate(jax.random.key(4), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=S)
    assert not np.array_equal(base.regret, other.regret)


def test_shapes_and_monotone_curves(base):
    ck = np.unique(log_checkpoints(T))  # repeated early checkpoints are dropped
    C = len(ck)
    for x in (base.checkpoints, base.regret, base.mistakes, base.nonfinite_at):
        assert isinstance(x, np.ndarray)
    np.testing.assert_array_equal(base.checkpoints, ck)
    chex.assert_shape([base.regret, base.mistakes], (S, C))
    assert base.regret.dtype == np.float32 and base.mistakes.dtype == np.int32
    assert base.checkpoints[-1] == T and T // 2 in base.checkpoints
    assert np.all(np.diff(base.checkpoints) > 0)
    assert np.all(np.diff(base.regret, axis=-1) >= 0) and np.all(np.diff(base.mistakes, axis=-1) >= 0)
    assert np.all(base.mistakes <= base.checkpoints)
    assert base.nonfinite_at.shape == (S,) and np.all(base.healthy)
    assert base.extra == {} and base.cells is None  # bt_ref has one regret; cells not asked for
    assert np.all(base.regret[:, -1] > 0)


def test_vmap_equals_single_runs(base):
    keys = seed_keys(jax.random.key(3), S)
    for i in (0, S - 1):
        regret, mistakes, _ = _rollout_curves(keys[i], tiny_f1(), HP, base.checkpoints)
        np.testing.assert_allclose(base.regret[i], regret, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(base.mistakes[i], mistakes)


def test_seed_stream_does_not_depend_on_n_seeds(base):
    fewer = simulate(jax.random.key(3), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=2)
    np.testing.assert_allclose(fewer.regret, base.regret[:2], rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(fewer.mistakes, base.mistakes[:2])


def test_jit_equals_no_jit():
    """The runner's program (vmap over seeds inside a loop over rounds), compiled and run op by
    op (a short horizon: op-by-op execution compiles every primitive once)."""
    hp = set_hparams(HP, warm_start=3)
    kw = dict(horizon=8, n_seeds=2)
    jitted = simulate(jax.random.key(5), tiny_f1(), FB, GREEDY, hp, **kw)
    with jax.disable_jit():
        eager = simulate(jax.random.key(5), tiny_f1(), FB, GREEDY, hp, **kw)
    np.testing.assert_allclose(jitted.regret, eager.regret, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(jitted.mistakes, eager.mistakes)
    np.testing.assert_array_equal(jitted.nonfinite_at, eager.nonfinite_at)
    assert jitted.regret[:, -1].max() > 0



def test_chunked_equals_one_loop(base):
    seen = []
    chunked = simulate(jax.random.key(3), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=S,
                       chunk=50, on_chunk=lambda t, c: seen.append((t, np.array(c.regret))))
    assert [t for t, _ in seen] == [50, 100, 120]
    assert all(r.shape == base.regret.shape for _, r in seen)
    np.testing.assert_allclose(chunked.regret, base.regret, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(chunked.mistakes, base.mistakes)
    # partial curves hold the final values at checkpoints already passed, zeros after
    ck = base.checkpoints
    np.testing.assert_allclose(seen[0][1][:, ck <= 50], base.regret[:, ck <= 50], rtol=1e-6)
    assert np.all(seen[0][1][:, ck > 50] == 0)


def test_chunk_larger_than_horizon_is_one_loop(base):
    calls = []
    one = simulate(jax.random.key(3), tiny_f1(), FB, GREEDY, HP, horizon=T, n_seeds=S,
                   chunk=10 * T, on_chunk=lambda t, c: calls.append(t))
    assert calls == [T]
    chex.assert_trees_all_equal(one, base)


FLIPPED = lambda: tiny_f1().replace(W=-tiny_f1().W)  # noqa: E731  a second instance, same shapes
WARM = (0, 30)


def _single(inst, hp, key=jax.random.key(9)):
    """The reference: one instance, scalar hyperparameters, 2 seeds (one shared program)."""
    return simulate(key, inst, FB, GREEDY, hp, horizon=T, n_seeds=2)


def _same(a, b):
    np.testing.assert_allclose(a.regret, b.regret, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(a.mistakes, b.mistakes)
    np.testing.assert_array_equal(a.nonfinite_at, b.nonfinite_at)


def _row(c, *index):
    return jax.tree.map(lambda x: x[index], c.replace(checkpoints=None))


def test_instance_batch_equals_separate_runs():
    both = simulate(jax.random.key(9), stack(tiny_f1(), FLIPPED()), FB, GREEDY, HP, horizon=T,
                    n_seeds=2)
    assert both.regret.shape[:2] == (2, 2) and both.nonfinite_at.shape == (2, 2)
    for i, inst in enumerate((tiny_f1(), FLIPPED())):
        _same(_row(both, i), _single(inst, HP))


def test_hparam_sweep_equals_separate_runs():
    """The warm start (an int leaf nested in the wrapper) sweeps like any other leaf."""
    swept = simulate(jax.random.key(9), tiny_f1(), FB, GREEDY,
                     set_hparams(HP, warm_start=jnp.array(WARM)), horizon=T, n_seeds=2)
    assert swept.regret.shape[:2] == (2, 2)
    for j, m in enumerate(WARM):
        _same(_row(swept, j), _single(tiny_f1(), set_hparams(HP, warm_start=m)))
    assert not np.array_equal(swept.regret[0], swept.regret[1])


def test_batch_and_sweep_axes_come_in_order():
    """[instances, hparams, seeds, C], each run equal to its separate run."""
    c = simulate(jax.random.key(9), stack(tiny_f1(), FLIPPED()), FB, GREEDY,
                 set_hparams(HP, ridge=jnp.array([1.0, 1.0, 4.0]), warm_start=jnp.array(WARM + (5,))),
                 horizon=T, n_seeds=2)
    assert c.regret.shape[:3] == (2, 3, 2) and c.nonfinite_at.shape == (2, 3, 2)
    for i, inst in enumerate((tiny_f1(), FLIPPED())):
        for j, (ridge, m) in enumerate(zip((1.0, 1.0, 4.0), WARM + (5,))):
            _same(_row(c, i, j), _single(inst, set_hparams(HP, ridge=ridge, warm_start=m)))


def test_second_call_with_new_values_does_not_recompile():
    _single(tiny_f1(), HP)
    before = sim.compiled_program._cache_size()
    new_hp = set_hparams(HP, ridge=3.0, warm_start=0)
    new_inst = tiny_f1().replace(W=2.0 * tiny_f1().W)
    simulate(jax.random.key(1), new_inst, FB, make_learner("greedy", FB), new_hp, horizon=T + 7,
             n_seeds=2)
    assert sim.compiled_program._cache_size() == before


def test_rollout_matches_simulate(base):
    """The per-round log and the checkpointed curves come from the same rounds."""
    key = seed_keys(jax.random.key(3), S)[1]
    regret, mistakes, rec = _rollout_curves(key, tiny_f1(), HP, base.checkpoints)
    np.testing.assert_allclose(regret, base.regret[1], rtol=1e-5, atol=1e-4)
    assert rec.action.shape == (T, 1) and rec.context.features.shape == (T, 3, 2)
    np.testing.assert_array_equal(rec.context.t, np.arange(T))
    assert np.all(np.asarray(rec.context.horizon) == T)


def test_bt_duel_reports_weak_and_average_regret():
    learner = make_learner("greedy", "bt_duel")
    c = simulate(jax.random.key(6), tiny_f1(), "bt_duel", learner, horizon=T, n_seeds=3)
    assert set(c.extra) == {"weak"} and c.extra["weak"].shape == c.regret.shape
    weak = c.extra["weak"]
    assert np.all(weak <= c.regret + 1e-6) and np.all(np.diff(weak, axis=-1) >= 0)
    assert np.all(weak >= 0)
    # recomputed from the served pair of one seed: average = r* - mean, weak = r* - max
    _, rec = ROLLOUT(seed_keys(jax.random.key(6), 3)[2], tiny_f1(), learner.feedback, learner,
                     learner.default_hparams(), T)
    np.testing.assert_allclose(np.cumsum(np.asarray(rec.extra["weak"]))[c.checkpoints - 1],
                               weak[2], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.cumsum(np.asarray(rec.regret))[c.checkpoints - 1],
                               c.regret[2], rtol=1e-5, atol=1e-4)


# ---- bookkeeping -------------------------------------------------------------------------------

@pytest.mark.parametrize("horizon", [1, 2, 3, 7, 100, 1000, 10**6, 2**31 - 2])
@pytest.mark.parametrize("n", [1, 5, 50])
def test_log_checkpoints_have_a_fixed_length(horizon, n):
    """The length depends on n only (every horizon shares one compiled program); the rounds are
    sorted, within [1, T], and include T/2 and T."""
    ck = log_checkpoints(horizon, n)
    assert ck.dtype == np.int32 and ck.shape == log_checkpoints(2, n).shape
    assert ck.shape[0] >= n + 2
    assert np.all(np.diff(ck) >= 0) and ck[0] >= 1 and ck[-1] == horizon
    assert max(horizon // 2, 1) in ck


def test_seed_buckets():
    ns = np.arange(1, 300)
    b = np.array([seed_bucket(int(n)) for n in ns])
    assert np.all(b[:8] == ns[:8])                          # exact up to 8
    assert np.all(b >= ns) and np.all(b <= np.ceil(1.25 * ns))  # at most 25% padding
    assert np.all(np.diff(b) >= 0)
    for lo in (8, 16, 32, 64, 128):                          # four sizes per octave
        assert len(set(b[(ns > lo) & (ns <= 2 * lo)])) == 4


def _init_probe(feedback):
    """A learner that plays, every round, the response drawn uniformly from its init key."""
    def init(key, inst, hparams):
        return jax.random.randint(key, (), 0, inst.n_responses, dtype=jnp.int32)

    def act(key, state, ctx, hparams):
        return jnp.full((feedback.n_actions,), state, jnp.int32)

    return Learner("init_probe", feedback, init, act, keep_state, NoHParams)


def test_learner_init_gets_the_documented_key():
    """Seed s of a run initialises the learner with fold_in(fold_in(key, s), 2^31 - 1): its
    per-round regret is the gap of the response that key draws (padded bucket included)."""
    from jaxpa import gaps, make_feedback
    learner, inst, n, key = _init_probe(make_feedback(FB)), tiny_f1(), 9, jax.random.key(11)
    c = simulate(key, inst, FB, learner, horizon=30, n_seeds=n)  # 9 seeds: bucket 10
    ys = [int(jax.random.randint(jax.random.fold_in(jax.random.fold_in(key, s), INIT_ROUND), (),
                                 0, inst.n_responses, dtype=jnp.int32)) for s in range(n)]
    g = np.asarray(gaps(inst))
    _, rec = ROLLOUT(seed_keys(key, n)[4], inst, learner.feedback, learner, NoHParams(), 30)
    assert np.all(np.asarray(rec.action)[:, 0] == ys[4])
    for s, y in enumerate(ys):
        # the seed's regret is that of constant play of y (zero iff y is optimal everywhere)
        assert (c.regret[s, -1] == 0) == bool(np.all(g[..., y] == 0))
    per_round = g[np.asarray(rec.context.user), np.asarray(rec.context.prompt), ys[4]]
    np.testing.assert_allclose(np.cumsum(per_round)[c.checkpoints - 1], c.regret[4],
                               rtol=1e-5, atol=1e-5)
    assert len(set(ys)) > 1  # the seeds' init keys differ
