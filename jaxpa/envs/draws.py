"""The random draws of a round, shared by the environment and by learners.

Every draw here costs one float32 uniform (or one permutation), whatever the precision of the
instance, so float32 and float64 runs meet the same random stream. Categorical draws use the
inverse CDF of one uniform instead of one Gumbel variate per category (``jax.random.categorical``):
K times fewer random words, the same law (tests/envs/test_draws.py checks it).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def uniform01(key: Array, shape=()) -> Array:
    """Uniforms on [0, 1) in float32 (never the instance's dtype: the stream must not depend on
    x64 mode)."""
    return jax.random.uniform(key, shape, jnp.float32)


def inverse_cdf(key: Array, probs: Array) -> Array:
    """One draw from a categorical distribution [n] by inverse CDF on a single float32 uniform:
    int32 index. Zero-probability entries are never drawn (their CDF step is empty; the index is
    clamped to the last entry with positive probability against rounding at the top)."""
    cdf = jnp.cumsum(probs.astype(jnp.float32))
    v = uniform01(key) * cdf[-1]
    last = probs.shape[0] - 1 - jnp.argmax(probs[::-1] > 0)
    return jnp.minimum(jnp.sum(cdf <= v), last).astype(jnp.int32)


def random_argmax(key: Array, values: Array) -> Array:
    """Index of the largest value, ties broken uniformly at random (MODEL.md §8): int32 scalar.

    One float32 uniform u picks the j-th of the n maximal entries, j = floor(u n) (clamped to
    n - 1 against rounding up). NaN entries are never maximal; if every entry is NaN, index 0
    comes back (the runner's health flag reports the non-finite learner state behind it).
    """
    is_max = values >= jnp.max(values)
    n = jnp.sum(is_max, dtype=jnp.int32)
    j = jnp.minimum((uniform01(key) * n).astype(jnp.int32), n - 1)
    K = values.shape[0]
    # ties before entry i: a [K, K] @ [K] product in float32 (exact for K < 2^24; XLA:CPU has no
    # fast int32 dot, and its cumsum is a slow reduce-window)
    before = jnp.tril(jnp.ones((K, K), jnp.float32), -1) @ is_max.astype(jnp.float32)
    return jnp.sum(jnp.where(is_max & (before == j), jnp.arange(K, dtype=jnp.int32), 0),
                   dtype=jnp.int32)


def uniform_index(key: Array, n: int, shape=()) -> Array:
    """Uniform int32 indices in [0, n)."""
    return jax.random.randint(key, shape, 0, n, dtype=jnp.int32)


def top_slate(key: Array, scores: Array, first: Array, size: int) -> Array:
    """A ranked slate [size] int32 of distinct responses: ``first``, then the best others by
    ``scores`` in decreasing order (ties broken uniformly at random by a random permutation)."""
    K = scores.shape[0]
    if not 1 <= size <= K:
        raise ValueError(f"slate of size {size} from K = {K} candidates: need 1 <= size <= K")
    perm = jax.random.permutation(key, K)
    ranked = jnp.where(jnp.arange(K) == first, jnp.inf, scores)[perm]
    return perm[jax.lax.top_k(ranked, size)[1]].astype(jnp.int32)


def difference(z: Array, i: Array, j: Array) -> Array:
    """z[i] - z[j] for rows of z [K, ...]: exactly zero when i == j.

    XLA may recompute the two rows inside one fused loop and contract h*phi_i - h*phi_j into a
    fused multiply-add, leaving the rounding error of a product (~1e-9) instead of 0: comparing a
    response with itself would then leak noise into an estimate (MODEL.md §8).
    """
    return jnp.where(i == j, jnp.zeros_like(z[i]), z[i] - z[j])
