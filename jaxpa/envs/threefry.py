"""JAX's Threefry-2x32 key stream, drawn with the hash unrolled: the same bits as
``jax.random.key(seed)``, faster on the CPU, through JAX's public API only.

JAX lowers its Threefry hash on the CPU as a rolled 5-step loop (to compile faster); inside the
runner's ``loop(vmap(round))`` every step is a separate XLA loop iteration that cannot be
vectorized (benchmarks/RESULTS.md). ``THREEFRY`` is a key implementation defined with
``jax.extend.random.define_prng_impl`` whose seed, split, fold_in and random_bits are JAX's
Threefry-2x32 functions (the ``jax_threefry_partitionable`` layout, JAX's default) written in
``jax.numpy`` with the 20 rounds unrolled (JAX's own unrolled lowering, in jnp; on a GPU it fuses
with the draws instead of calling JAX's Threefry kernel: not yet measured there). A key's data is
unchanged, so ``as_unrolled`` re-wraps the default Threefry keys of a pytree inside a traced
program (``jax.random.key_data`` -> ``jax.random.wrap_key_data(..., dtype=UNROLLED_DTYPE)``) and
``as_default`` wraps them back: the same stream, the same results, no global state (defining an
implementation registers nothing). Keys of other implementations, and every key when
``jax_threefry_partitionable`` is off (another layout), pass through unchanged.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import define_prng_impl, threefry_prng_impl

Array = jax.Array
DEFAULT = "threefry2x32"  # jax.random.key_impl of jax.random.key(seed) (JAX's default impl)
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x: Array, d: int) -> Array:
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def hash2x32(k1: Array, k2: Array, x1: Array, x2: Array) -> tuple[Array, Array]:
    """Threefry-2x32 (20 rounds) of the counter pairs (x1, x2) under the key (k1, k2), all uint32
    and broadcastable: the pair of uint32 outputs (``jax.extend.random.threefry_2x32``'s hash)."""
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ _rotl(x2, r)
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _counts(shape) -> tuple[Array, Array]:
    """The (high, low) uint32 words of a row-major uint64 counter of ``shape`` (JAX's
    ``iota_2x32_shape``); counters up to 2^32 (larger draws are refused)."""
    n = math.prod(shape)
    if n > 2**32:
        raise NotImplementedError(f"{n} random words from one key: at most 2^32")
    lo = jax.lax.iota(jnp.uint32, n).reshape(shape) if shape else jnp.zeros((), jnp.uint32)
    return jnp.zeros(shape, jnp.uint32), lo


def _split(key: Array, shape) -> Array:
    b1, b2 = hash2x32(key[0], key[1], *_counts(tuple(shape)))
    return jnp.stack([b1, b2], axis=b1.ndim)


def _fold_in(key: Array, data) -> Array:
    b1, b2 = hash2x32(key[0], key[1], jnp.uint32(0), jnp.asarray(data).astype(jnp.uint32))
    return jnp.stack([b1, b2])


def _random_bits(key: Array, bit_width: int, shape) -> Array:
    b1, b2 = hash2x32(key[0], key[1], *_counts(tuple(shape)))
    if bit_width == 64:
        return (b1.astype(jnp.uint64) << np.uint64(32)) | b2.astype(jnp.uint64)
    bits = b1 ^ b2
    return bits if bit_width == 32 else bits.astype({8: jnp.uint8, 16: jnp.uint16}[bit_width])


THREEFRY = define_prng_impl(key_shape=(2,), seed=threefry_prng_impl.seed, split=_split,
                            random_bits=_random_bits, fold_in=_fold_in,
                            name="jaxpa_threefry2x32_unrolled", tag="jfu")


UNROLLED_DTYPE = jax.random.key_dtype(THREEFRY)       # key<jfu>
DEFAULT_DTYPE = jax.random.key_dtype(DEFAULT)         # key<fry>: jax.random.key(seed)'s


def _rewrap(tree, source, target):
    """Every key leaf of dtype ``source`` re-wrapped as ``target`` (the same key data)."""
    def one(x):
        if isinstance(x, jax.Array) and x.dtype == source:
            return jax.random.wrap_key_data(jax.random.key_data(x), dtype=target)
        return x
    return jax.tree.map(one, tree)


def as_unrolled(tree):
    """The pytree with every default-Threefry key re-wrapped as a ``THREEFRY`` key (same data,
    same stream); traceable. Unchanged when ``jax_threefry_partitionable`` is off."""
    if not jax.config.jax_threefry_partitionable:
        return tree
    return _rewrap(tree, DEFAULT_DTYPE, UNROLLED_DTYPE)


def as_default(tree):
    """The inverse of ``as_unrolled``: ``THREEFRY`` keys back to JAX's default Threefry."""
    return _rewrap(tree, UNROLLED_DTYPE, DEFAULT_DTYPE)
