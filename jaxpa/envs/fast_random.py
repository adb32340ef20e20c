"""Faster CPU code for the random draws of every round, with bit-for-bit the same results.

Profiling the runner on the CPU (benchmarks/RESULTS.md) showed that most of a round's time went
into random numbers, not into the learner's algebra, for two reasons fixed here:

1. JAX lowers the Threefry hash on the CPU as a rolled ``fori_loop`` (to compile faster); inside
   ``vmap(scan)`` each of its 5 iterations is a separate XLA loop step that cannot be vectorized,
   about 20x slower per random word than the unrolled form JAX uses on GPUs. ``unroll_threefry_on_cpu``
   registers the unrolled lowering for the CPU too. Same hash, same bits; compile time grows by a
   fraction of a second. It is applied when this module is imported (by the environment).
2. ``jax.random.categorical`` ends in ``jnp.argmax``, a variadic (value, index) reduction that XLA's
   CPU backend fuses with the Gumbel noise into one scalar loop. ``categorical`` below draws the
   same Gumbel noise and takes the first index of the maximum with two plain reductions, which
   vectorize; the result is identical (``jnp.argmax`` also returns the first maximal index).

Set ``JAXPA_ROLLED_THREEFRY=1`` before importing jaxpa to keep JAX's default lowering (the tests
use it to check that the bits do not change).
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp

Array = jax.Array


def unroll_threefry_on_cpu() -> bool:
    """Lower ``threefry2x32`` on the CPU with JAX's unrolled (GPU/TPU) rule. Returns whether the
    rule was installed (False when this JAX version keeps it elsewhere: then nothing changes)."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf
        rule = tf._threefry2x32_lowering_rule
        prim = tf.threefry2x32_p
    except (ImportError, AttributeError):
        return False
    mlir.register_lowering(prim, rule, platform="cpu")
    return True


UNROLLED_THREEFRY = (os.environ.get("JAXPA_ROLLED_THREEFRY", "") != "1") and unroll_threefry_on_cpu()


def first_argmax(x: Array) -> Array:
    """Index of the first maximal entry along the last axis (what ``jnp.argmax`` returns for
    non-NaN input), with a max and a min reduction that XLA vectorizes: int32 [...]."""
    is_max = x == jnp.max(x, axis=-1, keepdims=True)
    n = x.shape[-1]
    return jnp.min(jnp.where(is_max, jnp.arange(n, dtype=jnp.int32), n), axis=-1)


def categorical(key: Array, logits: Array) -> Array:
    """``jax.random.categorical(key, logits)`` for 1-D logits [n], the same draw: int32 scalar.

    Gumbel-max with JAX's own Gumbel noise; logits may hold -inf (never drawn) but not NaN.
    """
    if logits.ndim != 1:
        raise ValueError(f"categorical: expected 1-D logits, got shape {logits.shape}")
    noise = jax.random.gumbel(key, logits.shape, logits.dtype)
    return first_argmax(noise + logits)
