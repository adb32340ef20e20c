"""Small sampling pieces shared by the instance families: unit vectors and rejection loops."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, min_gap

Array = jax.Array


def unit(x: Array) -> Array:
    """Rows scaled to unit Euclidean norm."""
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def reject(draw: Callable[[Array], Instance], accept: Callable[[Instance], Array], key: Array,
           max_tries: int) -> Instance:
    """Draw instances from successive keys until ``accept`` holds or max_tries is reached.

    A ``lax.while_loop``: pure, jittable and vmappable over keys (under vmap every lane loops
    until all have accepted).
    """
    def cond(carry):
        i, _, inst = carry
        return (i < max_tries) & ~accept(inst)

    def body(carry):
        i, k, _ = carry
        k, sub = jax.random.split(k)
        return i + 1, k, draw(sub)

    k0, sub = jax.random.split(key)
    return jax.lax.while_loop(cond, body, (jnp.int32(1), k0, draw(sub)))[2]


def gap_at_least(inst: Instance, threshold: float) -> Array:
    """Delta_min >= threshold (so no exact ties at the top either)."""
    return min_gap(inst) >= threshold
