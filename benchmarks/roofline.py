"""The roofline of one seed-round of greedy/bt_ref on the standard instance: the work counted from
the code (FLOPs, bytes of V_inv traffic, Threefry hashes) against what one core of this machine
does (benchmarks/RESULTS.md)."""
from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.standard import standard_instance


def roofline(seeds: int) -> dict:
    """Work per seed-round of greedy/bt_ref on the standard instance, counted from the code, and
    what this machine does per core: FP32 FLOP/s (a large jitted matmul), bytes/s at the working
    set of V_inv (a NumPy triad), Threefry words/s (jax.random.bits)."""
    inst = standard_instance(jax.random.key(0))
    k, d, K = inst.k, inst.d, inst.n_responses
    p = k * d
    flops = {"featurize": K * p, "scores (phi @ (h @ Theta))": 2 * (k * d + K * d), "rewards": 2 * k * d + 2 * K * d,
             "likelihood terms": 8 * p, "w = V_inv g": 2 * p * p,
             "rank-one update (as coded: ww^T, * h/c, X + X^T, /2, V -)": 5 * p * p,
             "theta += (a / c) w": 2 * p}
    minimal_flops = 4 * p * p + sum(v for n, v in flops.items() if "V_inv" not in n and
                                    "rank-one" not in n)
    v_bytes = 4 * p * p
    bytes_as_run = 3 * v_bytes  # V_inv read by the matvec, read and written by the update
    # fold_in, round split (3), context split (2), user uniform (M = 1: no prompt draw), the
    # warm-start wrapper's split of the learner key (3: rule, uniform, inner; after the warm start
    # only the inner branch runs), greedy's tie-break uniform, feedback uniform: every categorical
    # draw is an inverse CDF of one uniform
    hashes = 1 + 3 + 2 + 1 + 3 + 1 + 1

    def best(fn, n=3):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return min(out)

    a = jnp.ones((2048, 2048), jnp.float32)
    mm = jax.jit(lambda a: a @ a)
    jax.block_until_ready(mm(a))
    gflops_all = 2 * 2048**3 / best(lambda: jax.block_until_ready(mm(a))) / 1e9
    n = seeds * p * p  # one V_inv per seed: the loop's working set
    x, y, z = (np.ones(n, np.float32) for _ in range(3))
    bw = 3 * 4 * n / best(lambda: np.add(x, y, out=z), 10) / 1e9
    bits = jax.jit(lambda key: jax.random.bits(key, (2**24,)))
    jax.block_until_ready(bits(jax.random.key(0)))
    words = 2**24 / best(lambda: jax.block_until_ready(bits(jax.random.key(0))))
    cores = os.cpu_count() or 1
    gflops_core = gflops_all / cores if jax.devices()[0].platform == "cpu" else gflops_all
    bound = dict(flops_ns=sum(flops.values()) / gflops_core,
                 bytes_ns=bytes_as_run / bw,
                 random_ns=hashes / words * 1e9)
    return dict(p=p, flops_per_seed_round=flops, total_flops=sum(flops.values()),
                minimal_flops=minimal_flops, v_inv_bytes=v_bytes,
                bytes_per_seed_round_as_run=bytes_as_run, minimal_bytes=2 * v_bytes,
                threefry_hashes_per_seed_round=hashes,
                machine=dict(matmul_gflops_all_cores=gflops_all, gflops_per_core=gflops_core,
                             triad_gb_per_s_one_core=bw, working_set_mb=3 * 4 * n / 2**20,
                             threefry_words_per_s_one_core=words),
                bound_ns_per_seed_round_one_core=bound,
                # arithmetic and hashing share the core's ALUs; memory traffic can overlap them
                roofline_ns_per_seed_round_one_core=max(bound["flops_ns"] + bound["random_ns"],
                                                        bound["bytes_ns"]))
