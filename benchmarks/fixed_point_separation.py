"""Does "some strict self-consistent lock exists" (diagnostics.fixed_points) separate the draws
where greedy locks for good from the others, on fresh draws of the robust pair? (C9d's 2 x 2
table, on more draws than the lock experiment's 16 a side.)

    PYTHONPATH=$PWD python -m benchmarks.fixed_point_separation --draws 48 --seeds 16 --long 40

Per side (robust_holds, robust_fails): draws by (some strict lock) x (some seed locks for good:
locked over [T/2, T] and still on the same response over [2T, 4T]), the same against robust UD,
and the permanent locks whose pattern over [2T, 4T] lies outside the draw's set, with their
escape times (``fixed_points.escape_time``); with --long, whether those still play their pattern
at the end of a run continued to long x T with the same keys."""
from __future__ import annotations

import argparse
import time

import numpy as np
import jax

from jaxpa import make_learner, set_hparams, simulate
from jaxpa.diagnostics import diagnose, permanent_lock
from jaxpa.diagnostics.fixed_points import (escape_time, observed_pattern, pattern_in,
                                            self_consistent_locks)
from jaxpa.envs.families import FAMILIES


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=48)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--horizon", type=int, default=10_000)
    ap.add_argument("--n0", type=int, default=0)
    ap.add_argument("--learner", default="greedy")
    ap.add_argument("--key", type=int, default=2027)
    ap.add_argument("--long", type=int, default=0,
                    help="rerun to this factor x T with the same keys: do the locks outside the "
                         "set still play their pattern over its last half?")
    args = ap.parse_args(argv)
    keys = jax.random.split(jax.random.key(args.key), args.draws)
    learner = make_learner(args.learner, "bt_ref")
    hp = set_hparams(learner.default_hparams(), warm_start=np.int32(args.n0))
    for side in ("robust_holds", "robust_fails"):
        t0 = time.time()
        insts = jax.jit(jax.vmap(FAMILIES[side]))(keys)
        robust = np.asarray(jax.vmap(diagnose)(insts).robust_ud_holds)
        one = [jax.tree.map(lambda x: x[b], insts) for b in range(args.draws)]
        sets = [self_consistent_locks(i) for i in one]
        t_sets = time.time() - t0
        curves = simulate(jax.random.key(11), insts, "bt_ref", learner, hp, horizon=args.horizon,
                          n_seeds=args.seeds, track_cells=True, continue_factor=4)
        perm = permanent_lock(curves, insts, args.horizon)
        k = (perm["permanent_run"] & perm["healthy"]).sum(-1)
        pats = observed_pattern(curves.cells)
        exists = np.array([s.exists for s in sets], bool)
        outside, taus, where = 0, [], []
        for b, s in zip(*np.nonzero(perm["permanent_run"] & perm["healthy"])):
            if not pattern_in(sets[b].locks, pats[b, s]):
                outside += 1
                where.append((b, s))
                taus.append((int(b), "lock" if exists[b] else "no lock",
                             round(escape_time(one[b], pats[b, s]))))
        t = lambda a, c: [int((a & c).sum()), int((a & ~c).sum()), int((~a & c).sum()),
                          int((~a & ~c).sum())]
        print(f"{side} ({args.learner}, n0 = {args.n0}, {args.draws} draws, {args.seeds} seeds, "
              f"T = {args.horizon} continued to 4T): lock & permanent, lock & none, no lock & "
              f"permanent, no lock & none = {t(exists, k > 0)}; robust UD fails / holds x "
              f"permanent / none = {t(~robust, k > 0)}; seeds locked for good {int(k.sum())}, "
              f"outside the set {outside} ((draw, its set, escape time): {taus}); lock sets "
              f"{t_sets:.0f} s, all {time.time() - t0:.0f} s", flush=True)
        if args.long and where:
            late = observed_pattern(simulate(
                jax.random.key(11), insts, "bt_ref", learner, hp, horizon=args.horizon,
                n_seeds=args.seeds, track_cells=True, continue_factor=args.long).cells)
            kept = [(int(b), bool(np.array_equal(late[b, s], pats[b, s]))) for b, s in where]
            print(f"  at {args.long}T, (draw, same pattern as over [2T, 4T]): {kept}", flush=True)


if __name__ == "__main__":
    main()
