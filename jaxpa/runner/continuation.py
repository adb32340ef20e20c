"""A run continued past its horizon, with the cell tracker read twice: what permanent lock-in
needs (diagnostics/lock_persistence.py).

``continue_run`` plays rounds 0 .. T with horizon T (the cells locked over [T/2, T] are those of
an ordinary run of horizon T: ``simulate(..., track_cells=True)``), keeps the tracker, starts a
fresh one and plays on to factor * T with horizon factor * T, so the second tracker covers the
last half [factor T / 2, factor T] of the continued run. The same compiled program plays both
stages (the horizon is an argument of the program), chunk by chunk when ``chunk`` is given:
memory does not grow with the horizon. Seeds, keys and rounds are those of ``simulate``: the
first T rounds are the same numbers as a run of horizon T.

The learner sees ctx.horizon = T in the first stage and factor * T in the second: only schedules
that read the horizon (explore-then-commit's c log T) notice, and for them the rounds past T are
past the exploration anyway unless c log(factor T) > T.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.instance import InstanceError
from jaxpa.learners.base import Learner
from jaxpa.runner.cells import CellTracker
from jaxpa.runner.checks import check_run, seed_bucket
from jaxpa.runner.curves import Curves, drop_padding, log_checkpoints, read_curves
from jaxpa.runner.simulate import _bound_cache, compiled_program, seed_keys


class Continuation(NamedTuple):
    """curves: to factor * T (checkpoints include T), ``cells`` the tracker over
    [factor T / 2, factor T]; cells_at_T: the tracker over [T/2, T] (leaves [..., S, N, M]);
    horizon: T; continued_to: factor * T."""

    curves: Curves
    cells_at_T: CellTracker
    horizon: int
    continued_to: int


def _fresh(cells: CellTracker) -> CellTracker:
    return CellTracker(plays=jnp.zeros_like(cells.plays), first=jnp.full_like(cells.first, -1),
                       mixed=jnp.zeros_like(cells.mixed))


def continue_run(key, instance, feedback, learner: Learner, hparams=None, *, horizon: int,
                 factor: int = 4, n_seeds: int = 1, n_checkpoints: int = 50,
                 chunk: int | None = None) -> Continuation:
    """Run ``learner`` to ``horizon`` T, then continue the same runs to factor * T (module
    docstring). Arguments as ``simulate``'s; factor: an integer >= 2."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
        raise InstanceError(f"factor: expected an integer >= 2, got {factor!r:.60}")
    key, feedback, _, hparams, hp_batched, inst_batched = check_run(
        key, instance, feedback, learner, hparams, factor * horizon, n_seeds, chunk,
        n_checkpoints=n_checkpoints, track_cells=True)
    T, end = int(horizon), int(factor) * int(horizon)
    _bound_cache()
    checkpoints = np.sort(np.append(log_checkpoints(end, n_checkpoints), T)).astype(np.int32)
    unique = np.unique(checkpoints, return_index=True)[1]
    static = (feedback, (learner,), checkpoints.shape[0], inst_batched, (hp_batched,), True)
    keys = seed_keys(key, seed_bucket(n_seeds))
    view = drop_padding(n_seeds, int(inst_batched) + int(hp_batched))
    step = chunk or end
    carries, done, cells_at_T = None, 0, None
    for stage_end, stage_horizon in ((T, T), (end, end)):
        while done < stage_end:
            n = min(step, stage_end - done)
            carries = compiled_program(*static, keys, instance, (hparams,), checkpoints,
                                       np.int32(n), np.int32(stage_horizon), carries)
            done += n
        if cells_at_T is None:
            cells_at_T = view(read_curves(carries[0], checkpoints, unique)).cells
            carries = (carries[0].replace(cells=_fresh(carries[0].cells)),)
    curves = view(read_curves(carries[0], checkpoints, unique))
    return Continuation(curves=curves, cells_at_T=cells_at_T, horizon=T, continued_to=end)
