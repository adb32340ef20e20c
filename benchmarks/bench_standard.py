"""The standard jaxpa benchmark, with its baselines, profile and roofline, in one command:

    python benchmarks/bench_standard.py [--quick] [--out FILE.json] [--big]

Standard run: greedy ridge MLE under ``bt_ref`` feedback on the standard instance (k = 4, d = 8,
K = 10, N = 64 users, M = 1 prompt; benchmarks/standard.py), 1,000 seeds x 10,000 rounds, float32.
Every configuration runs in a fresh subprocess, so its peak memory (``ru_maxrss``) is its own:

  jaxpa           one device (the default one: the CPU here, a GPU where there is one)
  jaxpa_sharded   the seeds sharded over one XLA CPU device per core (runner/sharding.py)
  numpy           the same algorithm in NumPy, vectorized over seeds (benchmarks/numpy_reference.py)
  numpy_loop      the same algorithm seed by seed, round by round, on a smaller size
  mabwiser        MABWiser's LinUCB (10 arms, the user's head as context), rounds of one run
  memory_T*       jaxpa with the horizon growing 100x: peak memory stays flat
  profile         where jaxpa's time goes, by part of the algorithm (benchmarks/profile_round.py)
  roofline        the minimal algorithm's FLOPs, bytes and random words per seed-round against
                  what this machine does (benchmarks/roofline.py)
  jaxpa_S*        (on a GPU, instead of the last two) 10x and 100x more seeds

``--big`` adds the 10,000 seeds x 100,000 rounds run (chunks of 10,000 rounds, all CPU cores).
Prints a table and writes JSON with the device, JAX version and CPU count. Timings are wall
clock; CPU seconds are reported too, since other jobs may share the machine (see load_avg).
Every jaxpa configuration runs the runner as the API calls it (its Threefry draws unrolled through
JAX's public key API, ``jaxpa.envs.threefry``; nothing set for the process).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

FULL = dict(seeds=1000, horizon=10_000, np_seeds=1000, np_horizon=10_000, loop_seeds=4,
            loop_horizon=2_000, mab_rounds=1_000, mem_seeds=256,
            mem_horizons=[1_000, 10_000, 100_000], profile_horizon=200)
QUICK = dict(seeds=200, horizon=1_000, np_seeds=200, np_horizon=300, loop_seeds=2,
             loop_horizon=300, mab_rounds=200, mem_seeds=64, mem_horizons=[300, 3_000],
             profile_horizon=50)
BIG = dict(seeds=10_000, horizon=100_000, chunk=10_000)
LOAD = dict(seeds=1000, horizon=2_000, np_seeds=1000, np_horizon=1_000)
# XLA CPU settings compared under load (benchmarks/RESULTS.md, "CPU under load")
ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"
LOAD_CONFIGS = {"jaxpa_1dev": ("jaxpa", 1, ""), "jaxpa_1dev_1thread": ("jaxpa", 1, ONE_THREAD),
                "jaxpa_cores": ("jaxpa", 0, ""), "jaxpa_cores_1thread": ("jaxpa", 0, ONE_THREAD),
                "numpy": ("numpy", 1, "")}


# ----------------------------------------------------------------------------- configurations

def _setup(n_devices: int = 1):
    """(jax, the standard instance, bt_ref, make_learner("greedy", "bt_ref"), its checked
    default hyperparameters)."""
    import jax
    if n_devices > 1:
        jax.config.update("jax_num_cpu_devices", n_devices)
    import jaxpa
    from benchmarks.standard import standard_instance
    from jaxpa.learners.hparams import check_hparams
    feedback = jaxpa.make_feedback("bt_ref")
    learner = jaxpa.make_learner("greedy", feedback)
    hp, _ = check_hparams(learner.name, learner.default_hparams())
    return jax, standard_instance(jax.random.key(0)), feedback, learner, hp


def _program_args(keys, inst, hp, ck, horizon: int):
    """The dynamic arguments of ``runner.simulate.compiled_program`` for one learner's whole run
    from round 0: (seed keys, instance, (hparams,), checkpoints, rounds to play, horizon,
    carries=None)."""
    import numpy as np
    return (keys, inst, (hp,), ck, np.int32(horizon), np.int32(horizon), None)


def run_jaxpa(seeds: int, horizon: int, n_devices: int = 1, **_) -> dict:
    """Compile (timed apart) and run the compiled program once on the standard instance."""
    jax, inst, feedback, learner, hp = _setup(n_devices)
    import jax.numpy as jnp
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    from jaxpa.runner import sharding
    ck = jnp.asarray(log_checkpoints(horizon))
    mesh = sharding.runs_mesh() if n_devices > 1 else None
    n_run = sharding.padded_size(seeds, n_devices) if mesh else seeds
    keys = seed_keys(jax.random.key(1), n_run)
    if mesh is not None:
        from jax.sharding import PartitionSpec as P
        keys = sharding._put(keys, mesh, P(sharding.AXIS))
        inst, hp, ck = (jax.tree.map(lambda x: sharding._put(x, mesh, P()), a)
                        for a in (inst, hp, ck))
    args = _program_args(keys, inst, hp, ck, horizon)
    t0 = time.perf_counter()
    compiled = compiled_program.lower(feedback, (learner,), ck.shape[0], False, (False,), False,
                                      *args).compile()
    compile_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    carry = jax.block_until_ready(compiled(*args))[0]
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    out = dict(seeds=seeds, horizon=horizon, devices=n_devices, compile_s=compile_s,
               run_s=run_s, cpu_s=cpu_s, seed_rounds_per_s=seeds * horizon / run_s,
               mean_final_regret=float(carry.curve_regret[:seeds, -1].mean()),
               mean_final_mistakes=float(carry.curve_mistakes[:seeds, -1].mean()))
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats and jax.devices()[0].platform != "cpu":
        out["device_peak_mb"] = stats["peak_bytes_in_use"] / 2**20
    return out


def run_numpy(seeds: int, horizon: int, loop: bool = False, **_) -> dict:
    import numpy as np
    import jax
    from benchmarks.numpy_reference import per_seed_loop, simulate_numpy
    from benchmarks.standard import as_numpy, standard_instance
    inst = as_numpy(standard_instance(jax.random.key(0)))
    fn = per_seed_loop if loop else simulate_numpy
    t0, c0 = time.perf_counter(), time.process_time()
    regret, mistakes = fn(inst, horizon=horizon, n_seeds=seeds, checkpoints=[horizon], seed=1)
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return dict(seeds=seeds, horizon=horizon, run_s=run_s, cpu_s=cpu_s,
                seed_rounds_per_s=seeds * horizon / run_s,
                mean_final_regret=float(np.mean(regret[:, -1])),
                mean_final_mistakes=float(np.mean(mistakes[:, -1])))


def run_mabwiser(rounds: int, **_) -> dict:
    """LinUCB from MABWiser on the standard instance seen as a disjoint linear bandit: arm =
    response y, context = the user's head h_u (r_u(y) = <W phi(y), h_u>), bt_ref feedback."""
    import numpy as np
    import jax
    from mabwiser.mab import MAB, LearningPolicy
    from benchmarks.standard import standard_instance
    from jaxpa import rewards
    inst = standard_instance(jax.random.key(0))
    heads, r = np.asarray(inst.heads), np.asarray(rewards(inst))[:, 0, :]  # [N, K]
    N, K = r.shape
    rng = np.random.default_rng(1)
    mab = MAB(list(range(K)), LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0), seed=1)
    users = rng.integers(0, N, K)
    mab.fit(decisions=list(range(K)), rewards=[0.5] * K, contexts=heads[users])
    total = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        u = rng.integers(N)
        x = heads[u:u + 1]
        a = int(mab.predict(x))
        o = float(rng.random() < 1 / (1 + np.exp(-(r[u, a] - r[u, 0]))))
        mab.partial_fit([a], [o], x)
        total += r[u].max() - r[u, a]
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    from importlib.metadata import version
    return dict(seeds=1, horizon=rounds, run_s=run_s, cpu_s=cpu_s,
                seed_rounds_per_s=rounds / run_s, mabwiser=version("mabwiser"),
                mean_final_regret=float(total))


