"""Faster CPU code for the random draws of every round, with bit-for-bit the same results: an
explicit opt-in, never applied by importing jaxpa.

JAX lowers the Threefry hash on the CPU as a rolled ``fori_loop`` (to compile faster); inside
``vmap(scan)`` each of its 5 iterations is a separate XLA loop step that cannot be vectorized,
about 20x slower per random word than the unrolled form JAX uses on GPUs (benchmarks/RESULTS.md).
``fast_cpu_random()`` registers the unrolled lowering for the CPU too: same hash, same bits,
compile time a fraction of a second longer. Registering a lowering rule changes how *every*
program of the process is compiled, so jaxpa never leaves it installed behind the caller's back:
the runner uses it as a context manager around its own program calls (``run_programs``: the API
as called gets the speed, nothing else changes); the command line and the benchmarks turn it on
for the process; in your own code call ``fast_cpu_random()`` once, or use it as a context manager
(``with fast_cpu_random(): ...``), which restores the previous rule on exit.
"""
from __future__ import annotations

import contextlib

_MISSING = object()


def _rule_table():
    """(the CPU lowering table, the Threefry primitive, the unrolled rule), or None when this JAX
    version keeps them elsewhere (then nothing changes)."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf
        table = mlir._platform_specific_lowerings["cpu"]
        return table, tf.threefry2x32_p, tf._threefry2x32_lowering_rule, mlir
    except (ImportError, AttributeError, KeyError):
        return None


def unrolled_on_cpu() -> bool:
    """Whether the CPU currently lowers Threefry with the unrolled rule."""
    found = _rule_table()
    if found is None:
        return False
    table, prim, rule, _ = found
    entry = table.get(prim)
    return entry is not None and getattr(entry, "rule", None) is rule


class fast_cpu_random(contextlib.ContextDecorator):
    """Use JAX's unrolled Threefry lowering on the CPU (module docstring).

    Called plainly (``fast_cpu_random()``) it installs the rule for the rest of the process; as a
    context manager or decorator it restores the previous rule on exit. ``installed`` says
    whether this JAX version allowed it.
    """

    def __init__(self):
        found = _rule_table()
        self.installed = found is not None
        self._previous = _MISSING
        if found is not None:
            table, prim, rule, mlir = found
            self._previous = table.get(prim, _MISSING)
            mlir.register_lowering(prim, rule, platform="cpu")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        found = _rule_table()
        if found is not None and self._previous is not _MISSING:
            table, prim, _, _ = found
            table[prim] = self._previous
        elif found is not None:
            found[0].pop(found[1], None)
        return False
