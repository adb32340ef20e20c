"""Per-(user, prompt) play over the last half of a run: what lock-in statistics need.

A cell (u, x) is *locked* when, over the rounds t >= T/2, it was visited at least a few times and
every visit served the same response, a suboptimal one: one locked user in one seed is a failure of
greedy even when the seed's total mistakes are few (MODEL.md §5). The runner keeps, per seed,
three [N, M] arrays (``CellTracker``) updated in the rounds t >= T/2; ``lock_in`` in
diagnostics/curve_stats.py turns them and the instance's gaps into locked cells.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.instance import Instance

Array = jax.Array


@struct.dataclass
class CellTracker:
    """plays: [N, M] int32 visits of each cell in the last half; first: [N, M] int32 the response
    served at the first such visit (-1 before); mixed: [N, M] bool whether a later visit served
    another response."""

    plays: Array
    first: Array
    mixed: Array


def init_cells(inst: Instance) -> CellTracker:
    shape = (inst.n_users, inst.n_prompts)
    return CellTracker(plays=jnp.zeros(shape, jnp.int32), first=jnp.full(shape, -1, jnp.int32),
                       mixed=jnp.zeros(shape, bool))


def track(cells: CellTracker, record, late: Array) -> CellTracker:
    """Fold one round (its context and served response ``record.action[0]``) into the tracker
    when ``late`` (t >= T/2, an unbatched bool: a real ``lax.cond``)."""
    def update():
        u, x, y = record.context.user, record.context.prompt, record.action[0]
        first = cells.first[u, x]
        return CellTracker(plays=cells.plays.at[u, x].add(1),
                           first=cells.first.at[u, x].set(jnp.where(first < 0, y, first)),
                           mixed=cells.mixed.at[u, x].set(cells.mixed[u, x] | ((first >= 0) & (y != first))))

    return jax.lax.cond(late, update, lambda: cells)
