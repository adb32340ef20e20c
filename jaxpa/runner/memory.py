"""How much memory (and, roughly, time) a run needs, known before anything is allocated or compiled,
and the refusal of a run that cannot fit.

From the shapes alone (``jax.eval_shape`` and the traced program, no array allocated):

- ``carry``: the loop carry of every learner (state, Kahan sums, [C] curve buffers, health, cell
  tracker) over every (instance, hyperparameter point, seed): exact, it is what the program
  returns; plus the arguments (seed keys, instance, hyperparameters).
- ``temps_upper``: the sum of every intermediate array of the traced program (no reuse at all): an
  upper bound on XLA's temporaries, which reuse buffers and update the carry in place.
- ``host``: the curves (and cells) copied back as NumPy, twice (the read and the padding drop).

``need`` = arguments + carry (+ host on a CPU, where both live in the same RAM) is what the run
needs at least (measured by ``memory_analysis`` at 1.1-1.3x of it for the estimating learners,
tests/runner/test_memory_estimate.py). A run whose ``need`` exceeds the available memory is refused
with one line saying how many seeds would fit; one whose upper bound exceeds it is compiled first
and checked against the compiled program's ``memory_analysis()`` (exact; the neural learner's
per-round temporaries are ~12x its carry) before it runs. Everything scales with the seed count,
so the per-seed figures are computed once per program shape (cached) and multiplied.
"""
from __future__ import annotations

import functools
import os
from typing import NamedTuple, Sequence

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.instance import InstanceError

GiB = 2**30
# Rough speed for the time estimate: greedy/bt_ref at p = 32 on one CPU core of this project's
# machine (benchmarks/RESULTS.md: 1.2 M seed-rounds/s on one device); other p scale with p^2.
CPU_SEED_ROUNDS_PER_S_P32 = 1.0e6


