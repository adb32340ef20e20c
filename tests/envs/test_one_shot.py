"""``one_shot_jit`` (jaxpa/envs/one_shot.py): the same values as ``jax.jit`` called plainly, under
an eager vmap and inside an outer jit (where JAX refuses compiler options on a nested jit and
the wrapper falls back to a plain nested jit), and a ValueError of the function itself still
reaches the caller."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpa.envs.one_shot import CPU_OPTIONS, one_shot_jit


def spectrum(a, shift):
    return jnp.linalg.eigvalsh(a @ a.T + shift * jnp.eye(a.shape[0]))


def test_same_values_as_jit_plain_vmapped_and_nested():
    fast = one_shot_jit(spectrum, static_argnames="shift")
    a = jax.random.normal(jax.random.key(0), (5, 4, 4))
    ref = np.stack([np.linalg.eigvalsh(np.asarray(x) @ np.asarray(x).T + 2 * np.eye(4)) for x in a])
    np.testing.assert_allclose(fast(a[0], shift=2), ref[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(lambda x: fast(x, shift=2))(a), ref, rtol=1e-5, atol=1e-5)
    nested = jax.jit(jax.vmap(lambda x: fast(x, shift=2)))  # compiler options only at top level
    np.testing.assert_allclose(nested(a), ref, rtol=1e-5, atol=1e-5)
    assert fast._cache_size() >= 1
    if jax.default_backend() == "cpu":
        assert fast._jitted() is fast._cpu and CPU_OPTIONS


def test_errors_of_the_function_are_not_swallowed():
    def bad(x):
        raise ValueError("shape mismatch in the caller's own code")

    with pytest.raises(ValueError, match="caller's own code"):
        one_shot_jit(bad)(jnp.ones(3))
    with pytest.raises(ValueError, match="caller's own code"):
        jax.jit(lambda x: one_shot_jit(bad)(x))(jnp.ones(3))
