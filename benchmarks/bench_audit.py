"""The audit at the size of a real user base: each step timed (wall, CPU, peak memory) on
synthetic logs of known UD status, the verdict printed against the truth.

A log of N users: ``matched_populations`` with N / copies user types (k = 2, d = 3, K = 3
candidates, 20 prompts; the diverse population: UD holds, or the homogeneous one: UD fails),
every user answering c = choices / N choice sets (``synthetic_log``), written as a CSV and read
back by the audit's reader; then ``run_audit`` with the CLI's defaults except the options given.

    python benchmarks/bench_audit.py --quick                  # 100 users x 20 choices each
    python benchmarks/bench_audit.py                          # 10^2, 10^3, 10^4 users; 10^5 choices at 10^4
    python benchmarks/bench_audit.py --users 752 --choices 6768 --status holds

Per size: one line per step (read, fits, raw, ud, coverage, simulate, budget) with wall seconds,
CPU seconds (all threads) and peak resident memory (sampled every 50 ms), then the verdict and
the known status. ``--json FILE`` writes the rows. Measures the code as it is: compile time is
included (run twice with a compilation cache to see it apart).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import jax
import numpy as np
import psutil

from jaxpa.audit.config import AuditConfig
from jaxpa.audit.reading import LogColumns, read_preference_log
from jaxpa.audit.steps import run_audit
from jaxpa.audit.synthetic import matched_populations, synthetic_log, user_vectors

COLUMNS = LogColumns(reference="reference", context="prompt")


class Peak:
    """Peak resident memory of this process while the block runs (sampled every 50 ms), in GB."""

    def __enter__(self):
        self.proc, self.peak, self.stop = psutil.Process(), 0, threading.Event()
        self.peak = self.proc.memory_info().rss

        def sample():
            while not self.stop.wait(0.05):
                self.peak = max(self.peak, self.proc.memory_info().rss)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.gb = self.peak / 2**30


def timed(fn):
    """(result, wall s, CPU s, peak GB) of fn()."""
    w, c = time.perf_counter(), time.process_time()
    with Peak() as p:
        out = fn()
    return out, time.perf_counter() - w, time.process_time() - c, p.gb


def population(n_users: int, status: str, seed: int):
    copies = max(n_users // 8, 1)
    diverse, homogeneous = matched_populations(jax.random.key(seed), n_types=n_users // copies,
                                               copies=copies, min_gap=0.1)
    return diverse if status == "holds" else homogeneous


def bench_one(n_users: int, n_choices: int, status: str, config: AuditConfig, seed: int,
              folder: Path) -> dict:
    inst = population(n_users, status, seed)
    per_user = max(n_choices // inst.n_users, 3)
    path = folder / f"log_{inst.n_users}x{per_user}_{status}.csv"
    synthetic_log(jax.random.key(seed + 1), inst, per_user, columns=COLUMNS).to_csv(path,
                                                                                   index=False)
    rows = []

    def line(step, wall, cpu, gb, note=""):
        rows.append({"step": step, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "peak_gb": round(gb, 3)})
        print(f"  {step:9s} wall {wall:8.1f} s  cpu {cpu:8.1f} s  peak {gb:6.2f} GB {note}",
              flush=True)

    log, *t = timed(lambda: read_preference_log(path, COLUMNS))
    line("read", *t, f"({log.n_rows} rows)")

    def part(name, cfg, compute):
        out, *t = timed(compute)
        line(name, *t)
        return out

    r, *t = timed(lambda: run_audit(log, config, part=part, progress=lambda m: None))
    verdict = r.get("ud", {}).get("verdict")
    print(f"  total     wall {t[0]:8.1f} s  cpu {t[1]:8.1f} s  peak {t[2]:6.2f} GB; verdict "
          f"{verdict} (known: UD {status}; resolved rank {r.get('ud', {}).get('point_rank')})",
          flush=True)
    return {"users": int(inst.n_users), "choices_per_user": per_user,
            "choices": int(log.panel.n_choices), "status": status, "verdict": verdict,
            "steps": rows, "total": {"wall_s": round(t[0], 2), "cpu_s": round(t[1], 2),
                                     "peak_gb": round(t[2], 3)},
            "true_vectors_rank": int(np.linalg.matrix_rank(user_vectors(inst), 1e-6))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", default="100,1000,10000", help="users per log, comma-separated")
    p.add_argument("--choices", default=None,
                   help="choices per log, comma-separated (default: 10 per user, at least 20 "
                        "per user below 1000 users)")
    p.add_argument("--status", default="holds", help="holds, fails or both (comma-separated)")
    p.add_argument("--sections", default=",".join(AuditConfig().sections))
    p.add_argument("--boot", type=int, default=AuditConfig().n_boot)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="100 users x 20 choices, 20 replicates")
    p.add_argument("--json", default=None, help="write the rows to this file")
    args = p.parse_args()
    if args.quick:
        args.users, args.choices, args.boot = "100", "2000", min(args.boot, 20)
    users = [int(v) for v in args.users.split(",")]
    choices = ([int(v) for v in args.choices.split(",")] if args.choices else
               [n * (10 if n >= 1000 else 20) for n in users])
    sections = tuple(s for s in args.sections.split(",") if s)
    config = AuditConfig(n_boot=args.boot, sections=sections)
    load = os.getloadavg()
    print(f"bench_audit: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; jax {jax.__version__}; sections {','.join(sections)}, "
          f"{args.boot} replicates", flush=True)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, c in zip(users, choices):
            for status in args.status.split(","):
                print(f"{n} users, {c} choices, UD {status}:", flush=True)
                out.append(bench_one(n, c, status, config, args.seed, Path(tmp)))
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "cpus": os.cpu_count(),
                                               "boot": args.boot, "sections": sections,
                                               "runs": out}, indent=1))


if __name__ == "__main__":
    main()
