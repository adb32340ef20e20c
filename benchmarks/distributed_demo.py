"""Multi-process runs with ``jax.distributed``: two local CPU processes share one global mesh and
produce the same curves as a single process.

    python benchmarks/distributed_demo.py                      # launches 2 processes, checks
    python benchmarks/distributed_demo.py --processes 4 --seeds 37 --horizon 500

Each process calls ``jax.distributed.initialize`` (coordinator on 127.0.0.1), sees the global
devices (one per process here, ``--local-devices`` for more), and runs
``jaxpa.runner.sharding.simulate_sharded`` on the global 'runs' mesh: the seeds are split over all
devices of all processes, each process computes only its shards, and the curves are gathered on
every process (CPU cross-process collectives by gloo). Process 0 then reruns the same experiment
alone, unsharded, and checks the curves agree (mistakes exactly, regret to float32 rounding).
On a cluster the same worker runs with the cluster's coordinator address and process ids.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args) -> None:
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_num_cpu_devices", args.local_devices)
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{args.port}",
                               num_processes=args.processes, process_id=args.process_id)
    import numpy as np
    sys.path.insert(0, ROOT)
    from benchmarks.standard import standard_instance
    from jaxpa import make_learner, simulate
    from jaxpa.runner.sharding import simulate_sharded

    inst = standard_instance(jax.random.key(0))
    learner = make_learner("greedy", "bt_ref")
    kw = dict(horizon=args.horizon, n_seeds=args.seeds)
    t0 = time.perf_counter()
    curves = simulate_sharded(jax.random.key(args.key), inst, "bt_ref", learner, **kw)
    seconds = time.perf_counter() - t0
    out = dict(process=jax.process_index(), processes=jax.process_count(),
               global_devices=len(jax.devices()), local_devices=len(jax.local_devices()),
               shape=list(curves.regret.shape), seconds=round(seconds, 3),
               mean_final_regret=float(curves.regret[:, -1].mean()))
    if jax.process_index() == 0:
        alone = simulate(jax.random.key(args.key), inst, "bt_ref", learner, **kw)
        out.update(mistakes_equal=bool(np.array_equal(curves.mistakes, alone.mistakes)),
                   regret_max_diff=float(np.abs(curves.regret - np.asarray(alone.regret)).max()),
                   regret_max=float(np.asarray(alone.regret).max()))
    print("RESULT " + json.dumps(out), flush=True)
    jax.distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args) -> int:
    """Start the worker processes, wait for them, and report: exit status 0 iff they agree."""
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                               "--process-id", str(i), "--port", str(port),
                               "--processes", str(args.processes), "--seeds", str(args.seeds),
                               "--horizon", str(args.horizon), "--key", str(args.key),
                               "--local-devices", str(args.local_devices)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(args.processes)]
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=args.timeout)
        if p.returncode != 0:
            print(stderr[-3000:], file=sys.stderr)
            return 1
        results += [json.loads(s[len("RESULT "):]) for s in stdout.splitlines()
                    if s.startswith("RESULT ")]
    for r in results:
        print(json.dumps(r))
    main = next(r for r in results if r["process"] == 0)
    ok = (main["mistakes_equal"] and main["shape"] == [args.seeds, main["shape"][1]]
          and main["regret_max_diff"] <= 1e-5 + 1e-6 * main["regret_max"]
          and len({r["mean_final_regret"] for r in results}) == 1)
    print(f"{args.processes} processes x {args.local_devices} devices, {args.seeds} seeds x "
          f"{args.horizon} rounds: curves {'EQUAL to' if ok else 'DIFFER from'} one process")
    return 0 if ok else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--local-devices", type=int, default=1)
    p.add_argument("--seeds", type=int, default=13, help="need not divide the device count")
    p.add_argument("--horizon", type=int, default=300)
    p.add_argument("--key", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
