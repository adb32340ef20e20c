"""The README's timed code block, run as written, with each way of drawing JAX's random keys:

    python benchmarks/key_impls.py [--repeats 3] [--before PATH] [--out FILE.json]

The block is the fenced python block after ``<!-- timed by benchmarks/key_impls.py -->`` in
README.md (``jaxpa.simulate(key, inst, "bt_ref", greedy, ...)`` on the standard instance); its
seed-rounds/s is the figure the README states. Each row runs it in a fresh process (so no setting
leaks between them), the rows in turn, ``--repeats`` times (median):

  threefry         the block as written: ``jax.random.key(1)``, JAX's default Threefry, which the
                   runner draws with the hash unrolled (``jaxpa.envs.threefry``, public key API)
  threefry_rolled  the same key with the runner's re-wrap turned off: JAX's own CPU lowering of
                   Threefry (a rolled loop), what the block ran at before any of this
  threefry_patch   with ``--before PATH``: the block against the jaxpa tree at PATH (a worktree
                   of the commit whose runner patched JAX's CPU lowering rule while it ran)
  rbg              ``jax.random.key(1, impl="rbg")``: split / fold_in by Threefry, the draws by
                   XLA's RngBitGenerator (another stream)
  unsafe_rbg       ``jax.random.key(1, impl="unsafe_rbg")``: everything by RngBitGenerator

For each: the second execution of the block timed (the first compiles), seed-rounds/s of wall
time and of the process's CPU time (all its threads: less sensitive to a shared machine), and the
stream properties jaxpa's results rely on, checked on a small run: the same key gives the same
curves, seed s is the same whatever the number of seeds (8 seeds against the first 8 of 16), and
a chunked run equals one loop. Every process opts out of the persistent compilation cache.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "<!-- timed by benchmarks/key_impls.py -->"
IMPLS = ("threefry", "threefry_rolled", "threefry_patch", "rbg", "unsafe_rbg")
KEY_LINE = "key = jax.random.key(1)"


def readme_block(path: str = os.path.join(ROOT, "README.md")) -> str:
    """The fenced python block right after MARKER in README.md."""
    text = open(path).read()
    assert text.count(MARKER) == 1, f"README.md must hold {MARKER!r} once"
    match = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    assert match and KEY_LINE in match.group(1), "no timed python block (with the key line)"
    return match.group(1)


def block_size(block: str) -> tuple[int, int]:
    """(n_seeds, horizon) of the block's simulate call."""
    num = lambda name: int(re.search(name + r"=([\d_]+)", block).group(1).replace("_", ""))
    return num("n_seeds"), num("horizon")


CHILD = r"""
import json, sys, time
import numpy as np
impl, block = sys.argv[1], sys.argv[2]
if impl == "threefry_rolled":
    import importlib
    sim = importlib.import_module("jaxpa.runner.simulate")
    sim.as_unrolled = sim.as_default = lambda tree: tree
if impl in ("rbg", "unsafe_rbg"):
    block = block.replace("jax.random.key(1)", f"jax.random.key(1, impl={impl!r})")
ns = {"__name__": "readme_block"}
t0 = time.perf_counter()
exec(block, ns)                                    # the first execution: compile and run
first = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
exec(block, ns)                                    # the README's code, compiled
run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
jaxpa, key, inst, greedy = ns["jaxpa"], ns["key"], ns["inst"], ns["greedy"]
run = lambda k, **kw: jaxpa.simulate(k, inst, "bt_ref", greedy, **kw)
small = dict(horizon=300, n_checkpoints=10)
a, b = run(key, n_seeds=16, **small), run(key, n_seeds=16, **small)
eight = run(key, n_seeds=8, **small)
chunked = run(key, n_seeds=16, chunk=70, **small)
out = dict(impl=impl, first_call_s=first, run_s=run_s, cpu_s=cpu_s,
           mean_final_regret=float(ns["curves"].regret[:, -1].mean()),
           same_key_same_curves=bool(np.array_equal(a.regret, b.regret)),
           seed_independent_of_count=bool(np.array_equal(eight.regret, a.regret[:8])),
           chunked_equals_one_loop=bool(np.array_equal(chunked.regret, a.regret)),
           mean_final_regret_small=float(a.regret[:, -1].mean()))
print("RESULT " + json.dumps(out))
"""


def one(impl: str, block: str, tree: str, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=tree, JAX_ENABLE_COMPILATION_CACHE="false")
    proc = subprocess.run([sys.executable, "-c", CHILD, impl, block], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=tree)
    lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return dict(impl=impl, error=(proc.stderr or proc.stdout)[-800:])
    return json.loads(lines[-1][len("RESULT "):])


def summarize(impl: str, runs: list[dict], seed_rounds: int) -> dict:
    ok = [r for r in runs if "run_s" in r]
    if not ok:
        return dict(impl=impl, error=runs[-1].get("error"))
    rates = [seed_rounds / r["run_s"] for r in ok]
    cpu = [seed_rounds / r["cpu_s"] for r in ok]
    last = ok[-1]
    return dict(impl=impl, seed_rounds_per_s=statistics.median(rates), runs_per_s=rates,
                seed_rounds_per_cpu_s=statistics.median(cpu), runs_per_cpu_s=cpu,
                first_call_s=statistics.median(r["first_call_s"] for r in ok),
                **{k: last[k] for k in ("mean_final_regret", "mean_final_regret_small")},
                **{k: all(r[k] for r in ok) for k in ("same_key_same_curves",
                                                       "seed_independent_of_count",
                                                       "chunked_equals_one_loop")})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", default=None, help="a jaxpa tree for the threefry_patch row")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results_key_impls.json"))
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--impls", default=",".join(IMPLS),
                    help="comma-separated, of " + ", ".join(IMPLS))
    args = ap.parse_args(argv)
    import jax
    block = readme_block()
    seeds, horizon = block_size(block)
    impls = [i for i in args.impls.split(",") if i != "threefry_patch" or args.before]
    report = dict(jax=jax.__version__, cpu_count=os.cpu_count(), load_avg_start=os.getloadavg(),
                  date=time.strftime("%Y-%m-%d %H:%M:%S"), device=jax.devices()[0].platform,
                  block=block, seeds=seeds, horizon=horizon, repeats=args.repeats,
                  before=args.before, rows=[])
    runs = {i: [] for i in impls}
    for rep in range(args.repeats):       # the rows in turn: each meets the same load
        for impl in impls:
            tree = args.before if impl == "threefry_patch" else ROOT
            r = one(impl, block, tree, args.timeout)
            runs[impl].append(r)
            print(f"  [{rep + 1}] {impl:16s} " + (
                f"{seeds * horizon / r['run_s']:12,.0f} seed-rounds/s  "
                f"{seeds * horizon / r['cpu_s']:12,.0f} per CPU-s  first call "
                f"{r['first_call_s']:5.1f} s" if "run_s" in r else f"FAILED {r['error'][-300:]}"),
                flush=True)
    report["rows"] = [summarize(i, runs[i], seeds * horizon) for i in impls]
    report["load_avg_end"] = os.getloadavg()
    for r in report["rows"]:
        print(f"{r['impl']:16s} " + (
            f"median {r['seed_rounds_per_s']:12,.0f} seed-rounds/s "
            f"{r['seed_rounds_per_cpu_s']:12,.0f} per CPU-s  same key "
            f"{r['same_key_same_curves']}  seed s fixed {r['seed_independent_of_count']}  "
            f"chunks {r['chunked_equals_one_loop']}  mean R(T) {r['mean_final_regret']:.2f}"
            if "error" not in r else f"FAILED {r['error']}"))
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
