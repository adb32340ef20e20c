"""A problem instance as a pytree of arrays (MODEL.md §1), its rewards, and input validation.

An ``Instance`` holds arrays only, so a batch of instances (every leaf with a leading axis) is
just another ``Instance`` and ``jax.vmap`` over instances needs no special code.

Reward of user u for response y to prompt x::

    r_u(x, y) = h_u^T W phi(x, y) + beta^T phi(x, y) = <vec W, z_u(x, y)> + beta^T phi(x, y)
    z_u(x, y) = h_u ⊗ phi(x, y)   (row-major vec, so vec(W)[i*d + j] = W[i, j])
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array


class InstanceError(ValueError):
    """Raised, before anything compiles, when an instance or run configuration is malformed."""


def as_indices(values, name: str) -> Array:
    """Integer indices as int32, refusing non-integral numbers (never truncated) and values out
    of the int32 range. Traced values (inside jit) must have an integer dtype."""
    if isinstance(values, jax.core.Tracer):
        if not jnp.issubdtype(values.dtype, jnp.integer):
            raise InstanceError(f"{name}: expected integer indices, got dtype {values.dtype}")
        return values.astype(jnp.int32)
    x = np.asarray(values)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise InstanceError(f"{name}: expected integer indices, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x) & (x == np.round(x))):
        raise InstanceError(f"{name}: expected integer indices, got non-integral values")
    if x.size and (x.min() < -2**31 or x.max() >= 2**31):
        raise InstanceError(f"{name}: indices outside the int32 range")
    return jnp.asarray(x.astype(np.int64), jnp.int32)


@struct.dataclass
class Instance:
    """One personalized-alignment problem (shapes for an unbatched instance).

    features:     [M, K, d] float  phi(x, y): features of candidate y for prompt x.
    reference:    [M] int32        index y0(x) of the reference response.
    heads:        [N, k] float     user heads h_u (rows).
    W:            [k, d] float     the shared latent reward map (unknown to learners).
    user_probs:   [N] float        nu: arrival probability of each user.
    prompt_probs: [N, M] float     rho(x | u): prompt distribution given the user.
    shared:       [d] float        beta: reward term common to all users (zeros when absent).
    """

    features: Array
    reference: Array
    heads: Array
    W: Array
    user_probs: Array
    prompt_probs: Array
    shared: Array

    @staticmethod
    def create(features, reference, heads, W, user_probs=None, prompt_probs=None, shared=None,
               dtype=jnp.float32) -> "Instance":
        """Build an instance with explicit dtypes; uniform nu / rho and beta = 0 by default."""
        try:
            dtype = jnp.dtype(dtype)
        except TypeError:
            raise InstanceError(f"Instance.create: dtype {dtype!r:.60} is not a dtype") from None

        def cast(name, value):  # non-numeric input is named, never a bare TypeError
            if np.iscomplexobj(value):  # the cast would drop the imaginary part silently
                raise InstanceError(f"{name}: complex values are not supported")
            try:
                return jnp.asarray(value, dtype)
            except (TypeError, ValueError) as err:
                raise InstanceError(f"{name}: expected numbers, got {type(value).__name__} "
                                    f"({str(err)[:80]})") from None

        features = cast("features", features)
        heads = cast("heads", heads)
        if features.ndim < 3 or heads.ndim < 2:
            raise InstanceError(f"Instance.create: features need shape [M, K, d] and heads [N, k] "
                                f"(a leading batch axis allowed), got {features.shape} and "
                                f"{heads.shape}")
        n_users, n_prompts, d = heads.shape[-2], features.shape[-3], features.shape[-1]
        if min(n_users, n_prompts) < 1:  # before 1 / N and 1 / M below
            raise InstanceError(f"features/heads: empty axis (M={n_prompts}, N={n_users})")
        if user_probs is None:
            user_probs = jnp.full((n_users,), 1.0 / n_users, dtype)
        if prompt_probs is None:
            prompt_probs = jnp.full((n_users, n_prompts), 1.0 / n_prompts, dtype)
        if shared is None:
            shared = jnp.zeros((d,), dtype)
        return Instance(features=features, reference=as_indices(reference, "reference"), heads=heads,
                        W=cast("W", W), user_probs=cast("user_probs", user_probs),
                        prompt_probs=cast("prompt_probs", prompt_probs),
                        shared=cast("shared", shared))

    # Sizes (read from static shapes, valid for batched instances too).
    @property
    def n_prompts(self) -> int:
        return self.features.shape[-3]

    @property
    def n_responses(self) -> int:
        return self.features.shape[-2]

    @property
    def d(self) -> int:
        return self.features.shape[-1]

    @property
    def n_users(self) -> int:
        return self.heads.shape[-2]

    @property
    def k(self) -> int:
        return self.heads.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading axes shared by every leaf: () for one instance, (B,) for a batch."""
        return self.features.shape[:-3]


def rewards(inst: Instance) -> Array:
    """True rewards r_u(x, y) for every user, prompt and response: [N, M, K]."""
    personal = jnp.einsum("nk,kd,mjd->nmj", inst.heads, inst.W, inst.features)
    return personal + jnp.einsum("d,mjd->mj", inst.shared, inst.features)[None]


def optimal_responses(inst: Instance) -> Array:
    """y*_u(x) = argmax_y r_u(x, y) (first index on exact ties): [N, M] int32."""
    return jnp.argmax(rewards(inst), axis=-1).astype(jnp.int32)


