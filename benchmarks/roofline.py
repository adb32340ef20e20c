"""The roofline of greedy/bt_ref's *algorithm* (not of its code) on the standard instance, this
machine's peaks, today's fraction of it and where the gap goes, in one run:

    python benchmarks/roofline.py [--seeds 1000] [--horizon 2000] [--v01 /tmp/v01] [--out F.json]

The minimum per seed-round (``minimal_work``) is what any implementation of the algorithm must do
(MODEL.md; learners/glm.py): the user draw (one random word; a prompt's word when M > 1), one
Bernoulli (one word), greedy's argmax over the K scores phi (h Theta), the online Newton step
(w = V^-1 g, c = 1 + h g^T w, theta += (a/c) w) and the symmetric rank-one update of V^-1, which
is read once and written once: its triangle, p(p+1)/2 entries, at best. The environment's true
rewards and Bernoulli probabilities are constants of the instance (a table lookup: no FLOPs).
Today's code does more (as coded: the full [p, p] V^-1, read twice and written once; 12 hashes
for round keys and draws); the profile says where that time goes.

The peaks are measured here with jnp (one XLA CPU device, like the API): FLOP/s of a 2048^2
float32 matmul, bytes/s of an a + s b triad at V^-1's working set (``seeds`` copies) and at
256 MiB, and Threefry words/s of the runner's unrolled hash. Each peak is reported per wall second and per CPU
second of the process (all threads): the latter is what a busy core does, and the roofline is
per core; on a shared machine the achieved figure is likewise CPU time per seed-round.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks.standard import standard_instance  # noqa: E402



def minimal_work(k: int, d: int, K: int, M: int = 1, triangle: bool = True) -> dict:
    """FLOPs, bytes and random words per seed-round of the minimal greedy/bt_ref round at
    p = k d (the items, and their totals). ``triangle``: V^-1 stored as its triangle."""
    p = k * d
    v_entries = p * (p + 1) // 2 if triangle else p * p
    flops = {
        "scores: u = h^T Theta [d], s = phi u [K]": 2 * k * d + 2 * K * d,
        "argmax over K": K,
        "g = h (x) (phi_y - phi_y0)": d + p,
        "margin theta^T g, sigma, a, h": 2 * p + 8,
        "w = V^-1 g (every entry used twice off the diagonal)": 2 * p * p,
        "c = 1 + h g^T w, (h/c) w": 2 * p + p + 2,
        "V^-1 -= (h/c) w w^T (one multiply-add an entry)": 2 * v_entries,
        "theta += (a/c) w": 2 * p,
    }
    bytes_ = {"V^-1 read once": 4 * v_entries, "V^-1 written once": 4 * v_entries,
              "theta read and written": 8 * p}
    words = {"user": 1, "prompt": 1 if M > 1 else 0, "Bernoulli feedback": 1}
    return dict(p=p, triangle=triangle, flops=flops, total_flops=sum(flops.values()),
                bytes=bytes_, total_bytes=sum(bytes_.values()), random_words=words,
                total_words=sum(words.values()),
                note="greedy's random tie-break costs one more word, on ties only (theta = 0)")


def as_coded(k: int, d: int, K: int) -> dict:
    """The same round as today's code does it (for the comparison): the full V^-1, read by the
    product and read and written by the update; 12 Threefry hashes (fold_in, 3 + 2 + 3 splits,
    user, tie-break, feedback draws)."""
    p = k * d
    return dict(flops=2 * p * p + 5 * p * p + 2 * (k * d + K * d) + 16 * p,
                bytes=3 * 4 * p * p, hashes=12)


def _best(fn, n: int = 5) -> tuple[float, float]:
    """(least wall s, least CPU s of the process, every thread) of n calls of fn()."""
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def machine_peaks(working_set_floats: int) -> dict:
    """This machine's peaks through jnp on one XLA device: matmul FLOPs, triad bytes at the
    working set and at 256 MiB, unrolled-Threefry words, each per wall second (all threads) and
    per CPU second (= per busy core: what one core does, whatever else shares the machine)."""
    from jaxpa.envs.threefry import as_unrolled
    rate = lambda work, fn, n=5: dict(zip(("per_s", "per_cpu_s"),
                                          (work / t for t in _best(fn, n))))
    a = jnp.ones((2048, 2048), jnp.float32)
    mm = jax.jit(lambda a: a @ a)
    jax.block_until_ready(mm(a))
    flops = rate(2 * 2048**3, lambda: jax.block_until_ready(mm(a)))
    triad = jax.jit(lambda x, y: x + 1.5 * y)
    bw = {}
    for name, n in (("working_set", working_set_floats), ("256MiB", 2**26)):
        x, y = jnp.ones(n, jnp.float32), jnp.ones(n, jnp.float32)
        jax.block_until_ready(triad(x, y))
        bw[name] = rate(3 * 4 * n, lambda: jax.block_until_ready(triad(x, y)), 10)
    key = as_unrolled(jax.random.key(0))
    bits = jax.jit(lambda k: jax.random.bits(k, (2**24,)))
    jax.block_until_ready(bits(key))
    words = rate(2**24, lambda: jax.block_until_ready(bits(key)))
    return dict(matmul_flops=flops, triad_bytes=bw, threefry_words=words,
                working_set_mib=3 * 4 * working_set_floats / 2**20)


def _cpu_fraction(fn) -> tuple[float, float]:
    """(wall s, CPU s of the process, every thread) of fn()."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def roofline(seeds: int, peaks: dict | None = None) -> dict:
    """The minimal algorithm's work per seed-round on the standard instance against this
    machine's peaks per core: the one-core roofline (ns / seed-round), triangle and full V^-1."""
    inst = standard_instance(jax.random.key(0))
    k, d, K, M = inst.k, inst.d, inst.n_responses, inst.features.shape[0]
    p = k * d
    peaks = peaks or machine_peaks(seeds * p * p)
    flops_core = peaks["matmul_flops"]["per_cpu_s"]
    words_core = peaks["threefry_words"]["per_cpu_s"]
    bw = peaks["triad_bytes"]["working_set"]["per_cpu_s"]
    out = dict(p=p, seeds=seeds, machine=peaks, gflops_per_core=flops_core / 1e9,
               threefry_words_per_s_per_core=words_core, triad_gb_per_s=bw / 1e9,
               as_coded=as_coded(k, d, K))
    for name, tri in (("triangle", True), ("full", False)):
        w = minimal_work(k, d, K, M, tri)
        b = dict(flops_ns=w["total_flops"] / flops_core * 1e9,
                 random_ns=w["total_words"] / words_core * 1e9,
                 bytes_ns=w["total_bytes"] / bw * 1e9)
        # arithmetic and hashing share the core's ALUs; memory traffic can overlap them
        b["roofline_ns"] = max(b["flops_ns"] + b["random_ns"], b["bytes_ns"])
        out[name] = dict(work=w, bound_ns=b)
    out["roofline_ns_per_seed_round_one_core"] = out["triangle"]["bound_ns"]["roofline_ns"]
    return out