def run_profile(seeds: int, horizon: int, **_) -> dict:
    jax, inst, feedback, learner, hp = _setup()
    import jax.numpy as jnp
    from benchmarks.profile_round import profile
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    ck = jnp.asarray(log_checkpoints(horizon))
    args = _program_args(seed_keys(jax.random.key(1), seeds), inst, hp, ck, horizon)
    compiled = compiled_program.lower(feedback, (learner,), ck.shape[0], False, (False,), False,
                                      *args).compile()
    return dict(seeds=seeds, horizon=horizon,
                ns_per_seed_round=profile(compiled, args, seeds * horizon, p=inst.k * inst.d))


def run_roofline(seeds: int, **_) -> dict:
    from benchmarks.roofline import roofline
    return roofline(seeds)


def run_big(seeds: int, horizon: int, chunk: int, **_) -> dict:
    """10,000 seeds x 100,000 rounds on all CPU cores, in chunks (progress on stderr)."""
    import numpy as np
    jax, inst, feedback, learner, _ = _setup(os.cpu_count() or 1)
    from jaxpa.runner.sharding import simulate_sharded
    t0 = time.perf_counter()
    progress = []

    def report(t, curves):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        progress.append(dict(t=t, seconds=round(time.perf_counter() - t0, 1), peak_rss_mb=rss))
        print(f"  big run: {t:,} / {horizon:,} rounds, {time.perf_counter() - t0:.0f} s, "
              f"peak RSS {rss:.0f} MB", file=sys.stderr, flush=True)

    curves = simulate_sharded(jax.random.key(1), inst, feedback, learner, horizon=horizon,
                              n_seeds=seeds, chunk=chunk, on_chunk=report)
    run_s = time.perf_counter() - t0
    return dict(seeds=seeds, horizon=horizon, chunk=chunk, devices=len(jax.devices()),
                run_s=run_s, seed_rounds_per_s=seeds * horizon / run_s, progress=progress,
                mean_final_regret=float(np.mean(curves.regret[:, -1])))


