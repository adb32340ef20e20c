"""Faster CPU code for the random draws of every round, with bit-for-bit the same results.

Profiling the runner on the CPU (benchmarks/RESULTS.md) showed that most of a round's time went
into random numbers, not into the learner's algebra. JAX lowers the Threefry hash on the CPU as a
rolled ``fori_loop`` (to compile faster); inside ``vmap(scan)`` each of its 5 iterations is a
separate XLA loop step that cannot be vectorized, about 20x slower per random word than the
unrolled form JAX uses on GPUs. ``unroll_threefry_on_cpu`` registers the unrolled lowering for the
CPU too. Same hash, same bits; compile time grows by a fraction of a second. It is applied when
this module is imported (by the environment). The other cost, a Gumbel variate per category, is
avoided where the draws are made: categorical draws in a round use the inverse CDF of one uniform
(``envs/env.py: inverse_cdf``, ``learners/base.py: random_argmax``).

Set ``JAXPA_ROLLED_THREEFRY=1`` before importing jaxpa to keep JAX's default lowering (the tests
use it to check that the bits do not change).
"""
from __future__ import annotations

import os


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
