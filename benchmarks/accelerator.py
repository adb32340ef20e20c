"""The accelerator benchmark: one command, under 8 minutes on one GPU, the CPU beside it for ratios.

    XLA_PYTHON_CLIENT_MEM_FRACTION=0.92 python benchmarks/accelerator.py --out FILE.json   # GPU
    python benchmarks/accelerator.py --tiny --out /tmp/acc.json                   # seconds, any CPU

Measures, on the default device (a GPU where there is one) and then on the host CPU of the same
machine, greedy ridge MLE under ``bt_ref`` feedback on the standard instance family
(benchmarks/standard.py, K = 10 responses, M = 1 prompt, float32):

  seeds   seed-rounds/s at p = k d = 32, 128, 512 (k, d = 4x8, 8x16, 16x32; N = 64 users) for
          10^3, 10^4, 10^5, 10^6 seeds, going up while the run fits: each size is estimated from
          its shapes first (``runner.memory``), then checked on the compiled program's
          ``memory_analysis()``, and a RESOURCE_EXHAUSTED is caught and recorded, never fatal
  users   seed-rounds/s at p = 32, 10^4 seeds, for N = 10, 100, 1,000, 10,000 users
  compile each program's ``.lower().compile()`` time, apart from the run
  diagnose  instances/s of ``jax.vmap(diagnose)`` over 10^4 F1 instances (compile apart)
  precision  the runner at p = 128, 10^4 seeds x 2,000 rounds, as jaxpa traces it (full float32
          products) and at JAX's default precision (TF32 on recent GPUs): both speeds, the share
          of seeds whose mistakes differ and the largest difference of the estimates
  cpu     the same runner at p = 32 (10^3 seeds) and diagnose (10^3 instances) on the host CPU,
          time-boxed, for the ratios

Each run plays as many rounds as take about ``--target`` seconds (2 s; a short calibration run
first: the number of rounds is an argument of the compiled program, so this compiles nothing
new). A global ``--budget`` (420 s) skips what would not finish in time, marked "skipped:
budget". The JSON holds the device name, JAX version, date, CPU count and load, every
measurement with its status, and a summary; it is written after every step, so a run cut short
keeps what it measured. Every product runs at full float32 precision (jaxpa/envs/precision.py).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import jax  # noqa: E402

FULL = dict(p=[(4, 8), (8, 16), (16, 32)], seeds=[1_000, 10_000, 100_000, 1_000_000],
            users=[10, 100, 1_000, 10_000], users_seeds=10_000, n_users=64,
            diagnose=10_000, cpu_seeds=1_000, cpu_diagnose=1_000, target=2.0, budget=420.0,
            cpu_budget=90.0, calib_rounds=20, max_rounds=200_000, precision_seeds=10_000,
            precision_horizon=2_000)
TINY = dict(p=[(2, 4)], seeds=[8, 16], users=[16], users_seeds=8, n_users=16,
            diagnose=16, cpu_seeds=8, cpu_diagnose=16, target=0.05, budget=120.0,
            cpu_budget=60.0, calib_rounds=5, max_rounds=200, precision_seeds=8,
            precision_horizon=50)
RESERVE = 20.0  # seconds kept free at the end of the budget (writing, the CPU part's start)


def _on(dev):
    """Computations placed on ``dev`` (``jax.default_device``; every input is also put there)."""
    import contextlib
    return jax.default_device(dev) if hasattr(jax, "default_device") else contextlib.nullcontext()


def _oom(err: Exception) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


class Bench:
    """The benchmark's state: sizes, the JSON report, the clock and the compiled programs."""

    def __init__(self, sizes: dict, out: str, budget: float):
        import jaxpa
        self.sizes, self.out, self.budget = sizes, out, budget
        self.t0 = time.perf_counter()
        self.report = dict(environment=environment(), sizes=sizes, runner=[], diagnose=[],
                           command=" ".join(["python", os.path.relpath(sys.argv[0], ROOT)]
                                            + sys.argv[1:]))
        self.feedback = jaxpa.make_feedback("bt_ref")
        self.learner = jaxpa.make_learner("greedy", self.feedback)
        self._compiled = {}

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.t0)

    def save(self) -> None:
        self.report["summary"] = summary(self.report)
        self.report["elapsed_s"] = round(time.perf_counter() - self.t0, 1)
        with open(self.out, "w") as f:
            json.dump(self.report, f, indent=1)

    # -------------------------------------------------------------------- the runner
    def runner(self, section: str, dev, k: int, d: int, n_users: int, n_seeds: int,
               deadline: float) -> dict:
        """Compile (timed) and run greedy/bt_ref on ``dev``; a dict with status 'ok' or why not
        (an out-of-memory or any other error is a status, never fatal)."""
        try:
            return self._runner(section, dev, k, d, n_users, n_seeds, deadline)
        except Exception as err:  # noqa: BLE001
            self._compiled.pop((dev.platform, k, d, n_users, n_seeds), None)
            return dict(section=section, platform=dev.platform, p=k * d, k=k, d=d,
                        n_users=n_users, seeds=n_seeds,
                        status="out of memory" if _oom(err) else "error",
                        error=f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
                        if str(err) else type(err).__name__)

    def _runner(self, section, dev, k, d, n_users, n_seeds, deadline) -> dict:
        from benchmarks.standard import standard_instance
        from jaxpa.learners.hparams import check_hparams
        from jaxpa.runner import memory
        from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
        row = dict(section=section, platform=dev.platform, p=k * d, k=k, d=d, n_users=n_users,
                   seeds=n_seeds)
        if time.perf_counter() > deadline:
            return dict(row, status="skipped: budget")
        with _on(dev):
            inst = jax.device_put(standard_instance(jax.random.key(0), k=k, d=d,
                                                    n_users=n_users), dev)
            hp = jax.device_put(check_hparams(self.learner.name,
                                              self.learner.default_hparams())[0], dev)
            ck = log_checkpoints(1000)
            static = (self.feedback, (self.learner,), ck.shape[0], False, (False,), False)
            try:  # the estimate from the shapes, before anything is allocated
                est = memory.estimate(static, inst, (hp,), n_seeds, 1000, [dev])
                row["estimate_bytes"] = est.need - (est.host if est.same_memory else 0)
                row["available_bytes"] = available = est.available
                if available is not None and est.need > available:
                    return dict(row, status="does not fit (estimate)")
            except Exception as err:  # noqa: BLE001: a JAX version without what it reads
                row["estimate_error"] = str(err).splitlines()[0][:200]
                available = memory.available_bytes([dev])
            keys = jax.device_put(seed_keys(jax.random.key(1), n_seeds), dev)
            args = lambda T: (keys, inst, (hp,), log_checkpoints(T), np.int32(T), np.int32(T),
                              None)
            try:
                cache_key = (dev.platform, k, d, n_users, n_seeds)
                if cache_key in self._compiled:
                    row["compile_reused"] = True
                else:
                    t = time.perf_counter()
                    program = compiled_program.lower(*static, *args(1)).compile()
                    self._compiled[cache_key] = (program, round(time.perf_counter() - t, 3))
                compiled, row["compile_s"] = self._compiled[cache_key]
                m = compiled.memory_analysis()
                if m is not None:
                    row["compiled_bytes"] = int(m.argument_size_in_bytes + m.output_size_in_bytes
                                                + m.temp_size_in_bytes - m.alias_size_in_bytes)
                    if available is not None and row["compiled_bytes"] > available:
                        return dict(row, status="does not fit (memory_analysis)")
                t = time.perf_counter()  # one round: the first run's costs, and a first speed
                jax.block_until_ready(compiled(*args(1)))
                T = self.sizes["calib_rounds"]
                if (time.perf_counter() - t) * 2 * T > deadline - time.perf_counter():
                    return dict(row, status="skipped: budget",
                                one_round_s=round(time.perf_counter() - t, 4))
                t = time.perf_counter()
                jax.block_until_ready(compiled(*args(T)))
                per_round = (time.perf_counter() - t) / T
                T = int(np.clip(self.sizes["target"] / max(per_round, 1e-9), T,
                                self.sizes["max_rounds"]))
                T = int(min(T, max(self.sizes["calib_rounds"],
                                   (deadline - time.perf_counter()) / 2 / max(per_round, 1e-9))))
                t = time.perf_counter()
                carry = jax.block_until_ready(compiled(*args(T)))[0]
                run_s = time.perf_counter() - t
            except Exception as err:  # noqa: BLE001: an OOM is a result; anything else too
                self._compiled.pop((dev.platform, k, d, n_users, n_seeds), None)
                status = "out of memory" if _oom(err) else "error"
                return dict(row, status=status, error=str(err).splitlines()[0][:300])
        regret = np.asarray(carry.curve_regret)[:, -1]
        return dict(row, status="ok", horizon=T, run_s=round(run_s, 4),
                    seed_rounds_per_s=n_seeds * T / run_s,
                    mean_final_regret=float(regret.mean()),
                    healthy=bool(np.all(np.asarray(carry.nonfinite_at) == 0)))

    # -------------------------------------------------------------------- precision
    def precision(self, dev, k: int, d: int, n_seeds: int, horizon: int, deadline: float) -> dict:
        """The runner traced at full float32 precision (jaxpa's) against the same program at
        JAX's default precision (TF32 on recent GPUs): speed and how far the curves move."""
        from benchmarks.standard import standard_instance
        from jaxpa.learners.hparams import check_hparams
        sim = importlib.import_module("jaxpa.runner.simulate")
        row = dict(section="precision", platform=dev.platform, p=k * d, k=k, d=d, seeds=n_seeds,
                   horizon=horizon, n_users=self.sizes["n_users"])
        if time.perf_counter() > deadline:
            return dict(row, status="skipped: budget")
        try:
            plain = jax.jit(sim._programs, static_argnums=(0, 1, 2, 3, 4, 5))
            with _on(dev):
                inst = jax.device_put(standard_instance(jax.random.key(0), k=k, d=d,
                                                        n_users=self.sizes["n_users"]), dev)
                hp = check_hparams(self.learner.name, self.learner.default_hparams())[0]
                ck = sim.log_checkpoints(horizon)
                static = (self.feedback, (self.learner,), ck.shape[0], False, (False,), False)
                args = (jax.device_put(sim.seed_keys(jax.random.key(1), n_seeds), dev), inst,
                        (hp,), ck, np.int32(horizon), np.int32(horizon), None)
                out = {}
                for name, fn in (("highest", sim.compiled_program), ("default", plain)):
                    compiled = fn.lower(*static, *args).compile()
                    jax.block_until_ready(compiled(*args))
                    t = time.perf_counter()
                    carry = jax.block_until_ready(compiled(*args))[0]
                    out[name] = (time.perf_counter() - t, carry)
        except Exception as err:  # noqa: BLE001
            return dict(row, status="out of memory" if _oom(err) else "error",
                        error=str(err).splitlines()[0][:300])
        (t_hi, hi), (t_lo, lo) = out["highest"], out["default"]
        r_hi, r_lo = (np.asarray(c.curve_regret)[:, -1] for c in (hi, lo))
        m_hi, m_lo = (np.asarray(c.curve_mistakes)[:, -1] for c in (hi, lo))
        th_hi, th_lo = (np.asarray(c.state.theta) for c in (hi, lo))
        return dict(row, status="ok", seed_rounds_per_s_highest=n_seeds * horizon / t_hi,
                    seed_rounds_per_s_default=n_seeds * horizon / t_lo,
                    mean_final_regret_highest=float(r_hi.mean()),
                    mean_final_regret_default=float(r_lo.mean()),
                    share_of_seeds_with_other_mistakes=float(np.mean(m_hi != m_lo)),
                    max_theta_difference=float(np.max(np.abs(th_hi - th_lo))))

    # -------------------------------------------------------------------- diagnose
    def diagnose(self, dev, n: int, deadline: float) -> dict:
        import jaxpa
        from jaxpa.diagnostics import diagnose
        row = dict(section="diagnose", platform=dev.platform, instances=n, family="f1")
        if time.perf_counter() > deadline:
            return dict(row, status="skipped: budget")
        try:
            with _on(dev):
                t = time.perf_counter()
                batch = jaxpa.make_family("f1", jax.random.split(jax.random.key(2), n))
                batch = jax.block_until_ready(jax.device_put(batch, dev))
                row["draw_s"] = round(time.perf_counter() - t, 3)
                cache_key = ("diagnose", dev.platform, n)
                if cache_key in self._compiled:
                    row["compile_reused"] = True
                else:
                    fn = jax.jit(jax.vmap(lambda i: diagnose(i, self.feedback)))
                    t = time.perf_counter()
                    program = fn.lower(batch).compile()
                    self._compiled[cache_key] = (program, round(time.perf_counter() - t, 3))
                compiled, row["compile_s"] = self._compiled[cache_key]
                jax.block_until_ready(compiled(batch))  # first run apart
                t = time.perf_counter()
                out = jax.block_until_ready(compiled(batch))
                run_s = time.perf_counter() - t
        except Exception as err:  # noqa: BLE001
            return dict(row, status="out of memory" if _oom(err) else "error",
                        error=str(err).splitlines()[0][:300])
        return dict(row, status="ok", run_s=round(run_s, 4), instances_per_s=n / run_s,
                    ud_holds_share=float(np.mean(np.asarray(out.ud_holds))))