class MemoryEstimate(NamedTuple):
    """Bytes of a run (module docstring) and where it runs. ``rough_seconds`` is None where no
    speed of this platform is known (accelerators: benchmarks/accelerator.py measures it)."""

    args: int
    carry: int
    temps_upper: int
    host: int
    n_seeds: int
    platform: str
    available: int | None
    rough_seconds: float | None

    @property
    def same_memory(self) -> bool:
        """Whether device and host share one RAM (the CPU)."""
        return self.platform == "cpu"

    @property
    def need(self) -> int:
        """At least this many bytes (arguments, carry, and the host copy on a CPU)."""
        return self.args + self.carry + (self.host if self.same_memory else 0)

    @property
    def upper(self) -> int:
        return self.need + self.temps_upper

    @property
    def per_seed(self) -> float:
        return self.need / max(self.n_seeds, 1)

    def seeds_that_fit(self) -> int:
        """Seeds whose ``need`` fits the available memory (0 if nothing is known)."""
        return 0 if self.available is None else int(self.available // max(self.per_seed, 1))

    def times(self, factor: int) -> "MemoryEstimate":
        """The estimate of ``factor`` times as many instances (the batch axis scales every
        per-run figure; seeds stay the same, so ``seeds_that_fit`` is at that many instances)."""
        return self._replace(carry=self.carry * factor, temps_upper=self.temps_upper * factor,
                             host=self.host * factor, args=self.args * factor,
                             rough_seconds=None if self.rough_seconds is None
                             else self.rough_seconds * factor)

    def line(self) -> str:
        """One line for ``--check``."""
        avail = "unknown" if self.available is None else f"{self.available / GiB:.1f} GiB"
        t = "" if self.rough_seconds is None else f", roughly {_duration(self.rough_seconds)}"
        return (f"memory: about {self.need / GiB:.2f} GiB ({self.platform}; at most "
                f"{self.upper / GiB:.2f} GiB), available {avail}{t}")


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def available_bytes(devices: Sequence[jax.Device] | None = None) -> int | None:
    """Free memory for a run spread over ``devices`` (default: the default device): the host's
    available RAM for CPU devices (they share it), else the sum of (limit - in use) from
    ``memory_stats()``; None where unknown. Over several processes, this process's devices
    stand for the others (each holds its share of the run)."""
    devices = list(devices or [jax.devices()[0]])
    local = [d for d in devices if d.process_index == jax.process_index()] or devices[:1]
    if local[0].platform == "cpu":
        free = host_available()
    else:
        free = 0
        for dev in local:
            try:
                stats = dev.memory_stats() or {}
            except Exception:  # noqa: BLE001: a backend without memory statistics
                return None
            if "bytes_limit" not in stats:
                return None
            free += stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    return None if free is None else int(free * len(devices) / len(local))


def host_available() -> int | None:
    """The host's available RAM (MemAvailable on Linux), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _itemsize(dtype) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # a key type: its data (two uint32 words for threefry)
        return 8


def _nbytes(tree) -> int:
    return sum(int(np.prod(x.shape)) * _itemsize(x.dtype) for x in jax.tree.leaves(tree))


def _subjaxprs(value):
    """The jaxprs inside an equation's parameter (loop bodies, branches), at any depth of
    tuples: duck-typed, so no JAX-version-specific helper is needed."""
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value, "consts"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def _intermediates(jaxpr) -> int:
    """Bytes of every equation output of a jaxpr, sub-jaxprs (loop bodies, branches) included."""
    total = 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            aval = v.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += int(np.prod(aval.shape)) * _itemsize(aval.dtype)
        for value in eqn.params.values():
            for sub in _subjaxprs(value):
                total += _intermediates(sub)
    return total


def _struct(x):
    return jax.ShapeDtypeStruct(np.shape(x), x.dtype)


_PER_SEED: dict = {}


def _per_seed(static: tuple, instance, hparams: tuple, key_dtype) -> tuple[int, int, int]:
    """(carry bytes, intermediate bytes, host bytes) of one seed of the program ``static``
    (runner.simulate's static arguments) on instances and hyperparameters of these shapes."""
    from jaxpa.runner.simulate import _programs
    inst_s, hp_s = jax.tree.map(_struct, instance), jax.tree.map(_struct, hparams)
    leaves, tree = jax.tree.flatten((inst_s, hp_s))
    cache_key = (static, tree, tuple((x.shape, str(x.dtype)) for x in leaves), str(key_dtype))
    if cache_key not in _PER_SEED:
        keys = jax.ShapeDtypeStruct((1,), key_dtype)
        ck = jax.ShapeDtypeStruct((static[2],), jnp.int32)  # the checkpoints [C]
        i32 = jax.ShapeDtypeStruct((), jnp.int32)
        jaxpr, carries = jax.make_jaxpr(functools.partial(_programs, *static),
                                        return_shape=True)(keys, inst_s, hp_s, ck, i32, i32, None)
        host = sum(_nbytes((c.curve_regret, c.curve_mistakes, c.curve_extra, c.nonfinite_at,
                            c.cells)) for c in carries)
        if len(_PER_SEED) > 256:
            _PER_SEED.clear()
        _PER_SEED[cache_key] = (_nbytes(carries), _intermediates(jaxpr.jaxpr), 2 * host)
    return _PER_SEED[cache_key]


def rough_seconds(platform: str, p: int, seed_rounds: float, n_devices: int = 1) -> float | None:
    """A rough run time (CPU only; greedy's cost, others cost up to a few times more)."""
    if platform != "cpu":
        return None
    rate = CPU_SEED_ROUNDS_PER_S_P32 * n_devices * (32.0 / max(p, 32)) ** 2
    return seed_rounds / rate


def estimate(static: tuple, instance, hparams: tuple, n_seeds: int, horizon: int,
             devices: Sequence[jax.Device] | None = None, chunked: bool = False) -> MemoryEstimate:
    """The MemoryEstimate of running the program ``static`` (``runner.simulate.compiled_program``'s
    static arguments: feedback, learners, C, inst_batched, hp_batched, track_cells) for
    ``n_seeds`` seeds (padded count) on ``devices``; ``chunked``: the horizon runs in chunks
    (a chunk's program takes the carry in and returns a new one). Nothing is allocated or
    compiled."""
    devices = list(devices or [jax.devices()[0]])
    key_dtype = jax.random.key(0).dtype
    carry, temps, host = _per_seed(static, instance, hparams, key_dtype)
    args = _nbytes(jax.tree.map(_struct, (instance, hparams))) + 8 * n_seeds
    args += carry * n_seeds if chunked else 0
    inst_batched, hp_batched = static[3], static[4]
    B = int(np.shape(instance.heads)[0]) if inst_batched else 1
    runs = sum(B * (int(np.shape(jax.tree.leaves(hp)[0])[0]) if hb and jax.tree.leaves(hp)
                    else 1) for hp, hb in zip(hparams, hp_batched))
    k, d = np.shape(instance.heads)[-1], np.shape(instance.features)[-1]
    platform = devices[0].platform
    return MemoryEstimate(args=int(args), carry=carry * n_seeds, temps_upper=temps * n_seeds,
                          host=host * n_seeds, n_seeds=n_seeds, platform=platform,
                          available=available_bytes(devices),
                          rough_seconds=rough_seconds(platform, k * d,
                                                      runs * n_seeds * horizon, len(devices)))


def check_fits(est: MemoryEstimate, what: str = "this run") -> bool:
    """Raise InstanceError (one line) when the run cannot fit; return whether it should be
    compiled and checked against ``memory_analysis`` first (its upper bound does not fit)."""
    if est.available is None:
        return False
    if est.need > est.available:
        fit = est.seeds_that_fit()
        raise InstanceError(
            f"{what} needs at least {est.need / GiB:.1f} GiB ({est.n_seeds:,} seeds) but "
            f"{est.available / GiB:.1f} GiB is available on {est.platform}: "
            + (f"at most about {fit:,} seeds would fit" if fit else "not even one seed fits")
            + " (or use fewer instances / hyperparameter points, or more devices)")
    return est.upper > est.available


def check_compiled(compiled, est: MemoryEstimate, what: str = "this run") -> int:
    """Bytes the compiled program needs (``memory_analysis``: arguments + outputs + temporaries
    - aliased), raising InstanceError when that exceeds the available memory."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    need = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
            - m.alias_size_in_bytes) + (est.host if est.same_memory else 0)
    if est.available is not None and need > est.available:
        fit = int(est.n_seeds * est.available / need)
        raise InstanceError(
            f"{what} needs {need / GiB:.1f} GiB once compiled ({est.n_seeds:,} seeds) but "
            f"{est.available / GiB:.1f} GiB is available on {est.platform}: at most about "
            f"{fit:,} seeds would fit")
    return need
