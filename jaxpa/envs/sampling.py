"""Small sampling pieces shared by the instance families: unit vectors, the sphere draw of F1 and
F6, and rejection loops."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, min_gap, optimal_responses, support_mask

Array = jax.Array


def unit(x: Array) -> Array:
    """Rows scaled to unit Euclidean norm."""
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def sphere_instance(key: Array, n_users: int, k: int, d: int, n_responses: int, n_prompts: int,
                    scale: float) -> Instance:
    """Heads uniform on the unit sphere of R^k [N, k], Gaussian features on the unit sphere of R^d
    [M, K, d], W ~ N(0, scale^2 / k) [k, d], reference y0(x) = 0 (F1's draw; F6 without rejection)."""
    kh, kw, kf = jax.random.split(key, 3)
    return Instance.create(
        features=unit(jax.random.normal(kf, (n_prompts, n_responses, d), jnp.float32)),
        reference=jnp.zeros((n_prompts,), jnp.int32),
        heads=unit(jax.random.normal(kh, (n_users, k), jnp.float32)),
        W=scale / jnp.sqrt(k) * jax.random.normal(kw, (k, d), jnp.float32))


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


def spread(a: Array, b: Array) -> Array:
    """|det[a; b]| for unit a, b in R^2: how far two heads are from parallel."""
    return jnp.abs(a[0] * b[1] - a[1] * b[0])


def optimal_play_spans(inst: Instance, rtol: float = 1e-5) -> Array:
    """Whether the bt_ref optimal-play rows z_u(x, y*) - z_u(x, y0), z = h ⊗ phi, over the
    supported (u, x) span all of R^{kd}: then optimal play identifies vec W and UD holds whatever
    D is (a sufficient condition, exact when D = R^{kd}, the generic case). Bool scalar."""
    y = optimal_responses(inst)                                            # [N, M]
    phi_star = jnp.take_along_axis(inst.features[None], y[..., None, None], axis=2)[:, :, 0]
    phi_ref = jnp.take_along_axis(inst.features, inst.reference[:, None, None], axis=1)[:, 0]
    dphi = jnp.where((y == inst.reference[None])[..., None], 0.0, phi_star - phi_ref[None])
    rows = (inst.heads[:, None, :, None] * dphi[:, :, None, :]).reshape(-1, inst.k * inst.d)
    rows = rows * support_mask(inst).reshape(-1, 1)
    e = jnp.linalg.eigvalsh(rows.T @ rows)
    return jnp.sum(e > rtol * jnp.maximum(e[-1], 0.0)) == inst.k * inst.d