CONFIGS = {"jaxpa": run_jaxpa, "numpy": run_numpy, "mabwiser": run_mabwiser,
           "profile": run_profile, "roofline": run_roofline, "big": run_big}


# ----------------------------------------------------------------------------- driver

def one(name: str, params: dict) -> None:
    """Child process: run one configuration, print its JSON with the peak RSS."""
    out = CONFIGS[name](**params)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)


def fresh(name: str, params: dict, timeout: float, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", name,
                           "--params", json.dumps(params)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})))
    lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return dict(error=(proc.stderr or proc.stdout)[-1500:])
    return json.loads(lines[-1][len("RESULT "):])


def environment() -> dict:
    import jax
    import numpy as np
    dev = jax.devices()[0]
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    kind = cpu if dev.platform == "cpu" else getattr(dev, "device_kind", "")
    return dict(device=f"{dev.platform}: {kind}",
                n_devices=jax.device_count(), jax=jax.__version__,
                jaxlib=__import__("jaxlib").__version__, numpy=np.__version__,
                python=platform.python_version(), cpu=cpu, cpu_count=os.cpu_count(),
                load_avg_start=os.getloadavg(), date=time.strftime("%Y-%m-%d %H:%M:%S"))


def plan(sizes: dict, platform_name: str, big: bool) -> list[tuple[str, str, dict]]:
    S, T = sizes["seeds"], sizes["horizon"]
    runs = [("jaxpa", "jaxpa", dict(seeds=S, horizon=T))]
    cores = os.cpu_count() or 1
    if platform_name == "cpu" and cores > 1:
        runs.append(("jaxpa_sharded", "jaxpa", dict(seeds=S, horizon=T, n_devices=cores)))
    if platform_name != "cpu":  # an accelerator wants more seeds than the standard 1,000
        runs += [(f"jaxpa_S{n}", "jaxpa", dict(seeds=n, horizon=T)) for n in (10 * S, 100 * S)]
    runs += [("numpy", "numpy", dict(seeds=sizes["np_seeds"], horizon=sizes["np_horizon"])),
             ("numpy_loop", "numpy", dict(seeds=sizes["loop_seeds"],
                                          horizon=sizes["loop_horizon"], loop=True)),
             ("mabwiser", "mabwiser", dict(rounds=sizes["mab_rounds"]))]
    runs += [(f"memory_T{t}", "jaxpa", dict(seeds=sizes["mem_seeds"], horizon=t))
             for t in sizes["mem_horizons"]]
    if platform_name == "cpu":  # the profile reads XLA:CPU traces; the roofline counts cores
        runs += [("profile", "profile", dict(seeds=S, horizon=sizes["profile_horizon"])),
                 ("roofline", "roofline", dict(seeds=S))]
    if big:
        runs.append(("big", "big", BIG))
    return runs


