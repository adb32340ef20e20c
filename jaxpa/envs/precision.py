"""Matrix products at full float32 precision on every backend, scoped to jaxpa's own programs.

On recent NVIDIA GPUs (A100, H100, H200) XLA computes a float32 ``dot`` in TF32 by default (10
mantissa bits, relative error ~1e-3), and on TPUs in one bfloat16 pass (8 bits): JAX's default
``jax_default_matmul_precision``. jaxpa's estimates are sums of many small rank-one terms (V^-1
updates, online Newton steps, Gram and information matrices whose smallest eigenvalues decide
UD): at TF32 a run's regret and a diagnostic's verdict would depend on the hardware. The products
are tiny (p <= a few hundred) and memory-bound, so full precision costs nothing measurable.

``full_precision(fun)`` traces ``fun`` under ``jax.default_matmul_precision("highest")``: every
``dot_general`` it emits (its own, Flax's, Optax's, those of nested jits traced inside it) carries
``precision = HIGHEST`` in the lowered program. jaxpa wraps each compiled entry point with it
(the runner's program, ``one_shot_jit`` programs such as ``diagnose``, the offline and data fits,
the family and dial draws) *inside* ``jax.jit``, so it is part of jaxpa's programs and never
changes JAX's global configuration: your own code around jaxpa keeps your precision setting.

Not affected (and not needed): decompositions (``eigh``, ``cholesky``, ``solve``) lower to
LAPACK / cuSOLVER calls, which compute in full float32; on the CPU XLA computes float32 products
in full precision whatever the setting, so CPU results are bit for bit unchanged.
"""
from __future__ import annotations

import functools

import jax

MATMUL_PRECISION = "highest"


def full_precision(fun):
    """``fun`` traced with float32 matrix products at full precision (module docstring); put it
    under ``jax.jit``: ``jax.jit(full_precision(fun))``. Signature and name are kept, so
    ``static_argnames`` still apply."""
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision(MATMUL_PRECISION):
            return fun(*args, **kwargs)

    return wrapped
