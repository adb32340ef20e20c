"""Runs spread over several devices with JAX's own machinery: a 1-D ``Mesh`` with axis 'runs'.

Runs are independent, so no communication is needed: the seed keys (or the instances of a batch)
are placed with ``NamedSharding(mesh, P('runs'))``, everything else is replicated, and the same
jitted program as on one device (``runner.simulate.compiled_program``) is partitioned by XLA along
that axis. A batch that does not divide the device count is padded (extra seeds, or copies of the
last instance) and the padding is dropped from the curves. Seed s is fold_in(key, s) whatever the
padding, so the curves equal ``simulate``'s exactly.

Devices: ``jax.devices()`` by default. On a CPU, XLA exposes one device unless told otherwise:
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` or
``jax.config.update('jax_num_cpu_devices', N)`` before JAX starts; each device then runs on its
own thread, so N = the core count uses every core. Across processes (``jax.distributed``) the
same code runs on the global mesh: see benchmarks/distributed_demo.py.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxpa.envs.instance import Instance, InstanceError
from jaxpa.learners.base import Learner
from jaxpa.runner.simulate import (Curves, check_memory, check_run, continued_checkpoints,
                                   drop_padding, log_checkpoints, run_programs, seed_bucket,
                                   seed_keys)

AXIS = "runs"
OVER = ("seeds", "instances")


def runs_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis 'runs' over ``devices`` (default: all devices, every process)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise InstanceError("devices: need at least one device")
    return Mesh(np.array(devices), (AXIS,))


def padded_size(n: int, n_devices: int) -> int:
    """Smallest multiple of n_devices that is >= n."""
    return -(-n // n_devices) * n_devices


def _put(x, mesh: Mesh, spec: P) -> jax.Array:
    """Place a global array (the same on every process) on the mesh; PRNG keys included."""
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_put(jax.random.key_data(x), mesh, spec),
                                        impl=jax.random.key_impl(x))
    sharding = NamedSharding(mesh, spec)
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    x = np.asarray(x)  # multi-process: each process hands over the shards of its own devices
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def gather(x: jax.Array) -> np.ndarray:
    """A (possibly multi-process) sharded array as one NumPy array on every process."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def simulate_sharded(key: jax.Array, instance: Instance, feedback, learner: Learner,
                     hparams=None, *, horizon: int, n_seeds: int = 1, n_checkpoints: int = 50,
                     chunk: int | None = None,
                     on_chunk: Callable[[int, Curves], None] | None = None,
                     mesh: Mesh | None = None, over: str = "seeds",
                     track_cells: bool = False, continue_factor: int | None = None) -> Curves:
    """``simulate`` with the runs spread over the devices of ``mesh`` (default: ``runs_mesh()``).

    over: 'seeds' shards the seed axis; 'instances' shards the instance axis of a batch of
    instances (every device then runs all seeds of its instances). Same arguments and the same
    curves (as NumPy arrays on every process) as ``simulate``.
    """
    each = None if on_chunk is None else (lambda t, curves: on_chunk(t, curves[0]))
    return simulate_sharded_many(key, instance, feedback, [(learner, hparams)], horizon=horizon,
                                 n_seeds=n_seeds, n_checkpoints=n_checkpoints, chunk=chunk,
                                 on_chunk=each, mesh=mesh, over=over, track_cells=track_cells,
                                 continue_factor=continue_factor)[0]


def simulate_sharded_many(key: jax.Array, instance: Instance, feedback,
                          runs: Sequence[tuple[Learner, object]], *, horizon: int,
                          n_seeds: int = 1, n_checkpoints: int = 50, chunk: int | None = None,
                          on_chunk: Callable[[int, tuple], None] | None = None,
                          mesh: Mesh | None = None, over: str = "seeds",
                          track_cells: bool = False, estimate_only: bool = False,
                          continue_factor: int | None = None) -> list[Curves]:
    """``simulate_sharded`` for several learners at once: ``runs`` is a list of (learner,
    hparams) pairs, all run on the same seeds, instances and rounds in one compiled program
    (``runner.simulate._programs``); one Curves per pair, each equal to its own
    ``simulate_sharded`` call. ``on_chunk(t, curves)`` gets the tuple of curves. The run's memory
    is estimated from the shapes first and a run that cannot fit is refused (``runner.memory``);
    ``estimate_only`` returns that estimate (a ``MemoryEstimate``) and runs nothing;
    ``continue_factor`` continues the runs past the horizon as ``simulate``'s does."""
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not runs:
        raise InstanceError("runs: expected a non-empty list of (learner, hparams) pairs")
    if over not in OVER:
        raise InstanceError(f"over: expected one of {OVER}, got {over!r}")
    checked = [check_run(key, instance, feedback, learner, hp, horizon, n_seeds, chunk,
                         n_checkpoints=n_checkpoints, on_chunk=on_chunk,
                         track_cells=track_cells, continue_factor=continue_factor)
               for learner, hp in runs]
    key, feedback, horizon, _, _, inst_batched = checked[0]
    hparams, hp_batched = [c[3] for c in checked], [c[4] for c in checked]
    mesh = runs_mesh() if mesh is None else mesh
    if mesh.axis_names != (AXIS,):
        raise InstanceError(f"mesh: expected one axis named {AXIS!r}, got {mesh.axis_names}")
    n_dev = mesh.devices.size
    n_instances = None
    end = None if continue_factor is None else horizon * int(continue_factor)
    ckpts = (log_checkpoints(horizon, n_checkpoints) if end is None
             else continued_checkpoints(horizon, end, n_checkpoints))
    n_run = padded_size(seed_bucket(n_seeds), n_dev) if over == "seeds" else seed_bucket(n_seeds)
    mem, exact = check_memory(feedback, tuple(learner for learner, _ in runs), instance,
                              tuple(hparams), ckpts.shape[0], inst_batched, tuple(hp_batched),
                              track_cells, n_run, end or horizon, chunk, list(mesh.devices.flat))
    if estimate_only:
        return mem
    if over == "seeds":  # padding: seeds n_seeds, n_seeds + 1, ..., dropped from the curves
        keys = _put(seed_keys(key, padded_size(seed_bucket(n_seeds), n_dev)), mesh, P(AXIS))
        instance = jax.tree.map(lambda x: _put(x, mesh, P()), instance)
    else:
        if not inst_batched:
            raise InstanceError("over='instances' needs a batch of instances (leading [B] axis)")
        n_instances = instance.batch_shape[0]
        pad = padded_size(n_instances, n_dev) - n_instances
        instance = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]),
                                instance)  # padding: copies of the last instance
        instance = jax.tree.map(lambda x: _put(x, mesh, P(AXIS)), instance)
        keys = _put(seed_keys(key, seed_bucket(n_seeds)), mesh, P())
    hparams = [jax.tree.map(lambda x: _put(x, mesh, P()), hp) for hp in hparams]
    views = tuple(drop_padding(n_seeds, int(inst_batched) + int(hb), n_instances, fetch=gather)
                  for hb in hp_batched)
    return list(run_programs(feedback, tuple(learner for learner, _ in runs), keys, instance,
                             tuple(hparams), ckpts, horizon, inst_batched, tuple(hp_batched),
                             chunk, on_chunk, views, track_cells, mem if exact else None, end))
