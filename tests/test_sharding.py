"""Runs sharded over 8 (fake CPU) devices give the curves of one device: seeds sharded with a
seed count that 8 does not divide (padding), instances sharded, chunked runs, a 3-device mesh;
and the partitioned program has no communication. The 8 devices need their own process (JAX
fixes the device count when it starts), so the checks run in a subprocess that prints JSON."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

WORKER = textwrap.dedent("""
    import json
    import jax
    jax.config.update("jax_num_cpu_devices", 8)
    import jax.numpy as jnp
    import numpy as np
    from jaxpa import make_learner, simulate
    from jaxpa.learners.glm import GreedyHParams
    from jaxpa.runner.sharding import runs_mesh, simulate_sharded
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    from tests.helpers import tiny_f1

    out = {"n_devices": len(jax.devices())}
    learner = make_learner("greedy", "bt_ref")
    hp = GreedyHParams(ridge=jnp.float32(1.0), warm_start=jnp.int32(10))
    key, T = jax.random.key(3), 60

    def compare(name, a, b):
        out[name] = dict(shape=list(np.shape(a.regret)), ref_shape=list(np.shape(b.regret)),
                         mistakes_equal=bool(np.array_equal(a.mistakes, b.mistakes)),
                         regret_max_diff=float(np.max(np.abs(a.regret - np.asarray(b.regret)))),
                         regret_max=float(np.max(b.regret)))

    one = simulate(key, tiny_f1(), learner, hp, horizon=T, n_seeds=13)
    compare("seeds", simulate_sharded(key, tiny_f1(), learner, hp, horizon=T, n_seeds=13), one)
    seen = []
    chunked = simulate_sharded(key, tiny_f1(), learner, hp, horizon=T, n_seeds=13, chunk=30,
                               on_chunk=lambda t, c: seen.append([t, list(np.shape(c.regret))]))
    compare("seeds_chunked", chunked, one)
    out["chunks_seen"] = seen
    batch = jax.tree.map(lambda x, y, z: jnp.stack([x, y, z]), tiny_f1(),
                         tiny_f1().replace(W=-tiny_f1().W), tiny_f1().replace(W=2 * tiny_f1().W))
    both = simulate(key, batch, learner, hp, horizon=T, n_seeds=5)
    compare("instances", simulate_sharded(key, batch, learner, hp, horizon=T, n_seeds=5,
                                          over="instances"), both)
    mesh = runs_mesh(jax.devices()[:3])  # 5 seeds of 3 instances over 3 devices: seeds padded
    compare("batch_over_seeds", simulate_sharded(key, batch, learner, hp, horizon=T, n_seeds=5,
                                                 mesh=mesh), both)

    # the partitioned program: no collectives, each device holds 16 / 8 = 2 seeds
    from jax.sharding import NamedSharding, PartitionSpec as P
    m = runs_mesh()
    keys = jax.device_put(seed_keys(key, 16), NamedSharding(m, P("runs")))
    ck = jnp.asarray(log_checkpoints(T))
    text = compiled_program.lower(learner, T, ck.shape[0], False, False, keys, tiny_f1(), hp, ck,
                                  None).compile().as_text()
    out["collectives"] = [op for op in ("all-gather", "all-reduce", "all-to-all",
                                        "collective-permute", "reduce-scatter") if op in text]
    print("RESULT " + json.dumps(out))
""")


@pytest.fixture(scope="module")
def result():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-c", WORKER], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def test_eight_devices(result):
    assert result["n_devices"] == 8


@pytest.mark.parametrize("name", ["seeds", "seeds_chunked", "instances", "batch_over_seeds"])
def test_sharded_equals_unsharded(result, name):
    r = result[name]
    assert r["shape"] == r["ref_shape"]  # padding dropped
    assert r["mistakes_equal"]
    # regret: equal up to float32 rounding (XLA may round a batch of 2 seeds differently from a
    # batch of 13; the same tolerance as tests/test_runner.py's vmap == single-run check)
    assert r["regret_max_diff"] <= 1e-5 + 1e-6 * r["regret_max"]
    assert r["regret_max"] > 0


def test_chunks_report_unpadded_curves(result):
    assert [t for t, _ in result["chunks_seen"]] == [30, 60]
    assert all(shape[0] == 13 for _, shape in result["chunks_seen"])


def test_partitioned_program_has_no_communication(result):
    assert result["collectives"] == []


@pytest.mark.slow
def test_two_processes_with_jax_distributed_give_one_process_curves():
    """benchmarks/distributed_demo.py: 2 local CPU processes, jax.distributed, gloo (~15 s)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "distributed_demo.py"),
                           "--seeds", "5", "--horizon", "80"], cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "EQUAL" in proc.stdout
