"""Do the permanent locks outside a draw's set of strict self-consistent locks break later? (C9d,
experiments/lock: its "undetermined" draws.) The lock experiment's draws (seed 0) are rerun with the
same keys to factor 4 and to a longer factor; per seed, the pattern a lock plays over [2T, 4T]
(``fixed_points.observed_pattern``) is compared with the one over the long run's last half.

    PYTHONPATH=$PWD python -m benchmarks.slow_locks --draws robust:14 fragile:13 fragile:8 fragile:5

Prints per draw and n0: seeds locked for good at 4T inside / outside the set, how many of each
still play the same pattern at the end of the long run and where each plays then (every cell
optimal, a lock of the set, other); the two runs' [T/2, T] trackers must agree
(same keys, same rounds)."""
from __future__ import annotations

import argparse
import time

import numpy as np
import jax

from jaxpa import make_learner, set_hparams, simulate
from jaxpa.diagnostics import permanent_lock
from jaxpa.diagnostics.fixed_points import (escape_time, observed_pattern, pattern_in,
                                            self_consistent_locks)
from jaxpa.envs.instance import optimal_responses
from experiments.lock.experiment import EXPERIMENT


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", nargs="+",
                    default=["robust:14", "fragile:13", "fragile:8", "fragile:5"])
    ap.add_argument("--n0", type=int, nargs="+", default=[0, 100])
    ap.add_argument("--learner", default="greedy")
    ap.add_argument("--factor", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=0, help="default: the experiment's")
    args = ap.parse_args(argv)
    size = EXPERIMENT.size("default")
    key = jax.random.key(0)
    pops = {p.label: p.instances(key, size.draws or p.draws)[0] for p in EXPERIMENT.populations}
    learner = make_learner(args.learner, "bt_ref")
    hp = set_hparams(learner.default_hparams(), warm_start=np.array(args.n0, np.int32))
    for spec in args.draws:
        pop, b = spec.split(":")
        inst = jax.tree.map(lambda x: x[int(b)], pops[pop])
        locks = self_consistent_locks(inst).locks
        y_star = np.asarray(optimal_responses(inst))
        t0 = time.time()
        short, long = (simulate(jax.random.key(7), inst, "bt_ref", learner, hp,
                                horizon=size.horizon, n_seeds=args.seeds or size.seeds,
                                track_cells=True, continue_factor=f) for f in (4, args.factor))
        assert np.array_equal(np.asarray(short.cells_at_horizon.first),
                              np.asarray(long.cells_at_horizon.first))
        perm = permanent_lock(short, inst, size.horizon)["permanent_run"]  # [n0, S]
        p4, pend = observed_pattern(short.cells), observed_pattern(long.cells)
        for j, n0 in enumerate(args.n0):
            rows = {"inside": [0, 0], "outside": [0, 0]}
            fate = {side: {"optimal": 0, "in the set": 0, "other": 0}
                    for side in ("inside", "outside")}
            taus = []
            for s in np.flatnonzero(perm[j]):
                side = "inside" if pattern_in(locks, p4[j, s]) else "outside"
                rows[side][0] += 1
                rows[side][1] += int(np.array_equal(p4[j, s], pend[j, s]))
                if side == "outside":
                    taus.append(escape_time(inst, p4[j, s]))
                end = pend[j, s]  # where the seed plays at the long run's end
                fate[side]["optimal" if np.all((end == y_star) | (end < 0)) else
                           "in the set" if pattern_in(locks, end) else "other"] += 1
            print(f"{pop} {b} {args.learner} n0={n0}: locked for good at 4T inside the set "
                  f"{rows['inside'][0]} (same pattern at {args.factor}T: {rows['inside'][1]}), "
                  f"outside {rows['outside'][0]} (same pattern at {args.factor}T: "
                  f"{rows['outside'][1]}; escape times {[round(t) for t in taus]}; at "
                  f"{args.factor}T {fate}) "
                  f"({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
