"""The faster random draws: the one-uniform tie-break is uniform over the ties, the unrolled
Threefry lowering gives JAX's bits, and a response compared with itself teaches the learner
exactly nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy import stats

from jaxpa.envs import fast_random
from jaxpa.learners.base import random_argmax

KEYS = jax.random.split(jax.random.key(0), 4000)
VALUES = {
    "all_tied_64": jnp.zeros((64,), jnp.float32),
    "every_third": jnp.where(jnp.arange(10) % 3 == 0, 1.0, -jnp.inf),
    "one_max": jnp.where(jnp.arange(7) == 4, 0.5, 0.0),
    "last_two": jnp.array([0.0, 1.0, -2.0, 3.0, 3.0], jnp.float32),
    "single": jnp.zeros((1,), jnp.float32),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_random_argmax_is_uniform_over_the_ties(name):
    """Only maximal entries are drawn, each with probability 1/n (chi-square over 4,000 draws)."""
    values = VALUES[name]
    draws = np.asarray(jax.jit(jax.vmap(lambda k: random_argmax(k, values)))(KEYS))
    assert draws.dtype == np.int32
    ties = np.flatnonzero(np.asarray(values) == np.max(np.asarray(values)))
    assert set(np.unique(draws)) <= set(ties)
    counts = np.array([(draws == i).sum() for i in ties])
    if len(ties) > 1:
        assert stats.chisquare(counts).pvalue > 1e-4
    else:
        assert counts[0] == len(KEYS)


def test_random_argmax_is_deterministic_per_key_and_vmaps():
    values = jax.random.randint(jax.random.key(1), (500, 9), 0, 3).astype(jnp.float32)
    keys = KEYS[:500]
    batched = jax.jit(jax.vmap(random_argmax))(keys, values)
    single = [int(random_argmax(k, v)) for k, v in zip(keys[:20], values[:20])]
    np.testing.assert_array_equal(batched[:20], single)
    np.testing.assert_array_equal(np.asarray(values)[np.arange(500), np.asarray(batched)],
                                  np.asarray(values).max(axis=1))


DRAWS = """
import json, sys, jax, jax.numpy as jnp
import jaxpa
by_jaxpa = "jaxpa.envs.fast_random" in sys.modules  # importing the engine installs it
from jaxpa.envs.fast_random import UNROLLED_THREEFRY
keys = jax.random.split(jax.random.key(3), 64)
def f(k):
    k1, k2, k3 = jax.random.split(jax.random.fold_in(k, 7), 3)
    return (jax.random.bits(k1, (5,)), jax.random.gumbel(k2, (4,)),
            jax.random.randint(k3, (), 0, 10))
out = jax.jit(jax.vmap(f))(keys)
print(json.dumps({"unrolled": UNROLLED_THREEFRY, "by_jaxpa": by_jaxpa,
                  "draws": [jnp.asarray(o).astype(jnp.float32).tolist() for o in out]}))
"""


def _draws(rolled: bool) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=root,
               JAXPA_ROLLED_THREEFRY="1" if rolled else "0")
    proc = subprocess.run([sys.executable, "-c", DRAWS], env=env, capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_unrolled_threefry_gives_jax_bits():
    assert fast_random.UNROLLED_THREEFRY  # installed in this process
    rolled, unrolled = _draws(True), _draws(False)
    assert not rolled["unrolled"] and unrolled["unrolled"]
    assert unrolled["by_jaxpa"]  # ``import jaxpa`` alone installs the lowering
    assert rolled["draws"] == unrolled["draws"]


def test_reference_against_itself_leaves_the_estimate_at_zero():
    """Rounds where greedy plays the reference y0 carry no information (MODEL.md §8): after such
    a first round theta must be exactly 0, so the next round's tie-break stays uniform."""
    from benchmarks.standard import standard_instance
    from jaxpa import make_learner, rollout
    from jaxpa.runner import seed_keys
    inst, learner = standard_instance(jax.random.key(0)), make_learner("greedy", "bt_ref")
    state, rec = jax.jit(jax.vmap(lambda k: rollout(learner, k, inst, learner.default_hparams(),
                                                    1)))(seed_keys(jax.random.key(7), 200))
    played_ref = np.asarray(rec.action[:, 0, 0] == 0)
    assert played_ref.sum() >= 5  # K = 10: about 1 seed in 10
    assert np.all(np.asarray(state.theta)[played_ref] == 0.0)
    assert np.all(np.abs(np.asarray(state.theta)[~played_ref]).max(axis=1) > 0)
