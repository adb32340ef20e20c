"""Checking the random keys users pass in, before anything compiles."""
from __future__ import annotations

import jax
import numpy as np

from jaxpa.envs.instance import InstanceError


def check_key(key, name: str = "key") -> jax.Array:
    """A single typed PRNG key (``jax.random.key(seed)``); a legacy raw key (uint32 [2],
    ``jax.random.PRNGKey``) is wrapped. Integers, batches of keys and anything else are rejected
    with a message saying what to pass."""
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise InstanceError(f"{name}: expected one key (jax.random.key(seed)), got a batch of "
                                f"shape {key.shape}; the runner derives per-seed keys itself")
        return key
    arr = np.asarray(key) if isinstance(key, (jax.Array, np.ndarray)) else None
    if arr is not None and arr.dtype == np.uint32 and arr.shape == (2,):
        return jax.random.wrap_key_data(key)
    raise InstanceError(f"{name}: expected a JAX random key such as jax.random.key(0), got "
                        f"{type(key).__name__} {key!r:.60}")
