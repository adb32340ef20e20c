"""Controlled diversity dials: instances on which one scalar moves a chosen diversity constant while
N, K, d, Delta_min and kappa stay fixed *exactly* (MODEL.md §6: "a dial must move one constant").

Every dial is a pure function ``dial(key, value, **sizes) -> Instance``, jittable and vmappable
over the key (draws) and the value (the dial): ``dial_grid``, or as an experiment's population,
``Population(label, build=rotate_head, dial=("s", values), options={...sizes})`` (the value is the
keyword ``s``, ``p`` or ``b``; experiments/dial/experiment.py).

The construction (worked out on paper; one prompt, so M = 1):

- d = K - 1, features phi(y0) = 0 and phi(y) = e_{y-1} for y = 1..K-1 ([1, K, K-1]), y0 = 0,
  so z_u(y) - z_u(y0) = h_u ⊗ e_{y-1}: the responses' information blocks are orthogonal.
- W [k, K-1] = [I_{K-1}; 0], so that
      r_u(0) = 0,   r_u(y) = h_u[y - 1]   (y = 1..K-1):
  the first K-1 coordinates of a head *are* its rewards against the reference, and the remaining
  k - K + 1 coordinates (the "fiber", k >= K required) change no reward at all: moving a head
  along its fiber moves the geometry of z_u = h_u ⊗ phi (so Sigma*, D and every diversity
  constant) while every reward, gap and optimal response stays exactly the same.
- Users come in K-1 groups of ``n_per_group``; group j (users (j-1) n .. j n - 1) has y* = j with
  margin r(y*) - r(y0) = ``margin`` for every user, so kappa = sigma'(margin) exactly (bt_ref).
  Every other response y of a group-j user has r(y) ~ U[margin - gap - spread, margin - gap], and
  user 0's r(2) is exactly margin - gap (K >= 3), so Delta_min = ``gap`` exactly (gap <= margin).
  Fiber coordinates ~ N(0, 1). Sigma* is block-diagonal, one block per group j,
  kappa sum_{u in j} nu_u h_u h_u^T (on R^k ⊗ e_{j-1}). n_per_group >= k is required, and draws
  are rejected until each group's heads span R^k with sigma_min / sigma_max >= 0.1, so D =
  R^{k(K-1)} is covered and UD holds. With n_per_group = k every user is needed (leaving one out
  uncovers its own optimal-play direction); with n_per_group > k there is redundancy.
- The "dialled" user m = n_per_group - 1 (the last user of group 1):
    rotate(s):     h_m = h_0 + s e_fiber (user 0's rewards, a head rotated within the fiber by
                   angle atan(s / |h_0|) away from h_0's); s -> 0 makes two heads of group 1
                   identical: with n_per_group = k, lambda_D -> 0 like s^2; with more users per
                   group, leave-one-user-out coverage -> 0 instead.
    minority(p):   nu_m = p, the other N - 1 users share 1 - p equally (0 < p < 1): lambda_D ∝ p.
    runner_up(b):  user 0's head with r_m(2) = b (b <= margin - gap) and a unit fiber offset:
                   its runner-up moves from below the reference (a lock on it can correct
                   itself) to just under y* (greedy can lock on it) while UD keeps holding.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, InstanceError
from jaxpa.envs.precision import full_precision
from jaxpa.envs.sampling import reject

Array = jax.Array

DEFAULTS = dict(k=3, n_responses=3, n_per_group=3, margin=1.0, gap=0.5, spread=1.5)
# The dials are jitted with their sizes static and the key and dial value traced: one compiled
# program per sizes serves every draw and every value (an experiment's population calls them on
# the host per draw, ``Population(..., host=True)``, so moving along a dial compiles nothing new).
def _jit(fun):
    return jax.jit(full_precision(fun), static_argnames=tuple(DEFAULTS))


def _check(k: int, n_responses: int, n_per_group: int, margin: float, gap: float) -> None:
    if n_responses < 3 or k < n_responses or n_per_group < k:
        raise InstanceError(f"dials need K >= 3, k >= K (a fiber) and n_per_group >= k; got "
                            f"K={n_responses}, k={k}, n_per_group={n_per_group}")
    if not 0 < gap <= margin:
        raise InstanceError(f"dials need 0 < gap <= margin, got gap={gap}, margin={margin}")


def dial_user(n_per_group: int = DEFAULTS["n_per_group"]) -> int:
    """Index of the dialled user m (the last user of group 1)."""
    return n_per_group - 1


def _spread(heads: Array) -> Array:
    """sigma_min / sigma_max of a set of heads [n, k] (n >= k): 0 when they do not span R^k."""
    sv = jnp.linalg.svd(heads, compute_uv=False)
    return sv[heads.shape[-1] - 1] / sv[0]


def _draw_heads(key: Array, k: int, K: int, n: int, margin: float, gap: float,
                spread: float) -> Array:
    N = (K - 1) * n
    k_r, k_c = jax.random.split(key)
    others = jax.random.uniform(k_r, (N, K - 1), jnp.float32, margin - gap - spread, margin - gap)
    group = jnp.repeat(jnp.arange(K - 1), n)  # y* - 1 of each user
    r = jnp.where(jax.nn.one_hot(group, K - 1, dtype=bool), margin, others)
    r = r.at[0, 1].set(margin - gap)  # user 0 (group 1): runner-up y = 2 at exactly margin - gap
    c = jax.random.normal(k_c, (N, k - K + 1), jnp.float32)
    return jnp.concatenate([r, c], axis=1)


def base_heads(key: Array, k: int, n_responses: int, n_per_group: int, margin: float, gap: float,
               spread: float, min_spread: float = 0.1, max_tries: int = 1000) -> Array:
    """Heads [N, k], N = (K-1) n_per_group: rewards against y0 in the first K-1 coordinates
    (margin for the group's y*, U[margin - gap - spread, margin - gap] for the others, user 0's
    r(2) pinned at margin - gap), N(0, 1) fiber coordinates after them. Drawn by rejection until
    every group's heads, and group 1's with user m's head replaced by the first fiber axis (the
    direction the rotate dial moves it along), have sigma_min / sigma_max >= min_spread."""
    K, n = n_responses, n_per_group
    e_fiber = jnp.zeros((k,), jnp.float32).at[K - 1].set(1.0)

    def accept(h):
        groups = h.reshape(K - 1, n, k)
        g1 = groups[0].at[dial_user(n)].set(e_fiber)
        return (jnp.min(jax.vmap(_spread)(groups)) >= min_spread) & (_spread(g1) >= min_spread)

    draw = lambda key: _draw_heads(key, k, K, n, margin, gap, spread)
    return reject(draw, accept, key, max_tries)


def instance_from_heads(heads: Array, n_responses: int, user_probs: Array | None = None) -> Instance:
    """The one-prompt instance of the module docstring with these heads [N, k]: phi(y0) = 0,
    phi(y) = e_{y-1}, W = [I_{K-1}; 0], uniform nu unless given."""
    K, k = n_responses, heads.shape[-1]
    features = jnp.concatenate([jnp.zeros((1, K - 1)), jnp.eye(K - 1)]).astype(jnp.float32)[None]
    W = jnp.eye(k, K - 1, dtype=jnp.float32)
    return Instance.create(features=features, reference=jnp.zeros((1,), jnp.int32), heads=heads,
                           W=W, user_probs=user_probs)


@_jit
def rotate_head(key: Array, s, k: int = 3, n_responses: int = 3, n_per_group: int = 3,
                margin: float = 1.0, gap: float = 0.5, spread: float = 1.5) -> Instance:
    """Dial s > 0: user m gets user 0's rewards and the head h_0 + s e_fiber (the first
    fiber axis). Rewards, gaps, y*, nu: independent of s. s = 0 duplicates user 0 (UD fails when
    n_per_group = k)."""
    _check(k, n_responses, n_per_group, margin, gap)
    h = base_heads(key, k, n_responses, n_per_group, margin, gap, spread)
    m = dial_user(n_per_group)
    e_fiber = jnp.zeros((k,), jnp.float32).at[n_responses - 1].set(1.0)
    return instance_from_heads(h.at[m].set(h[0] + jnp.asarray(s, jnp.float32) * e_fiber),
                               n_responses)


@_jit
def minority(key: Array, p, k: int = 3, n_responses: int = 3, n_per_group: int = 3,
             margin: float = 1.0, gap: float = 0.5, spread: float = 1.5) -> Instance:
    """Dial p in (0, 1): user m arrives with probability p, the others with
    (1 - p) / (N - 1) each. Heads, rewards and gaps: independent of p."""
    _check(k, n_responses, n_per_group, margin, gap)
    h = base_heads(key, k, n_responses, n_per_group, margin, gap, spread)
    N, m = h.shape[0], dial_user(n_per_group)
    p = jnp.asarray(p, jnp.float32)
    nu = jnp.full((N,), 1.0, jnp.float32) * (1.0 - p) / (N - 1)
    return instance_from_heads(h, n_responses, nu.at[m].set(p))


@_jit
def runner_up(key: Array, b, k: int = 3, n_responses: int = 3, n_per_group: int = 3,
              margin: float = 1.0, gap: float = 0.5, spread: float = 1.5) -> Instance:
    """Dial b <= margin - gap: user m's head is h_0 with its response-2 reward set to
    b and its first fiber coordinate shifted by sign(c_0 - c_1) (user 0's and user 1's), so its
    gap to response 2 is margin - b >= gap and b > 0 puts that runner-up above the reference.
    The shift's sign keeps det[h_0; h_1; h_m] = (c_0 - c_1 sign)(...) away from 0 on the whole
    range when K = k = n_per_group = 3 (the default): det = |c_0 - c_1| (margin - gap - b) +
    (margin - gap - r_1(2)) > 0, so UD holds for every b. Other users: independent of b."""
    _check(k, n_responses, n_per_group, margin, gap)
    h = base_heads(key, k, n_responses, n_per_group, margin, gap, spread)
    m, f = dial_user(n_per_group), n_responses - 1  # f: the first fiber coordinate
    h_m = h[0].at[1].set(jnp.asarray(b, jnp.float32))
    h_m = h_m.at[f].add(jnp.where(h[0, f] >= h[1, f], 1.0, -1.0))
    return instance_from_heads(h.at[m].set(h_m), n_responses)


DIALS = {"rotate": rotate_head, "minority": minority, "runner_up": runner_up}
DIAL_OPTION = {"rotate": "s", "minority": "p", "runner_up": "b"}  # each dial's value keyword


def dial_grid(name: str, keys: Array, values: Array, **sizes) -> Instance:
    """A batch [D * V] of dial instances, draw-major: entry i * V + j is draw keys[i] at
    values[j] (one vmap over draws of a vmap over values)."""
    fn = DIALS[name]
    grid = jax.vmap(jax.vmap(lambda key, v: fn(key, v, **sizes), (None, 0)), (0, None))(keys, values)
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), grid)
