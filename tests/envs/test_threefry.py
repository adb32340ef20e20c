"""jaxpa's unrolled Threefry key implementation (envs/threefry.py) gives JAX's default Threefry
bits: the hash against ``jax.extend.random.threefry_2x32``; split, fold_in, every width of
random bits and the samplers built on them against the same draws from ``jax.random.key``; jit
== no jit; vmap[i] == one key; keys of other implementations pass through unchanged."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from jax.extend.random import threefry_2x32

from jaxpa.envs.threefry import THREEFRY, as_default, as_unrolled, hash2x32

SEEDS = (0, 1, 2**31 - 1, 987654321)
DRAWS = {
    "split_3": lambda k: jax.random.key_data(jax.random.split(k, 3)),
    "split_2x3": lambda k: jax.random.key_data(jax.random.split(k, (2, 3))),
    "fold_in": lambda k: jax.random.key_data(jax.random.fold_in(k, 2**31 - 1)),
    "bits8": lambda k: jax.random.bits(k, (5,), jnp.uint8),
    "bits16": lambda k: jax.random.bits(k, (2, 3), jnp.uint16),
    "bits32": lambda k: jax.random.bits(k, (7,)),
    "uniform_scalar": lambda k: jax.random.uniform(k),
    "uniform_3x4": lambda k: jax.random.uniform(k, (3, 4)),
    "normal": lambda k: jax.random.normal(k, (6,)),
    "bernoulli": lambda k: jax.random.bernoulli(k, 0.3, (11,)),
    "categorical": lambda k: jax.random.categorical(k, jnp.log(jnp.arange(1.0, 6.0)), shape=(9,)),
    "randint": lambda k: jax.random.randint(k, (4,), 0, 100),
    "permutation": lambda k: jax.random.permutation(k, 10),
}


def test_hash_is_jax_threefry_2x32():
    k = jnp.array([0x13198A2E, 0x03707344], jnp.uint32)
    x = jax.random.bits(jax.random.key(5), (2, 33))
    ref = threefry_2x32(k, x.reshape(-1)).reshape(2, 33)
    np.testing.assert_array_equal(jnp.stack(hash2x32(k[0], k[1], x[0], x[1])), ref)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_same_draws_as_the_default_key(seed, name):
    f, key = DRAWS[name], jax.random.key(seed)
    fast = as_unrolled(key)
    assert jax.random.key_impl(fast) == THREEFRY
    ref = f(key)
    np.testing.assert_array_equal(f(fast), ref)
    np.testing.assert_array_equal(jax.jit(f)(fast), ref)
    keys = jax.random.split(key, 4)
    batched = jax.jit(jax.vmap(f))(as_unrolled(keys))
    np.testing.assert_array_equal(batched, jax.vmap(f)(keys))
    np.testing.assert_array_equal(batched[2], f(keys[2]))


def test_round_trip_and_other_impls_unchanged():
    tree = {"k": jax.random.split(jax.random.key(3), 2), "x": jnp.ones(2),
            "rbg": jax.random.key(3, impl="rbg")}
    fast = as_unrolled(tree)
    assert jax.random.key_impl(fast["rbg"]) == jax.random.key_impl(tree["rbg"])
    back = as_default(fast)
    assert jax.random.key_impl(back["k"]) == jax.random.key_impl(jax.random.key(0))
    np.testing.assert_array_equal(jax.random.key_data(back["k"]), jax.random.key_data(tree["k"]))