def table(results: dict) -> str:
    best = max((results[n]["seed_rounds_per_s"] for n in ("jaxpa", "jaxpa_sharded")
                if "seed_rounds_per_s" in results.get(n, {})), default=None)
    rows = ["config          seeds x rounds     compile s    run s   cpu s   seed-rounds/s   "
            "peak RSS MB   best jaxpa is x faster"]
    for name, r in results.items():
        if "seed_rounds_per_s" not in r:
            continue
        baseline = name in ("numpy", "numpy_loop", "mabwiser")
        ratio = f"{best / r['seed_rounds_per_s']:8.1f}" if best and baseline else ""
        rows.append(f"{name:15s} {r['seeds']:>6,} x {r['horizon']:<8,} "
                    f"{r.get('compile_s', float('nan')):9.2f} {r['run_s']:8.2f} "
                    f"{r.get('cpu_s', float('nan')):7.2f} {r['seed_rounds_per_s']:15,.0f} "
                    f"{r.get('peak_rss_mb', float('nan')):13.0f}   {ratio}")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--big", action="store_true", help="add 10,000 seeds x 100,000 rounds")
    ap.add_argument("--only", nargs="*", help="run only these configurations")
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/results*.json)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--load", type=int, default=None, metavar="N",
                    help="CPU under load: every XLA CPU setting and NumPy, quiet and then beside "
                         "N busy-loop processes (benchmarks/RESULTS.md)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        one(args.one, json.loads(args.params))
        return 0
    if args.load is not None:
        return load_study(args.load, args.out or os.path.join(ROOT, "benchmarks",
                                                              "results_load.json"), args.timeout)
    env = environment()
    sizes = QUICK if args.quick else FULL
    results = {}
    out = args.out or os.path.join(ROOT, "benchmarks",
                                   "results_quick.json" if args.quick else "results.json")

    def save():  # after every configuration, so a run cut short keeps what it measured
        report = dict(environment=env, sizes=sizes, results=results, summary=ratios(results),
                      command=" ".join(["python"] + [os.path.relpath(sys.argv[0], ROOT)] +
                                       sys.argv[1:]))
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
    print(f"{env['device']} | JAX {env['jax']} | {env['cpu']} x {env['cpu_count']} | load "
          f"{env['load_avg_start'][0]:.1f}", flush=True)
    for name, config, params in plan(sizes, env["device"].split(":")[0], args.big):
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        results[name] = fresh(config, params, args.timeout)
        err = results[name].get("error")
        print(f"  {name:15s} {time.perf_counter() - t0:7.1f} s" +
              (f"  FAILED: {err.splitlines()[-1] if err else ''}" if err else ""), flush=True)
        save()
    env["load_avg_end"] = os.getloadavg()
    save()
    print("\n" + table(results))
    for k, v in ratios(results).items():
        print(f"{k}: {v}")
    if "profile" in results and "ns_per_seed_round" in results["profile"]:
        print("\nwhere a seed-round's time goes (jaxpa, one device, ns):")
        for k, v in results["profile"]["ns_per_seed_round"].items():
            print(f"  {v:8.1f}  {k}")
    print(f"\nwrote {out}")
    return 0


