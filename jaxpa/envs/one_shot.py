"""``one_shot_jit``: ``jax.jit`` for programs that run once per call on small arrays.

Diagnostics, candidate constants and coverage draws are compiled once per instance shape and then
run once or a few times, on arrays of a few thousand numbers; their compile time is most of their
cost. On the CPU these compile at XLA's lowest backend optimization level
(``xla_backend_optimization_level=0``, a per-program compiler option, nothing global): measured on
``diagnose`` of a batch of 8 matched instances, compile 1.85 s -> 1.0 s, run 0.8 ms -> 1.1 ms.
Values agree with the default compilation to float rounding (the last bits can differ: LLVM
contracts and vectorizes less). Other backends compile exactly as ``jax.jit`` does. Instance
draws keep the default (a family's draws stay bit for bit what they were, so every reported number
is reproducible across versions), and so do the simulation loops (the runner, offline curves,
bootstrap fits): they run long.
"""
from __future__ import annotations

import functools

import jax

from jaxpa.envs.precision import full_precision

CPU_OPTIONS = {"xla_backend_optimization_level": 0}


def one_shot_jit(fun=None, **jit_kwargs):
    """``jax.jit(fun, **jit_kwargs)``, compiled with ``CPU_OPTIONS`` when the default backend is
    the CPU. Usable as ``@one_shot_jit`` or ``@one_shot_jit(static_argnames=...)``, with the
    jitted function's ``lower``, ``_cache_size`` and ``clear_cache``. Called while an outer
    ``jax.jit`` traces (where JAX accepts compiler options only at the top level), it is a plain
    nested jit and the outer program's options apply; under an eager ``vmap`` it keeps its own."""
    if fun is None:
        return functools.partial(one_shot_jit, **jit_kwargs)
    return _OneShot(fun, jit_kwargs)


class _OneShot:
    def __init__(self, fun, jit_kwargs):
        functools.update_wrapper(self, fun)
        fun = full_precision(fun)  # float32 products at full precision on every backend
        self._plain = jax.jit(fun, **jit_kwargs)
        self._cpu = jax.jit(fun, compiler_options=CPU_OPTIONS, **jit_kwargs)

    def _jitted(self):
        return self._cpu if jax.default_backend() == "cpu" else self._plain

    def __call__(self, *args, **kwargs):
        jitted = self._jitted()
        if jitted is self._plain:
            return jitted(*args, **kwargs)
        try:
            return jitted(*args, **kwargs)
        except ValueError as err:  # called while an outer jit is tracing: its options apply
            if "compiler_options" not in str(err):
                raise
            return self._plain(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._jitted().lower(*args, **kwargs)

    def _cache_size(self) -> int:
        return self._jitted()._cache_size()

    def clear_cache(self) -> None:
        self._plain.clear_cache()
        self._cpu.clear_cache()
