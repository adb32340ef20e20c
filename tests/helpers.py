"""Small instances shared by the tests (built once, tiny, so compilation stays cheap)."""
import functools

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa import Instance, make_family


@functools.lru_cache(maxsize=None)
def tiny_f1() -> Instance:
    return make_family("f1", jax.random.key(7), n_users=3, k=2, d=2, n_responses=3, n_prompts=2)


@functools.lru_cache(maxsize=None)
def tiny_f2() -> Instance:
    return make_family("f2", jax.random.key(8), n_users=2, k=2, d=2, n_responses=3)


def hand_instance(**overrides) -> dict:
    """Arguments of a small valid instance as NumPy arrays (M=2, K=3, d=2, N=2, k=2)."""
    rng = np.random.default_rng(0)
    args = dict(features=rng.normal(size=(2, 3, 2)).astype(np.float32),
                reference=np.zeros(2, np.int32),
                heads=rng.normal(size=(2, 2)).astype(np.float32),
                W=rng.normal(size=(2, 2)).astype(np.float32),
                user_probs=np.array([0.5, 0.5], np.float32),
                prompt_probs=np.full((2, 2), 0.5, np.float32),
                shared=np.zeros(2, np.float32))
    args.update(overrides)
    return args


def as_instance(args: dict) -> Instance:
    """An Instance from raw arrays, with no conversion (so bad dtypes reach validation)."""
    return Instance(**{k: jnp.asarray(v) for k, v in args.items()})


@functools.lru_cache(maxsize=None)
def contract_instance() -> Instance:
    """The contract tests' instance: 3 prompts, 5 unit-norm responses, d = 3, 4 users, k = 2."""
    rng = np.random.default_rng(0)
    f = rng.normal(size=(3, 5, 3))
    return Instance.create(features=f / np.linalg.norm(f, axis=-1, keepdims=True),
                           reference=np.array([0, 2, 4], np.int32), heads=rng.normal(size=(4, 2)),
                           W=rng.normal(size=(2, 3)))
