"""Instance families (MODEL.md §6) as pure functions ``family(key, **hyper) -> Instance``, and
their registry.

F1 diverse (UD holds), F2 homogeneous, F3 clustered (heads span, UD fails), F4 interpolation dial
eta, F5 minority mass p, F6 no margin. Families draw by rejection until the smallest positive gap
over the support is at least ``min_gap`` (a ``lax.while_loop``, so a family is jittable and
vmappable over keys: ``jax.vmap(lambda k: f1_diverse(k))(keys)`` is a batch of instances). If
``max_tries`` draws all fail, the last draw is returned; ``make_family`` (the checked entry point)
then raises. F4 and F5 draw their random parts independently of the dial (eta, p), so ``vmap``
over the dial with one key moves a single instance along it.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.keys import check_key
from jaxpa.envs.precision import full_precision
from jaxpa.envs.matched import matched_fails, matched_holds, robust_fails, robust_holds
from jaxpa.envs.instance import (Instance, InstanceError, gaps, min_gap, optimal_responses,
                                 validate)
from jaxpa.envs.sampling import (gap_at_least, optimal_play_spans, reject, sphere_instance, spread,
                                 unit)

Array = jax.Array

def f1_diverse(key: Array, n_users: int = 6, k: int = 2, d: int = 3, n_responses: int = 4,
               n_prompts: int = 6, scale: float = 2.0, min_gap: float = 0.1,
               max_tries: int = 20000) -> Instance:
    """F1 (UD holds): user types with heads spread over the unit sphere of R^k, generic Gaussian
    features phi(x, y) on the unit sphere of R^d, W ~ N(0, scale^2 / k), reference y0(x) = 0.

    With n_users * n_prompts >= k * d the differences z(y*) - z(y0) span R^{kd} generically, so
    optimal play alone identifies vec W (UD holds under bt_ref); the rare draws where they do not
    are rejected too.
    """
    def draw(key):
        return sphere_instance(key, n_users, k, d, n_responses, n_prompts, scale)

    def accept(inst):  # a few draws have y* = y0 almost everywhere: reject them
        return gap_at_least(inst, min_gap) & optimal_play_spans(inst)

    return reject(draw, accept, key, max_tries)


def f2_homogeneous(key: Array, n_users: int = 4, k: int = 2, d: int = 4, n_responses: int = 6,
                   scale: float = 2.0, min_gap: float = 0.1, max_tries: int = 20000) -> Instance:
    """F2 (UD fails): every user has the same unit head, one prompt, K >= d + 1 responses on the
    unit sphere of R^d (general position), reference y0 = 0, and the optimal response differs from
    the reference (so optimal play is informative, but in one direction only)."""
    if n_responses < d + 1:
        raise InstanceError(f"f2_homogeneous: need n_responses >= d + 1, got {n_responses} <= {d}")

    def draw(key):
        kh, kw, kf = jax.random.split(key, 3)
        head = unit(jax.random.normal(kh, (k,), jnp.float32))
        return Instance.create(
            features=unit(jax.random.normal(kf, (1, n_responses, d), jnp.float32)),
            reference=jnp.zeros((1,), jnp.int32),
            heads=jnp.tile(head, (n_users, 1)),
            W=scale / jnp.sqrt(k) * jax.random.normal(kw, (k, d), jnp.float32))

    def accept(inst):
        return gap_at_least(inst, min_gap) & jnp.all(optimal_responses(inst)[:, 0] != 0)

    return reject(draw, accept, key, max_tries)


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
                & (close <= max_close_gap) & (spread(inst.heads[0], inst.heads[-1]) >= 0.3))

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
        return gap_at_least(inst, min_gap) & (spread(inst.heads[0], inst.heads[-1]) >= 0.3)

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


FAMILIES: dict[str, Callable[..., Instance]] = {
    "f1": f1_diverse, "f2": f2_homogeneous, "f3": f3_clustered, "f4": f4_interpolation,
    "f5": f5_minority, "f6": f6_no_margin, "matched_holds": matched_holds,
    "matched_fails": matched_fails, "robust_holds": robust_holds, "robust_fails": robust_fails}

# Families whose every instance has Delta_min >= min_gap (or gap_window[0]; make_family checks
# it). F4 guarantees it for its eta = 0 base only; F6 has no margin by design.
GAP_GUARANTEED = ("f1", "f2", "f3", "f5", "matched_holds", "matched_fails", "robust_holds",
                  "robust_fails")


SIZE_NAMES = ("n_users", "k", "d", "n_responses", "n_prompts", "n_per_cluster", "n_major",
              "n_minor", "max_tries")


def check_family_options(name: str, hyper: dict) -> None:
    """Reject, before compiling, unknown option names and sizes that make no instance (an
    integer >= 1, below 2^31; n_responses >= 2), naming the option. An option whose default is
    a tuple takes a tuple (or list) of that many finite numbers, every other one a finite real
    number."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise InstanceError(f"unknown family {name!r:.60}; known: {sorted(FAMILIES)}")
    params = inspect.signature(FAMILIES[name]).parameters
    unknown = sorted(set(hyper) - set(params) - {"key"})
    if unknown or "key" in hyper:
        raise InstanceError(f"family {name}: unknown options {unknown or ['key']}; it takes "
                            f"{[p for p in params if p != 'key']}")
    for opt, value in hyper.items():
        if opt in SIZE_NAMES:
            low = 2 if opt == "n_responses" else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not low <= value < 2**31:
                raise InstanceError(f"family {name}: {opt} must be an integer >= {low} (below "
                                    f"2^31), got {value!r:.60}")
            continue
        default = params[opt].default
        if isinstance(default, tuple):
            if not isinstance(value, (tuple, list)) or len(value) != len(default):
                raise InstanceError(f"family {name}: {opt} must be a tuple of {len(default)} "
                                    f"numbers, got {value!r:.60}")
            values = value
        else:
            values = (value,)
        if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
               for v in values):
            raise InstanceError(f"family {name}: {opt} must be a real number"
                                f"{' (a tuple of them)' if len(values) > 1 else ''}, got "
                                f"{value!r:.60}")
        if not all(np.isfinite(float(v)) for v in values):
            raise InstanceError(f"family {name}: {opt} must be finite, got {value!r:.60}")


