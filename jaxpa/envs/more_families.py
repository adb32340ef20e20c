"""Families F3-F6 of MODEL.md §6: the ones built to fail UD although heads span (F3), to dial
diversity up and down (F4, F5), and to remove the margin (F6).

All are pure functions of a key and hyperparameters, jittable and vmappable over keys. F4 and F5
draw their random parts independently of the dial (eta, p), so ``vmap`` over the dial with one
key moves a single instance along it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, gaps, optimal_responses
from jaxpa.envs.sampling import gap_at_least, reject, sphere_instance, unit

Array = jax.Array


def _spread(a: Array, b: Array) -> Array:
    """|det[a; b]| for unit a, b in R^2: how far two heads are from parallel."""
    return jnp.abs(a[0] * b[1] - a[1] * b[0])


def f3_clustered(key: Array, n_per_cluster: int = 3, d: int = 3, n_responses: int = 4,
                 scale: float = 2.0, min_gap: float = 0.1, max_close_gap: float = 0.4,
                 max_tries: int = 20000) -> Instance:
    """F3 (UD fails, head rank full): two clusters of identical users with heads h_a, h_b that
    span R^2 (|det| >= 0.3), one prompt, and the *same* optimal response y* != y0 for both
    clusters; cluster b has a runner-up within ``max_close_gap`` of y*. Optimal play only
    excites R^2 ⊗ (phi* - phi0), so the directions that separate y* from b's runner-up stay
    uncovered: heads spanning R^k is not enough.
    """
    def draw(key):
        kh, kw, kf = jax.random.split(key, 3)
        h = unit(jax.random.normal(kh, (2, 2), jnp.float32))
        return Instance.create(
            features=unit(jax.random.normal(kf, (1, n_responses, d), jnp.float32)),
            reference=jnp.zeros((1,), jnp.int32),
            heads=jnp.repeat(h, n_per_cluster, axis=0),
            W=scale / jnp.sqrt(2.0) * jax.random.normal(kw, (2, d), jnp.float32))

    def accept(inst):
        y = optimal_responses(inst)[:, 0]
        g = gaps(inst)[-1, 0]  # cluster b
        close = jnp.min(jnp.where(g > 0, g, jnp.inf))
        return (gap_at_least(inst, min_gap) & jnp.all(y == y[0]) & (y[0] != 0)
                & (close <= max_close_gap) & (_spread(inst.heads[0], inst.heads[-1]) >= 0.3))

    return reject(draw, accept, key, max_tries)


def f4_interpolation(key: Array, eta: float = 0.5, n_users: int = 8, k: int = 2, d: int = 3,
                     n_responses: int = 4, n_prompts: int = 6, scale: float = 2.0,
                     min_gap: float = 0.1, max_tries: int = 20000) -> Instance:
    """F4 (lambda_D grows with eta): h_u = (1 - eta) h_bar + eta xi_u with unit h_bar, xi_u.

    The base (eta = 0: every user has h_bar) is drawn by rejection so that its Delta_min >=
    min_gap; xi is drawn from an independent key, so the instance moves continuously with eta.
    The gap guarantee holds at eta = 0 only: diagnostics report Delta_min for other eta.
    At eta = 0 the heads do not span and D shrinks to h_bar ⊗ R^d (covered by n_prompts >= d
    prompts); for small eta > 0 D is the whole R^{kd} and lambda_D is small.
    """
    k_base, k_xi = jax.random.split(key)

    def draw(key):
        kh, kw, kf = jax.random.split(key, 3)
        h_bar = unit(jax.random.normal(kh, (k,), jnp.float32))
        return Instance.create(
            features=unit(jax.random.normal(kf, (n_prompts, n_responses, d), jnp.float32)),
            reference=jnp.zeros((n_prompts,), jnp.int32),
            heads=jnp.tile(h_bar, (n_users, 1)),
            W=scale / jnp.sqrt(k) * jax.random.normal(kw, (k, d), jnp.float32))

    base = reject(draw, lambda inst: gap_at_least(inst, min_gap), k_base, max_tries)
    xi = unit(jax.random.normal(k_xi, (n_users, k), jnp.float32))
    return base.replace(heads=(1.0 - eta) * base.heads + eta * xi)


def f5_minority(key: Array, p: float = 0.1, n_major: int = 4, n_minor: int = 2, d: int = 3,
                n_responses: int = 4, n_prompts: int = 6, scale: float = 2.0,
                min_gap: float = 0.1, max_tries: int = 20000) -> Instance:
    """F5 (lambda_D proportional to p): a majority (mass 1 - p) of users with head h_maj and a
    minority (mass p) with head h_min (k = 2, |det| >= 0.3). With n_prompts >= d prompts, optimal
    play by each group covers its head ⊗ R^d, so the directions only the minority excites are
    seen at rate p. The draw does not depend on p (0 < p < 1)."""
    def draw(key):
        kh, kw, kf = jax.random.split(key, 3)
        h = unit(jax.random.normal(kh, (2, 2), jnp.float32))
        heads = jnp.concatenate([jnp.tile(h[0], (n_major, 1)), jnp.tile(h[1], (n_minor, 1))])
        return Instance.create(
            features=unit(jax.random.normal(kf, (n_prompts, n_responses, d), jnp.float32)),
            reference=jnp.zeros((n_prompts,), jnp.int32), heads=heads,
            W=scale / jnp.sqrt(2.0) * jax.random.normal(kw, (2, d), jnp.float32))

    def accept(inst):
        return gap_at_least(inst, min_gap) & (_spread(inst.heads[0], inst.heads[-1]) >= 0.3)

    inst = reject(draw, accept, key, max_tries)
    nu = jnp.concatenate([jnp.full((n_major,), (1.0 - p) / n_major),
                          jnp.full((n_minor,), p / n_minor)]).astype(inst.user_probs.dtype)
    return inst.replace(user_probs=nu)


def f6_no_margin(key: Array, n_users: int = 64, k: int = 2, d: int = 3, n_responses: int = 4,
                 n_prompts: int = 6, scale: float = 2.0) -> Instance:
    """F6 (UD holds, no margin): many users with heads drawn continuously on the sphere, so some
    user is nearly indifferent between two responses: Delta_min is as small as the draw makes it
    (no rejection). Greedy is expected to pay about log T here."""
    return sphere_instance(key, n_users, k, d, n_responses, n_prompts, scale)