def achieved(seeds: int, horizon: int) -> dict:
    """The API as called (the README's call), compiled: wall and CPU ns per seed-round."""
    import jaxpa
    inst = standard_instance(jax.random.key(0))
    greedy = jaxpa.make_learner("greedy", "bt_ref")
    run = lambda: jaxpa.simulate(jax.random.key(1), inst, "bt_ref", greedy, horizon=horizon,
                                 n_seeds=seeds)
    run()
    times = [_cpu_fraction(run) for _ in range(3)]
    wall, cpu = (float(np.median([t[i] for t in times])) for i in (0, 1))
    n = seeds * horizon
    return dict(seeds=seeds, horizon=horizon, wall_ns=wall / n * 1e9, cpu_ns=cpu / n * 1e9,
                seed_rounds_per_s=n / wall, runs=times)


def profile_gap(seeds: int, rounds: int = 200) -> dict:
    """benchmarks/profile_round.py on the runner's compiled program: ns per seed-round by part."""
    import jaxpa
    from benchmarks.profile_round import profile
    from jaxpa.learners.hparams import check_hparams
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    inst = standard_instance(jax.random.key(0))
    feedback = jaxpa.make_feedback("bt_ref")
    learner = jaxpa.make_learner("greedy", feedback)
    hp, _ = check_hparams(learner.name, learner.default_hparams())
    ck = np.asarray(log_checkpoints(rounds), np.int32)
    args = (seed_keys(jax.random.key(1), seeds), inst, (hp,), ck, np.int32(rounds),
            np.int32(rounds), None)
    compiled = compiled_program.lower(feedback, (learner,), ck.shape[0], False, (False,), False,
                                      *args).compile()
    return profile(compiled, args, seeds * rounds, p=inst.k * inst.d)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--horizon", type=int, default=2000)
    ap.add_argument("--v01", default=None, help="a worktree of v0.1 (commit 6899d08)")
    ap.add_argument("--v01-horizon", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results_roofline.json"))
    args = ap.parse_args(argv)
    report = dict(jax=jax.__version__, cpu_count=os.cpu_count(), load_avg_start=os.getloadavg(),
                  date=time.strftime("%Y-%m-%d %H:%M:%S"), device=jax.devices()[0].platform)
    report["roofline"] = roof = roofline(args.seeds)
    report["achieved"] = got = achieved(args.seeds, args.horizon)
    report["profile_ns_per_seed_round"] = prof = profile_gap(args.seeds)
    if args.v01:
        from benchmarks.versus_v01 import compare
        report["versus_v01"] = compare(args.v01, args.seeds, args.v01_horizon, args.repeats)
    report["load_avg_end"] = os.getloadavg()
    tri, full = roof["triangle"], roof["full"]
    m = roof["machine"]
    print(f"peaks per CPU-second (per wall second): matmul {roof['gflops_per_core']:.1f} "
          f"({m['matmul_flops']['per_s'] / 1e9:.1f}) GFLOP/s, triad at "
          f"{m['working_set_mib']:.1f} MiB {roof['triad_gb_per_s']:.1f} "
          f"({m['triad_bytes']['working_set']['per_s'] / 1e9:.1f}) GB/s, at 256 MiB "
          f"{m['triad_bytes']['256MiB']['per_cpu_s'] / 1e9:.1f} "
          f"({m['triad_bytes']['256MiB']['per_s'] / 1e9:.1f}) GB/s, Threefry "
          f"{roof['threefry_words_per_s_per_core']:.3g} ({m['threefry_words']['per_s']:.3g}) "
          "words/s")
    for name, r in (("triangle", tri), ("full", full)):
        w, b = r["work"], r["bound_ns"]
        print(f"minimal ({name} V^-1): {w['total_flops']} FLOPs, {w['total_bytes']} B, "
              f"{w['total_words']} words -> {b['flops_ns']:.1f} + {b['random_ns']:.1f} ns "
              f"compute, {b['bytes_ns']:.1f} ns bytes: roofline {b['roofline_ns']:.1f} ns")
    print(f"achieved (the API, {args.seeds} x {args.horizon}): {got['cpu_ns']:.0f} CPU-ns, "
          f"{got['wall_ns']:.0f} wall-ns a seed-round ({got['seed_rounds_per_s'] / 1e6:.2f} M/s)"
          f"; fraction of the roofline (CPU time): {tri['bound_ns']['roofline_ns'] / got['cpu_ns']:.1%}")
    print("profile (ns / seed-round, kernel time):")
    for part, ns in prof.items():
        print(f"  {ns:8.1f}  {part}")
    if args.v01:
        v = report["versus_v01"]
        print(f"today / v0.1 (median of {args.repeats}, alternating fresh processes): wall "
              f"{v['ratio_wall']:.2f}x, CPU {v['ratio_cpu']:.2f}x")
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
