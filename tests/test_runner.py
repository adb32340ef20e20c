"""The engine against itself: same key == same result, vmap[i] == single run, jit == no jit,
chunked == one scan, instance batches and hyperparameter sweeps == separate runs, no recompiles."""
import importlib

import numpy as np
import pytest
import jax
import jax.numpy as jnp
import chex

from jaxpa import make_learner, simulate
from jaxpa.learners import GreedyHParams
from jaxpa.runner import advance, init_carry, log_checkpoints, rollout, seed_keys
from tests.helpers import tiny_f1, tiny_f2

T, S = 120, 6
GREEDY = make_learner("greedy", "bt_ref")
HP = GreedyHParams(ridge=jnp.float32(1.0), warm_start=jnp.int32(10))


@pytest.fixture(scope="module")
def base():
    return simulate(jax.random.key(3), tiny_f1(), GREEDY, HP, horizon=T, n_seeds=S)


def _single(seed_key, inst, hparams, learner=GREEDY):
    ck = jnp.asarray(log_checkpoints(T))
    carry = init_carry(learner, inst, hparams, ck.shape[0])
    return jax.jit(lambda c: advance(learner, seed_key, inst, hparams, c, ck, T))(carry)


def test_same_key_same_result_and_other_key_differs(base):
    again = simulate(jax.random.key(3), tiny_f1(), GREEDY, HP, horizon=T, n_seeds=S)
    chex.assert_trees_all_equal(base, again)
    other = simulate(jax.random.key(4), tiny_f1(), GREEDY, HP, horizon=T, n_seeds=S)
    assert not np.array_equal(base.regret, other.regret)


def test_shapes_and_monotone_curves(base):
    C = len(log_checkpoints(T))
    chex.assert_shape([base.regret, base.mistakes], (S, C))
    assert base.regret.dtype == jnp.float32 and base.mistakes.dtype == jnp.int32
    assert int(base.checkpoints[-1]) == T and T // 2 in np.asarray(base.checkpoints)
    assert np.all(np.diff(base.regret, axis=-1) >= 0) and np.all(np.diff(base.mistakes, axis=-1) >= 0)
    assert np.all(base.mistakes <= base.checkpoints)


def test_vmap_equals_single_runs(base):
    keys = seed_keys(jax.random.key(3), S)
    for i in (0, S - 1):
        one = _single(keys[i], tiny_f1(), HP)
        np.testing.assert_allclose(base.regret[i], one.curve_regret, rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(base.mistakes[i], one.curve_mistakes)


def test_seed_stream_does_not_depend_on_n_seeds(base):
    fewer = simulate(jax.random.key(3), tiny_f1(), GREEDY, HP, horizon=T, n_seeds=2)
    np.testing.assert_allclose(fewer.regret, base.regret[:2], rtol=1e-6, atol=1e-5)


def test_jit_equals_no_jit():
    keys = seed_keys(jax.random.key(5), 1)
    jitted = _single(keys[0], tiny_f2(), HP)
    ck = jnp.asarray(log_checkpoints(T))
    with jax.disable_jit():
        carry = init_carry(GREEDY, tiny_f2(), HP, ck.shape[0])
        eager = advance(GREEDY, keys[0], tiny_f2(), HP, carry, ck, T)
    np.testing.assert_allclose(jitted.curve_regret, eager.curve_regret, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(jitted.curve_mistakes, eager.curve_mistakes)
    np.testing.assert_allclose(jitted.state.theta, eager.state.theta, rtol=1e-4, atol=1e-5)


def test_chunked_equals_one_scan(base):
    seen = []
    chunked = simulate(jax.random.key(3), tiny_f1(), GREEDY, HP, horizon=T, n_seeds=S, chunk=50,
                       on_chunk=lambda t, c: seen.append((t, np.asarray(c.regret).copy())))
    assert [t for t, _ in seen] == [50, 100, 120]
    np.testing.assert_allclose(chunked.regret, base.regret, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(chunked.mistakes, base.mistakes)
    # partial curves hold the final values at checkpoints already passed
    ck = np.asarray(base.checkpoints)
    np.testing.assert_allclose(seen[0][1][:, ck <= 50], base.regret[:, ck <= 50], rtol=1e-6)


def test_instance_batch_equals_separate_runs():
    a, b = tiny_f1(), tiny_f1().replace(W=-tiny_f1().W)
    batch = jax.tree.map(lambda x, y: jnp.stack([x, y]), a, b)
    both = simulate(jax.random.key(9), batch, GREEDY, HP, horizon=T, n_seeds=3)
    assert both.regret.shape[:2] == (2, 3)
    for i, inst in enumerate((a, b)):
        one = simulate(jax.random.key(9), inst, GREEDY, HP, horizon=T, n_seeds=3)
        np.testing.assert_allclose(both.regret[i], one.regret, rtol=1e-5, atol=1e-4)


def test_hparam_sweep_equals_separate_runs():
    sweep = GreedyHParams(ridge=jnp.array([0.5, 1.0, 4.0]), warm_start=jnp.int32(10))
    swept = simulate(jax.random.key(2), tiny_f2(), GREEDY, sweep, horizon=T, n_seeds=3)
    assert swept.regret.shape[:2] == (3, 3)
    for i, ridge in enumerate((0.5, 1.0, 4.0)):
        one = simulate(jax.random.key(2), tiny_f2(), GREEDY,
                       GreedyHParams(ridge=jnp.float32(ridge), warm_start=jnp.int32(10)),
                       horizon=T, n_seeds=3)
        np.testing.assert_allclose(swept.regret[i], one.regret, rtol=1e-5, atol=1e-4)


def test_second_call_with_new_values_does_not_recompile():
    sim = importlib.import_module("jaxpa.runner.simulate")
    kw = dict(horizon=T, n_seeds=2)
    simulate(jax.random.key(0), tiny_f2(), GREEDY, HP, **kw)
    before = sim.compiled_program._cache_size()
    new_hp = GreedyHParams(ridge=jnp.float32(3.0), warm_start=jnp.int32(0))
    new_inst = tiny_f2().replace(W=2.0 * tiny_f2().W)
    simulate(jax.random.key(1), new_inst, make_learner("greedy", "bt_ref"), new_hp, **kw)
    assert sim.compiled_program._cache_size() == before


def test_rollout_matches_simulate():
    """The per-round log and the checkpointed curves come from the same rounds."""
    key = seed_keys(jax.random.key(3), S)[1]
    _, rec = jax.jit(lambda k: rollout(GREEDY, k, tiny_f1(), HP, T))(key)
    one = _single(key, tiny_f1(), HP)
    ck = np.asarray(log_checkpoints(T))
    np.testing.assert_allclose(np.cumsum(rec.regret)[ck - 1], one.curve_regret, rtol=1e-5, atol=1e-4)
    assert rec.action.shape == (T, 1) and rec.context.features.shape == (T, 3, 2)