def environment() -> dict:
    dev = jax.devices()[0]
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        stats = dev.memory_stats() or {}
    except Exception:  # noqa: BLE001: a backend without memory statistics
        stats = {}
    return dict(device=getattr(dev, "device_kind", dev.platform), platform=dev.platform,
                n_devices=jax.device_count(), device_memory_bytes=stats.get("bytes_limit"),
                jax=jax.__version__, jaxlib=__import__("jaxlib").__version__,
                numpy=np.__version__, python=platform.python_version(), cpu=cpu,
                cpu_count=os.cpu_count(), load_avg_start=list(os.getloadavg()),
                date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def _ok(rows, **match):
    return [r for r in rows if r.get("status") == "ok"
            and all(r.get(k) == v for k, v in match.items())]


def summary(report: dict) -> dict:
    """Headline numbers and the accelerator/CPU ratios, from the rows measured so far."""
    rows, platform_name = report["runner"], report["environment"]["platform"]
    main = [r for r in rows if r["section"] != "cpu"]
    out = {"largest_seeds_that_ran": {}, "best_seed_rounds_per_s": {}}
    for p in sorted({r["p"] for r in main}):
        ok = _ok(main, p=p)
        if ok:
            out["largest_seeds_that_ran"][str(p)] = max(r["seeds"] for r in ok)
            out["best_seed_rounds_per_s"][str(p)] = max(r["seed_rounds_per_s"] for r in ok)
    cpu = _ok(rows, section="cpu")
    if cpu:
        c = cpu[0]
        out["cpu_seed_rounds_per_s"] = c["seed_rounds_per_s"]
        same = _ok(main, p=c["p"], seeds=c["seeds"], n_users=c["n_users"])
        if same:
            out["ratio_same_size"] = same[0]["seed_rounds_per_s"] / c["seed_rounds_per_s"]
        best = out["best_seed_rounds_per_s"].get(str(c["p"]))
        if best:
            out["ratio_best_vs_cpu"] = best / c["seed_rounds_per_s"]
    diag = {r["platform"] + ("_cpu_part" if r.get("cpu_part") else ""): r["instances_per_s"]
            for r in _ok(report["diagnose"])}
    if diag:
        out["diagnose_instances_per_s"] = diag
        main_d = [r for r in _ok(report["diagnose"]) if not r.get("cpu_part")]
        cpu_d = [r for r in _ok(report["diagnose"]) if r.get("cpu_part")]
        if main_d and cpu_d:
            out["diagnose_ratio"] = main_d[0]["instances_per_s"] / cpu_d[0]["instances_per_s"]
    for r in _ok(report.get("precision", [])):
        out["precision_highest_speed_vs_default"] = (r["seed_rounds_per_s_highest"]
                                                     / r["seed_rounds_per_s_default"])
        out["precision_share_of_seeds_with_other_mistakes"] = \
            r["share_of_seeds_with_other_mistakes"]
    out["device"] = report["environment"]["device"]
    out["platform"] = platform_name
    return out


def run(sizes: dict, out: str, budget: float, log=print) -> dict:
    bench = Bench(sizes, out, budget)
    dev, cpu = jax.devices()[0], jax.devices("cpu")[0]
    env = bench.report["environment"]
    log(f"{env['device']} ({env['platform']}) | JAX {env['jax']} | {env['cpu']} x "
        f"{env['cpu_count']} | load {env['load_avg_start'][0]:.1f} | budget {budget:.0f} s")
    cpu_time = [sizes["cpu_budget"]]  # kept back for the CPU part until it has run
    main_deadline = lambda: bench.t0 + budget - cpu_time[0] - RESERVE

    def add(row):
        where = {"diagnose": "diagnose", "precision": "precision"}.get(row["section"], "runner")
        bench.report.setdefault(where, []).append(row)
        rate = (row.get("seed_rounds_per_s") or row.get("instances_per_s")
                or row.get("seed_rounds_per_s_highest"))
        what = (f"p={row['p']:<4} N={row['n_users']:<6} S={row['seeds']:<8,}" if "p" in row
                else f"{row['instances']:,} instances")
        log(f"  {row['section']:8s} {row['platform']:5s} {what} "
            + (f"{rate:14,.0f}/s  compile {row.get('compile_s', 0):6.2f} s  "
               f"T={row.get('horizon', '')}"
               if row["status"] == "ok" else row["status"]
               + (f" ({row['error'][:80]})" if "error" in row else "")))
        bench.save()
        return row

    def seeds_sweep(k, d):
        for S in sizes["seeds"]:
            row = add(bench.runner("seeds", dev, k, d, sizes["n_users"], S, main_deadline()))
            if row["status"] != "ok":
                break  # larger sizes do not fit either (or there is no time)

    k0, d0 = sizes["p"][0]
    seeds_sweep(k0, d0)                                     # the headline: p = 32
    cpu_deadline = time.perf_counter() + cpu_time[0]         # the CPU part, time-boxed
    add(dict(bench.runner("cpu", cpu, k0, d0, sizes["n_users"], sizes["cpu_seeds"],
                          cpu_deadline)))
    row = bench.diagnose(cpu, sizes["cpu_diagnose"], cpu_deadline)
    add(dict(row, cpu_part=True, section="diagnose"))
    cpu_time[0] = 0.0
    add(bench.diagnose(dev, sizes["diagnose"], main_deadline()))
    k1, d1 = sizes["p"][min(1, len(sizes["p"]) - 1)]
    add(bench.precision(dev, k1, d1, sizes["precision_seeds"], sizes["precision_horizon"],
                        main_deadline()))
    for n in sizes["users"]:
        add(bench.runner("users", dev, k0, d0, n, sizes["users_seeds"], main_deadline()))
    for k, d in sizes["p"][1:]:
        seeds_sweep(k, d)
    bench.report["environment"]["load_avg_end"] = list(os.getloadavg())
    bench.save()
    log(f"\nsummary: {json.dumps(bench.report['summary'], indent=1)}\nwrote {out} "
        f"({bench.report['elapsed_s']:.0f} s)")
    return bench.report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny sizes, seconds on a CPU (the test)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks",
                                                  "results_accelerator.json"))
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole benchmark (default 420; tiny 120)")
    args = ap.parse_args(argv)
    sizes = dict(TINY if args.tiny else FULL)
    run(sizes, args.out, args.budget or sizes["budget"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