DRAW_BATCH = 8  # key batches are padded up to a multiple of this, so batch sizes share programs


@functools.lru_cache(maxsize=64)
def _jitted(name: str, static: tuple, dynamic_names: tuple):
    """The compiled draw of a batch of keys: (instances [B], their Delta_min [B]). Only sizes
    (SIZE_NAMES) are compile-time constants; real-valued options (a dial's eta or p, min_gap,
    scale, windows) are arguments, so moving along a dial reuses one program."""
    def draw(keys, dynamic):
        options = dict(static, **dict(zip(dynamic_names, dynamic)))
        inst = jax.vmap(lambda k: FAMILIES[name](k, **options))(keys)
        return inst, jax.vmap(min_gap)(inst)
    return jax.jit(full_precision(draw))


def _draw(name: str, hyper: dict, keys: Array) -> tuple[Instance, np.ndarray]:
    """Draw a batch of keys [B], padded to a multiple of DRAW_BATCH with copies of the last key
    (a copy takes as many rejection tries as its original, so padding costs no extra rounds of
    the loop): (instances [B], Delta_min [B] as NumPy)."""
    static = tuple(sorted((o, v) for o, v in hyper.items() if o in SIZE_NAMES))
    dynamic = sorted((o, v) for o, v in hyper.items() if o not in SIZE_NAMES)
    values = tuple(tuple(float(x) for x in v) if isinstance(v, (tuple, list)) else float(v)
                   for _, v in dynamic)
    B = keys.shape[0]
    padded = jnp.concatenate([keys, jnp.repeat(keys[-1:], -B % DRAW_BATCH, axis=0)])
    inst, gaps_ = _jitted(name, static, tuple(o for o, _ in dynamic))(padded, values)
    return jax.tree.map(lambda x: x[:B], inst), np.asarray(gaps_)[:B]


def _family_keys(key) -> tuple[Array, bool]:
    """One key, or a 1-D batch of typed keys (``jax.random.split(key, B)``): (key, batched)."""
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) \
            and key.ndim == 1 and key.shape[0] >= 1:
        return key, True
    return check_key(key), False


def make_family(name: str, key: Array, **hyper) -> Instance:
    """Draw one instance of a named family, or a batch of B instances (leading axis B) from a batch
    of keys [B], checking the options first and, after the draw, that it is a valid instance and
    that the gap guarantee was met where the family makes one. One compiled program per family
    and sizes (the 64 most recent kept), shared by every real-valued option and batch size.
    Inside your own jit/vmap, call ``FAMILIES[name]`` directly (the checks here run on the
    host)."""
    check_family_options(name, hyper)
    key, batched = _family_keys(key)
    inst, gaps_ = _draw(name, hyper, key if batched else key[None])
    if not batched:
        inst = jax.tree.map(lambda x: x[0], inst)
    try:  # options in range can still make a bad draw (p > 1, an overflowing scale): name it
        validate(inst)
    except InstanceError as err:
        raise InstanceError(f"family {name} with options {hyper}: the draw is not a valid "
                            f"instance ({err})") from None
    check_family_gaps(name, hyper, gaps_)
    return inst


def check_family_gaps(name: str, hyper: dict, min_gaps: np.ndarray) -> None:
    """Raise when a family that guarantees Delta_min >= min_gap returned a draw (of a batch)
    without it (all max_tries rejection draws failed). min_gaps: the draws' Delta_min."""
    threshold = hyper.get("min_gap", hyper.get("gap_window", (0.1,))[0])
    if name in GAP_GUARANTEED and np.any(np.asarray(min_gaps) < threshold):
        raise InstanceError(f"family {name}: no draw met min_gap={threshold} within "
                            f"max_tries; lower min_gap or raise max_tries")
