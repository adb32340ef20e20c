"""The standard benchmark instance: k = 4 latent directions, d = 8 features, K = 10 responses,
N = 64 users, M = 1 prompt (p = k d = 32 parameters), drawn at random like family F1."""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa import Instance

STANDARD = dict(k=4, d=8, n_responses=10, n_users=64, n_prompts=1)


def _unit(x):
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def standard_instance(key, k: int = 4, d: int = 8, n_responses: int = 10, n_users: int = 64,
                      n_prompts: int = 1, scale: float = 2.0) -> Instance:
    """Unit Gaussian features [M, K, d] and heads [N, k], W ~ N(0, scale^2 / k) [k, d],
    reference y0 = 0, uniform users and prompts (float32)."""
    kf, kh, kw = jax.random.split(key, 3)
    return Instance.create(
        features=_unit(jax.random.normal(kf, (n_prompts, n_responses, d))),
        reference=jnp.zeros((n_prompts,), jnp.int32),
        heads=_unit(jax.random.normal(kh, (n_users, k))),
        W=scale / jnp.sqrt(k) * jax.random.normal(kw, (k, d)))


def as_numpy(inst: Instance) -> dict:
    """The instance's fields as a dict of NumPy arrays (for the NumPy reference)."""
    return {name: np.asarray(getattr(inst, name)) for name in
            ("features", "reference", "heads", "W", "user_probs", "prompt_probs", "shared")}
