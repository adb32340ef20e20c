"""Matched families: a UD-holds and a UD-fails family that differ in the users' head structure and
in nothing a referee could blame instead (MODEL.md §6: "comparisons between UD holds and UD fails
are only evidence when the two sides are matched").

Both sides draw the same way: N users with heads uniform on the unit circle of R^2, M prompts each
with a reference response y0 = 0 whose features are 0 (reward 0 for every user: the base model's
answer) and K - 1 responses with unit-norm Gaussian features in R^d, W ~ N(0, scale^2 / 2). A draw
is kept when (1) y* != y0 in every context (the share of y* = y0 is 0 on both sides), (2) Delta_min
lies in ``gap_window``, (3) kappa = min over contexts of sigma'(r(y*) - r(y0)) lies in
``kappa_window`` (the BT slope of optimal play), and (4) the bt_ref optimal-play rows
z(y*) = h ⊗ phi(y*) give the side's UD status, with a margin (``_covered``): on the holds side
every leave-one-user-out subset of them still spans R^{kd} (no user's decisions rest on its own
play alone); on the fails side they miss part of D, which with M < d happens when the users agree
on their optimal responses while disagreeing elsewhere. N, M, K, d, k and the reference agree by
construction; Delta_min, kappa and the share of y* = y0 by the windows (tests/envs/test_matched.py checks
the distributions). What differs is the heads' arrangement: spread on the holds side, agreeing at
the optimum on the fails side.

The robust pair (``robust_pair``: ``robust_holds`` / ``robust_fails``) is drawn the same way with
UD holding on both sides: on one every leave-one-user-out subset of optimal play still covers
R^{kd}, on the other some user's decisions rest on its own optimal play (MODEL.md §6: greedy can
lock such a user for good).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, min_gap, optimal_responses, rewards, support_mask
from jaxpa.envs.sampling import reject, unit

Array = jax.Array


def bt_ref_rows(inst: Instance) -> tuple[Array, Array]:
    """(optimal-play rows g = z(y*) - z(y0) [N M, p], decision rows z(y) - z(y*) [N M K, p]) of
    bt_ref with z = h ⊗ phi over the supported contexts (zero rows elsewhere)."""
    z = (inst.heads[:, None, None, :, None] * inst.features[None, :, :, None, :])
    z = z.reshape(z.shape[:3] + (-1,))                                          # [N, M, K, p]
    y = optimal_responses(inst)
    z_star = jnp.take_along_axis(z, y[..., None, None], axis=2)[:, :, 0]      # [N, M, p]
    z_ref = jnp.take_along_axis(z, jnp.broadcast_to(inst.reference, y.shape)[..., None, None],
                                axis=2)[:, :, 0]
    live = support_mask(inst)[..., None]
    g = jnp.where((y != inst.reference[None])[..., None] & live, z_star - z_ref, 0.0)
    dz = jnp.where(live[..., None], z - z_star[:, :, None], 0.0)
    return g.reshape(-1, g.shape[-1]), dz.reshape(-1, dz.shape[-1])


def bt_ref_residual(inst: Instance, rtol: float = 1e-4) -> Array:
    """The share of the decision-relevant rows' energy outside range(Sigma°) of bt_ref optimal
    play (0 when UD holds; the numerical range keeps eigenvalues above rtol times the largest)."""
    g, dz = bt_ref_rows(inst)
    e, V = jnp.linalg.eigh(g.T @ g)
    keep = e > rtol * jnp.maximum(e[-1], 0.0)
    outside = dz - (dz @ (V * keep)) @ (V * keep).T
    return jnp.sum(outside**2) / jnp.maximum(jnp.sum(dz**2), 1e-30)


def optimal_play_kappa(inst: Instance) -> Array:
    """kappa = min over supported contexts with y* != y0 of sigma'(r(y*) - r(y0)) (bt_ref)."""
    r = rewards(inst)
    y = optimal_responses(inst)
    ref = jnp.broadcast_to(inst.reference, y.shape)
    m = jnp.take_along_axis(r, y[..., None], -1)[..., 0] - jnp.take_along_axis(r, ref[..., None], -1)[..., 0]
    w = jax.nn.sigmoid(m) * jax.nn.sigmoid(-m)
    live = support_mask(inst) & (y != ref)
    return jnp.min(jnp.where(live, w, jnp.inf))


def conditioning(inst: Instance) -> Array:
    """lambda_min / lambda_max of the unweighted bt_ref optimal-play information sum g g^T (1 / its
    condition number; 0 when optimal play misses a direction of R^{kd})."""
    g, _ = bt_ref_rows(inst)
    e = jnp.linalg.eigvalsh(g.T @ g)
    return jnp.maximum(e[0], 0.0) / jnp.maximum(e[-1], 1e-30)


def loo_conditioning(inst: Instance) -> Array:
    """min over users u of ``conditioning`` without u's rows: how well the *other* users' optimal
    play covers every direction (0 when some user is the only one to show a direction)."""
    g, _ = bt_ref_rows(inst)
    g = g.reshape(inst.n_users, -1, g.shape[-1])
    def without(u):
        rows = jnp.where((jnp.arange(inst.n_users) == u)[:, None, None], 0.0, g).reshape(-1, g.shape[-1])
        e = jnp.linalg.eigvalsh(rows.T @ rows)
        return jnp.maximum(e[0], 0.0) / jnp.maximum(e[-1], 1e-30)
    return jnp.min(jax.vmap(without)(jnp.arange(inst.n_users)))