def busy_loops(n: int) -> list[subprocess.Popen]:
    """n processes that spin on a core each (the synthetic background load)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def load_study(n_load: int, out: str, timeout: float, repeats: int = 3) -> int:
    """jaxpa under each XLA CPU setting and the NumPy reference, quiet and then beside ``n_load``
    busy loops, in one run (ratios from the same run only), each ``repeats`` times in turn (the
    median counts); load averages recorded per phase."""
    import numpy as np
    env, report = environment(), {"phases": {}}
    cores = os.cpu_count() or 1
    print(f"{env['device']} | JAX {env['jax']} | {cores} cores | load "
          f"{env['load_avg_start'][0]:.1f} | busy loops: {n_load}", flush=True)
    for phase, n in (("quiet", 0), ("loaded", n_load)):
        loops = busy_loops(n)
        try:
            time.sleep(2.0 if n else 0.0)
            rows = {"load_avg_start": os.getloadavg()}
            for rep in range(repeats):  # round-robin, so a change of the machine's load hits all
                for name, (config, n_dev, flags) in LOAD_CONFIGS.items():
                    params = (dict(seeds=LOAD["np_seeds"], horizon=LOAD["np_horizon"])
                              if config == "numpy" else
                              dict(seeds=LOAD["seeds"], horizon=LOAD["horizon"],
                                   n_devices=n_dev or cores))
                    r = fresh(config, params, timeout, {"XLA_FLAGS": flags} if flags else {})
                    rows.setdefault(name, {"runs": []})["runs"].append(r)
                    print(f"  {phase:6s} {rep} {name:20s} " + (
                        f"{r['seed_rounds_per_s']:12,.0f} seed-rounds/s  run {r['run_s']:6.2f} s"
                        f"  cpu {r['cpu_s']:6.2f} s" if "run_s" in r else
                        f"FAILED {r.get('error', '')[-200:]}"), flush=True)
            for name in LOAD_CONFIGS:
                rates = [r["seed_rounds_per_s"] for r in rows[name]["runs"] if "run_s" in r]
                if rates:
                    rows[name]["seed_rounds_per_s"] = float(np.median(rates))
            rows["load_avg_end"] = os.getloadavg()
        finally:
            for proc in loops:
                proc.terminate()
                proc.wait()
        report["phases"][phase] = rows
    report.update(environment=env, sizes=LOAD, n_busy_loops=n_load, configs={
        k: dict(devices=n or cores, xla_flags=f) for k, (c, n, f) in LOAD_CONFIGS.items()},
        summary=load_summary(report["phases"]))
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report["summary"], indent=1) + f"\nwrote {out}")
    return 0


def load_summary(phases: dict) -> dict:
    """Per setting: speed over NumPy in each phase, and how much each slowed under load."""
    out = {}
    for name in LOAD_CONFIGS:
        rates = {ph: rows.get(name, {}).get("seed_rounds_per_s") for ph, rows in phases.items()}
        numpy = {ph: rows.get("numpy", {}).get("seed_rounds_per_s") for ph, rows in phases.items()}
        entry = {f"vs_numpy_{ph}": round(r / numpy[ph], 2) for ph, r in rates.items()
                 if r and numpy[ph]}
        if rates.get("quiet") and rates.get("loaded"):
            entry["slowdown_under_load"] = round(rates["quiet"] / rates["loaded"], 2)
        out[name] = entry
    return out


def ratios(results: dict) -> dict:
    """jaxpa's speed over each baseline, per seed-round: wall clock (best jaxpa run) and CPU time
    (the jaxpa run that spent the least CPU per seed-round: XLA's thread pool makes the one-device
    run use more than one core's worth of CPU time), and the roofline ratio on CPU time."""
    out = {}
    runs = [results[n] for n in ("jaxpa", "jaxpa_sharded") if "seed_rounds_per_s" in
            results.get(n, {})]
    best = max(runs, key=lambda r: r["seed_rounds_per_s"], default=None)
    per = lambda x: x["cpu_s"] / (x["seeds"] * x["horizon"])
    frugal = min((r for r in runs if "cpu_s" in r), key=per, default=None)
    for name in ("numpy", "numpy_loop", "mabwiser"):
        r = results.get(name, {})
        if best and "seed_rounds_per_s" in r:
            out[f"speedup_vs_{name}"] = round(best["seed_rounds_per_s"] / r["seed_rounds_per_s"], 1)
            if frugal and "cpu_s" in r:
                out[f"speedup_vs_{name}_cpu_time"] = round(per(r) / per(frugal), 1)
    roof = results.get("roofline", {}).get("roofline_ns_per_seed_round_one_core")
    if roof and frugal:
        achieved = per(frugal) * 1e9
        out["jaxpa_cpu_ns_per_seed_round"] = round(achieved, 1)
        out["roofline_ns_per_seed_round"] = round(roof, 1)
        out["fraction_of_roofline"] = round(roof / achieved, 2)
    return out


if __name__ == "__main__":
    sys.exit(main())
