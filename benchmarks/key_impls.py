"""The API as a user calls it, with each random-key implementation JAX offers, side by side:

    python benchmarks/key_impls.py [--seeds 1000] [--horizon 2000] [--out FILE.json]

``jaxpa.simulate(key, inst, "bt_ref", greedy, horizon=T, n_seeds=S)`` exactly as the README calls
it, on the standard instance (benchmarks/standard.py), once per key implementation, each in a
fresh process (so no setting leaks between them):

  threefry            ``jax.random.key(1)``: JAX's default, the README's key
  threefry+fast_cpu   the same key after ``jaxpa.fast_cpu_random()`` (same bits; changes how
                      every program of the process lowers Threefry on the CPU)
  rbg                 ``jax.random.key(1, impl="rbg")``: split / fold_in by Threefry, the draws
                      by XLA's RngBitGenerator
  unsafe_rbg          ``jax.random.key(1, impl="unsafe_rbg")``: everything by RngBitGenerator

For each: compile and run time, seed-rounds/s, and the stream properties jaxpa's results rely on,
checked on a small run: the same key gives the same curves, seed s is the same whatever the
number of seeds (a run of 8 seeds against the first 8 of a run of 16), and a chunked run equals
one loop. Every process opts out of the persistent compilation cache.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPLS = ("threefry", "threefry+fast_cpu", "rbg", "unsafe_rbg")

CHILD = r"""
import json, sys, time
import numpy as np
import jax
import jaxpa
from benchmarks.standard import standard_instance
impl, S, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if impl == "threefry+fast_cpu":
    jaxpa.fast_cpu_random()
key = (jax.random.key(1) if impl.startswith("threefry") else jax.random.key(1, impl=impl))
inst = standard_instance(jax.random.key(0))
greedy = jaxpa.make_learner("greedy", "bt_ref")
run = lambda k, **kw: jaxpa.simulate(k, inst, "bt_ref", greedy, **kw)
t0 = time.perf_counter()
run(key, horizon=T, n_seeds=S)                     # the first call: compile and run
first = time.perf_counter() - t0
t0 = time.perf_counter()
c = run(key, horizon=T, n_seeds=S)                 # the API as called, compiled
run_s = time.perf_counter() - t0
small = dict(horizon=300, n_checkpoints=10)
a, b = run(key, n_seeds=16, **small), run(key, n_seeds=16, **small)
eight = run(key, n_seeds=8, **small)
chunked = run(key, n_seeds=16, chunk=70, **small)
out = dict(impl=impl, seeds=S, horizon=T, first_call_s=first, run_s=run_s,
           seed_rounds_per_s=S * T / run_s, mean_final_regret=float(c.regret[:, -1].mean()),
           same_key_same_curves=bool(np.array_equal(a.regret, b.regret)),
           seed_independent_of_count=bool(np.array_equal(eight.regret, a.regret[:8])),
           chunked_equals_one_loop=bool(np.array_equal(chunked.regret, a.regret)),
           mean_final_regret_small=float(a.regret[:, -1].mean()))
print("RESULT " + json.dumps(out))
"""


def one(impl: str, seeds: int, horizon: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_ENABLE_COMPILATION_CACHE="false")
    proc = subprocess.run([sys.executable, "-c", CHILD, impl, str(seeds), str(horizon)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return dict(impl=impl, error=(proc.stderr or proc.stdout)[-800:])
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--horizon", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results_key_impls.json"))
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--impls", default=",".join(IMPLS),
                    help="comma-separated, of " + ", ".join(IMPLS))
    args = ap.parse_args(argv)
    import jax
    report = dict(jax=jax.__version__, cpu_count=os.cpu_count(), load_avg_start=os.getloadavg(),
                  date=time.strftime("%Y-%m-%d %H:%M:%S"), device=jax.devices()[0].platform,
                  rows=[])
    for impl in args.impls.split(","):
        r = one(impl, args.seeds, args.horizon, args.timeout)
        report["rows"].append(r)
        print(f"  {impl:18s} " + (f"{r['seed_rounds_per_s']:12,.0f} seed-rounds/s  run "
              f"{r['run_s']:6.2f} s  first call {r['first_call_s']:6.2f} s  same key "
              f"{r['same_key_same_curves']}  seed s fixed {r['seed_independent_of_count']}  "
              f"chunks {r['chunked_equals_one_loop']}" if "run_s" in r else
              f"FAILED {r['error'][-300:]}"), flush=True)
    report["load_avg_end"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