def loo_residual(inst: Instance, rtol: float = 1e-7) -> Array:
    """max over users u of the share of u's decision rows' energy outside the range of the
    *other* users' bt_ref optimal-play rows (range cut at rtol times the top eigenvalue): 0 when
    every user's decisions are seen by the rest of the population (robust UD), near 1 when a
    user's decision direction rests on its own play alone."""
    g, dz = bt_ref_rows(inst)
    N, p = inst.n_users, g.shape[-1]
    g, dz = g.reshape(N, -1, p), dz.reshape(N, -1, p)

    def without(u):
        rows = jnp.where((jnp.arange(N) == u)[:, None, None], 0.0, g).reshape(-1, p)
        e, V = jnp.linalg.eigh(rows.T @ rows)
        B = V * (e > rtol * jnp.maximum(e[-1], 0.0))
        outside = dz[u] - (dz[u] @ B) @ B.T
        return jnp.sum(outside**2) / jnp.maximum(jnp.sum(dz[u] ** 2), 1e-30)

    return jnp.max(jax.vmap(without)(jnp.arange(N)))


def _covered(inst: Instance, side: str, min_conditioning: float) -> Array:
    """The side's UD status with a margin, so no draw is borderline: "holds" (UD and robust UD)
    when every leave-one-user-out subset of optimal play still covers all of R^{kd} with
    conditioning >= min_conditioning (so no user's decisions rest on its own play alone); "fails"
    when the residual of D outside range(Sigma°) is above 1e-3 even with the range cut at 1e-7 of
    the top eigenvalue; "fragile" (UD holds, robust UD fails) when optimal play covers R^{kd} with
    conditioning >= min_conditioning but without some user a share >= 1e-3 of its decisions is
    unseen (``loo_residual``). Draws in between are rejected."""
    if side == "holds":
        return loo_conditioning(inst) >= min_conditioning
    if side == "fragile":
        return (conditioning(inst) >= min_conditioning) & (loo_residual(inst) >= 1e-3)
    return bt_ref_residual(inst, 1e-7) >= 1e-3


def matched(key: Array, ud: bool = True, n_users: int = 6, d: int = 3, n_responses: int = 5,
            n_prompts: int = 2, scale: float = 2.0, gap_window: tuple = (0.2, 0.8),
            kappa_window: tuple = (0.1, 0.25), min_conditioning: float = 0.01,
            max_tries: int = 100000) -> Instance:
    """One draw of the matched family, UD holding (``ud=True``) or failing (module docstring)."""
    return _matched_draw(key, "holds" if ud else "fails", n_users, d, n_responses, n_prompts,
                         scale, gap_window, kappa_window, min_conditioning, max_tries)


def robust_pair(key: Array, robust: bool = True, n_users: int = 6, d: int = 2,
                n_responses: int = 4, n_prompts: int = 1, scale: float = 2.0,
                gap_window: tuple = (0.2, 0.8), kappa_window: tuple = (0.1, 0.25),
                min_conditioning: float = 0.01, max_tries: int = 100000) -> Instance:
    """One draw of the robust pair: UD holds on both sides; robust UD (leave-one-user-out
    coverage) holds (``robust=True``) or fails. The draw and the matching windows are the matched
    family's; the defaults are one-prompt populations (M = 1, K = 4 with the zero-feature
    reference, d = k = 2, N = 6), where each user's optimal play is h_u ⊗ phi(y*_u): a response
    preferred by exactly two users leaves each of them the only one to show its own head ⊗
    phi(y*) direction, a lock on y0 then reveals nothing, and no other user corrects it."""
    return _matched_draw(key, "holds" if robust else "fragile", n_users, d, n_responses,
                         n_prompts, scale, gap_window, kappa_window, min_conditioning, max_tries)


def _matched_draw(key, side, n_users, d, n_responses, n_prompts, scale, gap_window, kappa_window,
                  min_conditioning, max_tries) -> Instance:
    """The shared rejection draw of ``matched`` and ``robust_pair`` for one side."""
    def draw(key):
        kh, kw, kf = jax.random.split(key, 3)
        features = unit(jax.random.normal(kf, (n_prompts, n_responses, d), jnp.float32))
        return Instance.create(
            features=features.at[:, 0].set(0.0), reference=jnp.zeros((n_prompts,), jnp.int32),
            heads=unit(jax.random.normal(kh, (n_users, 2), jnp.float32)),
            W=scale / jnp.sqrt(2.0) * jax.random.normal(kw, (2, d), jnp.float32))

    def accept(inst):
        g = min_gap(inst)
        kap = optimal_play_kappa(inst)
        return ((g >= gap_window[0]) & (g <= gap_window[1])
                & (kap >= kappa_window[0]) & (kap <= kappa_window[1])
                & jnp.all(optimal_responses(inst) != 0)
                & _covered(inst, side, min_conditioning))

    return reject(draw, accept, key, max_tries)


matched_holds = functools.partial(matched, ud=True)
matched_holds.__doc__ = "The UD-holds side of the matched families (``matched``)."
matched_fails = functools.partial(matched, ud=False)
matched_fails.__doc__ = "The UD-fails side of the matched families (``matched``)."
robust_holds = functools.partial(robust_pair, robust=True)
robust_holds.__doc__ = "The robust pair's side where UD and robust UD hold (``robust_pair``)."
robust_fails = functools.partial(robust_pair, robust=False)
robust_fails.__doc__ = "The robust pair's side where UD holds and robust UD fails (``robust_pair``)."
