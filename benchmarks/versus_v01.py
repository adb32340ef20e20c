"""Today's API call against version 0.1's, on this machine in the same run, as a ratio:

    git worktree add /tmp/v01 6899d08          # version 0.1
    python benchmarks/versus_v01.py --v01 /tmp/v01 [--seeds 1000] [--horizon 10000] [--repeats 3]

greedy/bt_ref on each tree's own standard instance (benchmarks/standard.py, the same draw),
``simulate`` called as each version's README calls it (0.1: ``simulate(key, inst, greedy, ...)``,
importing 0.1 installed its unrolled Threefry lowering; today: ``simulate(key, inst, "bt_ref",
greedy, ...)``), each call in a fresh process, the two versions alternately ``--repeats`` times;
the second call of each process is timed (the first compiles). Medians and today / 0.1 ratios of
seed-rounds per wall second and per CPU second (all threads: less sensitive to other jobs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import inspect, json, sys, time
import jax, jaxpa
from benchmarks.standard import standard_instance
S, T = int(sys.argv[1]), int(sys.argv[2])
inst = standard_instance(jax.random.key(0))
greedy = jaxpa.make_learner("greedy", "bt_ref")
if "feedback" in inspect.signature(jaxpa.simulate).parameters:   # today
    run = lambda: jaxpa.simulate(jax.random.key(1), inst, "bt_ref", greedy, horizon=T, n_seeds=S)
else:                                                            # 0.1
    run = lambda: jaxpa.simulate(jax.random.key(1), inst, greedy, horizon=T, n_seeds=S)
t0 = time.perf_counter()
jax.block_until_ready(run())                 # 0.1 returns JAX arrays (asynchronous): wait
first = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
c = jax.block_until_ready(run())
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print("RESULT " + json.dumps(dict(first_s=first, wall_s=wall, cpu_s=cpu,
                                  mean_final_regret=float(c.regret[:, -1].mean()))))
"""


def one(tree: str, seeds: int, horizon: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree, JAX_ENABLE_COMPILATION_CACHE="false")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(seeds), str(horizon)], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=1200)
    lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{tree}: {(proc.stderr or proc.stdout)[-600:]}")
    return json.loads(lines[-1][len("RESULT "):])


def compare(v01: str, seeds: int, horizon: int, repeats: int) -> dict:
    trees = {"today": ROOT, "v0.1": os.path.abspath(v01)}
    runs = {name: [] for name in trees}
    loads = [os.getloadavg()]
    for rep in range(repeats):
        for name, tree in trees.items():
            r = one(tree, seeds, horizon)
            runs[name].append(r)
            print(f"  [{rep + 1}] {name:6s} {seeds * horizon / r['wall_s'] / 1e6:6.2f} M seed-rounds/s "
                  f"(CPU {seeds * horizon / r['cpu_s'] / 1e6:5.2f} M/CPU-s), first call "
                  f"{r['first_s']:.1f} s", flush=True)
        loads.append(os.getloadavg())
    n = seeds * horizon
    med = {name: dict(seed_rounds_per_s=statistics.median(n / r["wall_s"] for r in rs),
                      seed_rounds_per_cpu_s=statistics.median(n / r["cpu_s"] for r in rs),
                      first_call_s=statistics.median(r["first_s"] for r in rs),
                      mean_final_regret=rs[-1]["mean_final_regret"], runs=rs)
           for name, rs in runs.items()}
    return dict(seeds=seeds, horizon=horizon, repeats=repeats, loads=loads, **med,
                ratio_wall=med["today"]["seed_rounds_per_s"] / med["v0.1"]["seed_rounds_per_s"],
                ratio_cpu=(med["today"]["seed_rounds_per_cpu_s"]
                           / med["v0.1"]["seed_rounds_per_cpu_s"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--v01", required=True)
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--horizon", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results_versus_v01.json"))
    args = ap.parse_args(argv)
    out = compare(args.v01, args.seeds, args.horizon, args.repeats)
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"today / v0.1: wall {out['ratio_wall']:.2f}x, CPU {out['ratio_cpu']:.2f}x")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
