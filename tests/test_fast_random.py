"""The faster random draws change no number: ``fast_random.categorical`` is
``jax.random.categorical`` draw for draw, the unrolled Threefry lowering gives JAX's bits, and a
response compared with itself teaches the learner exactly nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa.envs import fast_random
from jaxpa.envs.fast_random import categorical, first_argmax

KEYS = jax.random.split(jax.random.key(0), 4000)
LOGITS = {
    "uniform64": jnp.log(jnp.full((64,), 1 / 64, jnp.float32)),
    "skewed": jnp.log(jnp.array([0.5, 0.2, 0.2, 0.05, 0.05], jnp.float32)),
    "ties_0_or_-inf": jnp.where(jnp.arange(10) % 3 == 0, 0.0, -jnp.inf),
    "one_allowed": jnp.where(jnp.arange(7) == 4, 0.0, -jnp.inf),
    "single": jnp.zeros((1,), jnp.float32),
}


@pytest.mark.parametrize("name", sorted(LOGITS))
def test_categorical_is_jax_categorical(name):
    logits = LOGITS[name]
    ours = jax.jit(jax.vmap(lambda k: categorical(k, logits)))(KEYS)
    ref = jax.jit(jax.vmap(lambda k: jax.random.categorical(k, logits)))(KEYS)
    np.testing.assert_array_equal(ours, ref)
    assert ours.dtype == jnp.int32
    assert np.all(np.isfinite(np.asarray(logits))[np.asarray(ours)])  # never a -inf category


def test_first_argmax_is_argmax_with_ties():
    x = jax.random.randint(jax.random.key(1), (500, 9), 0, 4).astype(jnp.float32)  # many ties
    x = x.at[:3].set(-jnp.inf)
    np.testing.assert_array_equal(jax.jit(first_argmax)(x), jnp.argmax(x, axis=-1))


def test_categorical_rejects_batched_logits():
    with pytest.raises(ValueError, match="1-D"):
        categorical(KEYS[0], jnp.zeros((2, 3)))


DRAWS = """
import json, jax, jax.numpy as jnp
from jaxpa.envs.fast_random import UNROLLED_THREEFRY
keys = jax.random.split(jax.random.key(3), 64)
def f(k):
    k1, k2, k3 = jax.random.split(jax.random.fold_in(k, 7), 3)
    return (jax.random.bits(k1, (5,)), jax.random.gumbel(k2, (4,)),
            jax.random.randint(k3, (), 0, 10))
out = jax.jit(jax.vmap(f))(keys)
print(json.dumps({"unrolled": UNROLLED_THREEFRY,
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
