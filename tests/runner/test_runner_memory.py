"""A long session stays bounded: 320 ``simulate`` calls of varying horizons, seed counts and
chunkings in one process compile a handful of programs (seed buckets, chunked or not), so
resident memory after call 320 is within 100 MB of that after call 50. (The runner before the
redesign compiled a program per horizon, megabytes each; the redesigned one still compiled a
dozen small gathers per new number of distinct checkpoints, about 1 MB per call.) Measured in a
fresh process so that RSS belongs to this session alone."""
import pytest

from tests.helpers import run_python

N_CALLS, WARM_UP = 320, 50
BOUND_MB = 100

SCRIPT = r"""
import json, time
import numpy as np
import jax
import jaxpa
from jaxpa.runner.simulate import compiled_program, seed_bucket

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")

rng = np.random.default_rng(0)
inst = jaxpa.Instance.create(features=rng.normal(size=(2, 3, 2)), reference=[0, 1],
                             heads=rng.normal(size=(3, 2)), W=rng.normal(size=(2, 2)))
learner = jaxpa.make_learner("greedy", "bt_ref")
seeds = [9, 10, 11, 12]
rss, sizes, configs, t0 = {}, {}, set(), time.time()
for i in range(1, N_CALLS + 1):
    horizon, n_seeds = int(rng.integers(5, 600)), int(rng.choice(seeds))
    if i <= 2 * len(seeds):  # the warm-up meets every bucket, in one loop and in chunks
        n_seeds = seeds[(i - 1) % len(seeds)]
    chunked = i <= 2 * len(seeds) and i > len(seeds) or i % 7 == 0
    chunk = int(rng.integers(horizon // 4, horizon) + 1) if chunked else None
    c = jaxpa.simulate(jax.random.key(i), inst, "bt_ref", learner, horizon=horizon,
                       n_seeds=n_seeds, chunk=chunk)
    assert c.regret.shape[0] == n_seeds and c.checkpoints[-1] == horizon
    assert np.all(np.isfinite(c.regret)) and np.all(c.healthy)
    configs.add((horizon, n_seeds, chunk))
    if i in (WARM_UP, N_CALLS):
        rss[i], sizes[i] = rss_mb(), compiled_program._cache_size()
print("RESULT " + json.dumps({"rss": rss, "programs": sizes, "distinct_calls": len(configs),
                              "buckets": sorted({seed_bucket(s) for s in seeds}),
                              "seconds": time.time() - t0}))
""".replace("N_CALLS", str(N_CALLS)).replace("WARM_UP", str(WARM_UP))


@pytest.fixture(scope="module")
def result():
    return run_python(SCRIPT)


def test_calls_are_differently_sized(result):
    assert result["distinct_calls"] >= 300


def test_programs_are_few_and_stop_growing(result):
    """Two seed buckets (10, 12), each run in one loop or in chunks (a second program that
    starts from a carry): at most 4 programs, all compiled during the warm-up."""
    progs = result["programs"]
    assert result["buckets"] == [10, 12]
    assert progs[str(N_CALLS)] <= 4
    assert progs[str(N_CALLS)] == progs[str(WARM_UP)]


def test_resident_memory_is_bounded(result):
    rss = result["rss"]
    growth = rss[str(N_CALLS)] - rss[str(WARM_UP)]
    assert growth < BOUND_MB, f"RSS grew by {growth:.0f} MB over {N_CALLS - WARM_UP} calls"