def gaps(inst: Instance) -> Array:
    """Delta_u(x, y) = r_u(x, y*) - r_u(x, y) >= 0: [N, M, K]."""
    r = rewards(inst)
    return r.max(axis=-1, keepdims=True) - r


def support_mask(inst: Instance) -> Array:
    """(u, x) pairs that occur: nu_u > 0 and rho(x|u) > 0: [N, M] bool."""
    return (inst.user_probs[:, None] > 0) & (inst.prompt_probs > 0)


def min_gap(inst: Instance) -> Array:
    """Delta_min: smallest positive gap over the support of nu and rho (inf if none): scalar."""
    g = gaps(inst)
    positive = (g > 0) & support_mask(inst)[..., None]
    return jnp.min(jnp.where(positive, g, jnp.inf))


def validate(inst: Instance, *, batched: bool | None = None) -> None:
    """Reject a malformed instance with a message naming the field. Runs in NumPy, before any jit.

    Checks shapes and their agreement, integer reference indices in range, K >= 2, finite values,
    non-negative probabilities whose rows sum to 1 (tolerance 1e-4).
    """
    if not isinstance(inst, Instance):
        raise InstanceError(f"expected an Instance, got {type(inst).__name__}")
    leaves = {name: np.asarray(getattr(inst, name)) for name in
              ("features", "reference", "heads", "W", "user_probs", "prompt_probs", "shared")}
    nb = leaves["features"].ndim - 3
    if batched is not None and nb != int(batched):
        raise InstanceError(f"features: expected {'4' if batched else '3'} axes "
                            f"({'[B, M, K, d]' if batched else '[M, K, d]'}), got shape "
                            f"{leaves['features'].shape}")
    if nb not in (0, 1):
        raise InstanceError(f"features: expected shape [M, K, d] (or [B, M, K, d] for a batch), "
                            f"got {leaves['features'].shape}")
    batch = leaves["features"].shape[:nb]
    M, K, d = leaves["features"].shape[nb:]
    if leaves["heads"].ndim != nb + 2:
        raise InstanceError(f"heads: expected shape {batch + ('N', 'k')}, got {leaves['heads'].shape}")
    N, k = leaves["heads"].shape[nb:]
    expected = {"reference": batch + (M,), "heads": batch + (N, k), "W": batch + (k, d),
                "user_probs": batch + (N,), "prompt_probs": batch + (N, M), "shared": batch + (d,)}
    for name, shape in expected.items():
        if leaves[name].shape != shape:
            raise InstanceError(f"{name}: expected shape {shape} (from features {leaves['features'].shape}"
                                f" and heads {leaves['heads'].shape}), got {leaves[name].shape}")
    if K < 2:
        raise InstanceError(f"features: need K >= 2 candidate responses per prompt, got K = {K}")
    if min(M, d, N, k) < 1:
        raise InstanceError(f"features/heads: empty axis (M={M}, d={d}, N={N}, k={k})")
    if not np.issubdtype(leaves["reference"].dtype, np.integer):
        raise InstanceError(f"reference: expected integer indices, got dtype {leaves['reference'].dtype}")
    if leaves["reference"].size and (leaves["reference"].min() < 0 or leaves["reference"].max() >= K):
        raise InstanceError(f"reference: indices must lie in [0, {K}), got min "
                            f"{leaves['reference'].min()} max {leaves['reference'].max()}")
    floats = ("features", "heads", "W", "user_probs", "prompt_probs", "shared")
    for name in floats:
        dtype = leaves[name].dtype
        if dtype not in (np.float32, np.float64):
            raise InstanceError(f"{name}: dtype {dtype} is not supported; use float32 or float64 "
                                f"(Instance.create casts)")
        if not np.all(np.isfinite(leaves[name])):
            raise InstanceError(f"{name}: contains NaN or inf")
    kinds = {name: str(leaves[name].dtype) for name in floats}
    if len(set(kinds.values())) > 1:
        raise InstanceError(f"mixed precision: every floating field needs one dtype, got {kinds} "
                            f"(Instance.create casts them to one)")
    for name, axis in (("user_probs", -1), ("prompt_probs", -1)):
        p = leaves[name]
        if np.any(p < 0):
            raise InstanceError(f"{name}: probabilities must be non-negative (min {p.min():.3g})")
        s = p.sum(axis=axis)
        if not np.allclose(s, 1.0, atol=1e-4):
            raise InstanceError(f"{name}: probabilities must sum to 1 along the last axis "
                                f"(sums range over [{s.min():.6g}, {s.max():.6g}])")


MAX_ROUNDS = 2**31 - 2  # rounds are int32 (0-based), and round 2^31 - 1 keys the learner's init


def validate_horizon(horizon, name: str = "horizon") -> int:
    """A horizon is a positive integer below 2^31 - 1; anything else is rejected before
    compiling. ``name`` is what the message calls it (``chunk``, ``--horizon``, ...)."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon <= 0:
        raise InstanceError(f"{name}: expected a positive integer number of rounds, got "
                            f"{horizon!r}")
    if horizon > MAX_ROUNDS:
        raise InstanceError(f"{name}: {horizon} rounds exceed the int32 round counter "
                            f"(at most {MAX_ROUNDS})")
    return int(horizon)
