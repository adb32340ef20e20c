"""What the runner returns: cumulative regret curves read at checkpoints (``Curves``), the
checkpoint grid, and the views that drop padded seeds and instances from them."""
from __future__ import annotations

from typing import Callable

import numpy as np
import jax
from flax import struct

from jaxpa.runner.cells import CellTracker

Array = jax.Array


@struct.dataclass
class Curves:
    """Curves at checkpoints. Leading axes of everything but checkpoints: [*instances, *hparams,
    seeds].

    checkpoints: [C] int32 rounds t (1-based) at which the curves are read.
    regret:   [..., C] cumulative pseudo-regret R_t (the feedback model's regret).
    mistakes: [..., C] int32 number of rounds s <= t with positive regret.
    extra:    {name: [..., C]} other regret definitions of the feedback model (bt_duel: weak).
    nonfinite_at: [...] int32 the first round (1-based) after which the learner's state held a
        NaN or an infinity; 0 for a healthy run. A run with nonfinite_at > 0 is not evidence.
        Small state leaves (at most SMALL_LEAF numbers a run: theta, counts, scalars) are checked
        every round; large ones (V^-1, network weights) at the end of the run or chunk, where a
        fault first seen reads as that round. A fault in V^-1 reaches theta in the same update.
    cells:    per-(user, prompt) play over the last half (``runner/cells.py``), or None.
    cells_at_horizon: for a run continued past its horizon T (``simulate(...,
        continue_factor=c)``), the tracker over [T/2, T]; ``cells`` is then the one over the
        continued run's last half [c T / 2, c T] and the checkpoints run to c T. None otherwise.
    """

    checkpoints: Array
    regret: Array
    mistakes: Array
    extra: dict = struct.field(default_factory=dict)
    nonfinite_at: Array = None
    cells: CellTracker | None = None
    cells_at_horizon: CellTracker | None = None

    @property
    def healthy(self) -> Array:
        """[...] bool: runs whose learner state stayed finite."""
        return np.asarray(self.nonfinite_at) == 0


def log_checkpoints(horizon: int, n: int = 50) -> np.ndarray:
    """About n log-spaced rounds in [1, horizon], always including T/8, T/4, T/2 (for the
    plateau test and the per-doubling increments of diagnostics/curve_stats.py) and the horizon
    T itself: [n + 4] int32, increasing. Early values that round to the same integer repeat (the
    array keeps its length, so every horizon shares one compiled program); ``Curves`` drop the
    repeats."""
    pts = np.round(np.logspace(0, np.log10(horizon), n)).astype(np.int64)
    pts = np.append(pts, [max(horizon // 8, 1), max(horizon // 4, 1), max(horizon // 2, 1),
                          horizon])
    return np.sort(np.clip(pts, 1, horizon)).astype(np.int32)


def _host(x):
    """A device array as NumPy where this process holds all of it (a multi-process sharded array
    stays on the devices; ``drop_padding``'s fetch gathers it)."""
    return np.asarray(x) if getattr(x, "is_fully_addressable", True) else x


def continued_checkpoints(horizon: int, continue_to: int, n: int = 50) -> np.ndarray:
    """``log_checkpoints`` of the continued horizon with the horizon itself added: [n + 5]."""
    return np.sort(np.append(log_checkpoints(continue_to, n), horizon)).astype(np.int32)


def read_curves(carry, checkpoints: np.ndarray, unique: np.ndarray,
                cells_at_horizon: CellTracker | None = None) -> Curves:
    """The Curves of a runner carry (``simulate.Carry``) at the checkpoints ``unique`` indexes
    (the first of each repeated checkpoint)."""
    # Repeats are dropped on the host: indexing a device array with a NumPy index compiles a
    # gather (and its index arithmetic) per index length, i.e. per horizon: hundreds of small
    # programs, seconds and megabytes each call, in a session that varies the horizon.
    pick = lambda x: _host(x)[..., unique]
    return Curves(checkpoints=checkpoints[unique], regret=pick(carry.curve_regret),
                  mistakes=pick(carry.curve_mistakes),
                  extra={n: pick(v) for n, v in carry.curve_extra.items()},
                  nonfinite_at=carry.nonfinite_at, cells=carry.cells,
                  cells_at_horizon=cells_at_horizon)


def drop_padding(n_seeds: int, seed_axis: int, n_instances: int | None = None,
                 fetch: Callable = np.asarray) -> Callable[[Curves], Curves]:
    """A ``view`` that keeps the first n_seeds along the seed axis (and the first n_instances
    along the instance axis, when given), as NumPy arrays (``fetch`` gathers sharded ones)."""
    def take(x):
        x = np.take(fetch(x), np.arange(n_seeds), axis=seed_axis)
        return x if n_instances is None else x[:n_instances]

    def view(c: Curves) -> Curves:
        return Curves(checkpoints=fetch(c.checkpoints), regret=take(c.regret),
                      mistakes=take(c.mistakes), extra={n: take(v) for n, v in c.extra.items()},
                      nonfinite_at=take(c.nonfinite_at),
                      cells=None if c.cells is None else jax.tree.map(take, c.cells),
                      cells_at_horizon=None if c.cells_at_horizon is None
                      else jax.tree.map(take, c.cells_at_horizon))

    return view
