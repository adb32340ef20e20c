"""Runs sharded over 8 (fake CPU) devices give the curves of one device: seeds sharded with a
seed count that 8 does not divide (padding), instances sharded, chunked runs, a 3-device mesh,
the health flag and the cell tracker; and the partitioned program has no communication. The 8
devices need their own process (JAX fixes the device count when it starts), so the checks run
in a subprocess that prints JSON."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import run_python

WORKER = textwrap.dedent("""
    import json
    import jax
    jax.config.update("jax_num_cpu_devices", 8)
    import jax.numpy as jnp
    import numpy as np
    import jaxpa
    from jaxpa import make_learner, set_hparams, simulate
    from jaxpa.runner.sharding import runs_mesh, simulate_sharded
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    from tests.helpers import expected_fault_rounds, faulty_learner, stack, tiny_f1

    out = {"n_devices": len(jax.devices())}
    learner = make_learner("greedy", "bt_ref")
    hp = set_hparams(learner.default_hparams(), warm_start=10)
    key, T = jax.random.key(3), 60

    def compare(name, a, b):
        out[name] = dict(shape=list(np.shape(a.regret)), ref_shape=list(np.shape(b.regret)),
                         numpy=all(isinstance(x, np.ndarray) for x in
                                   (a.regret, a.mistakes, a.checkpoints, a.nonfinite_at)),
                         mistakes_equal=bool(np.array_equal(a.mistakes, b.mistakes)),
                         health_equal=bool(np.array_equal(a.nonfinite_at, b.nonfinite_at)),
                         checkpoints_equal=bool(np.array_equal(a.checkpoints, b.checkpoints)),
                         regret_max_diff=float(np.max(np.abs(a.regret - b.regret))),
                         regret_max=float(np.max(b.regret)))

    one = simulate(key, tiny_f1(), "bt_ref", learner, hp, horizon=T, n_seeds=13)
    compare("seeds", simulate_sharded(key, tiny_f1(), "bt_ref", learner, hp, horizon=T,
                                      n_seeds=13), one)
    seen = []
    chunked = simulate_sharded(key, tiny_f1(), "bt_ref", learner, hp, horizon=T, n_seeds=13,
                               chunk=30,
                               on_chunk=lambda t, c: seen.append([t, list(np.shape(c.regret))]))
    compare("seeds_chunked", chunked, one)
    out["chunks_seen"] = seen
    batch = stack(tiny_f1(), tiny_f1().replace(W=-tiny_f1().W), tiny_f1().replace(W=2 * tiny_f1().W))
    both = simulate(key, batch, "bt_ref", learner, hp, horizon=T, n_seeds=5)
    compare("instances", simulate_sharded(key, batch, "bt_ref", learner, hp, horizon=T, n_seeds=5,
                                          over="instances"), both)
    mesh = runs_mesh(jax.devices()[:3])  # 5 seeds of 3 instances over 3 devices: seeds padded
    compare("batch_over_seeds", simulate_sharded(key, batch, "bt_ref", learner, hp, horizon=T,
                                                 n_seeds=5, mesh=mesh), both)

    # several learners in one program (a population's learners in an experiment): each curve
    # is its own run's, a swept learner beside unswept ones
    from jaxpa.runner.sharding import simulate_sharded_many
    ucb, uni = make_learner("ucb", "bt_ref"), make_learner("uniform", "bt_ref")
    runs = [(learner, hp), (ucb, set_hparams(ucb.default_hparams(), alpha=jnp.array([0.5, 2.0]))),
            (uni, None)]
    many = simulate_sharded_many(key, tiny_f1(), "bt_ref", runs, horizon=T, n_seeds=13)
    alone = [simulate_sharded(key, tiny_f1(), "bt_ref", l, h, horizon=T, n_seeds=13)
             for l, h in runs]
    out["bundle"] = [dict(shape=list(a.regret.shape), equal=bool(
        np.array_equal(a.regret, b.regret) and np.array_equal(a.mistakes, b.mistakes)
        and np.array_equal(a.nonfinite_at, b.nonfinite_at))) for a, b in zip(many, alone)]
    out["bundle_differ"] = bool(not np.array_equal(many[0].regret, many[2].regret))

    # health flag and cells: per seed, padding dropped (the expected fault rounds come from
    # the seeds' init keys, tests/helpers.py)
    faulty = faulty_learner("bt_ref")
    sharded = simulate_sharded(key, tiny_f1(), "bt_ref", faulty, horizon=40, n_seeds=13,
                               track_cells=True)
    out["faulty"] = dict(sharded=sharded.nonfinite_at.tolist(),
                         expected=expected_fault_rounds(key, 13, 40).tolist(),
                         late_plays=sharded.cells.plays.sum((-2, -1)).tolist())

    # the partitioned program of the "seeds" run above (its arguments placed the same way, so
    # lowering it again finds the compiled program): no collectives, 16 / 8 = 2 seeds a device
    from jax.sharding import PartitionSpec as P
    from jaxpa.runner.sharding import _put
    from jaxpa.runner.simulate import check_run
    import time
    m = runs_mesh()
    _, fb, _, hp_arrays, _, _ = check_run(key, tiny_f1(), "bt_ref", learner, hp, T, 13)
    keys = _put(seed_keys(key, 16), m, P("runs"))
    inst = jax.tree.map(lambda x: _put(x, m, P()), tiny_f1())
    hp_arrays = jax.tree.map(lambda x: _put(x, m, P()), hp_arrays)
    ck = np.asarray(log_checkpoints(T), np.int32)
    t0 = time.process_time()
    text = compiled_program.lower(fb, (learner,), ck.shape[0], False, (False,), False, keys,
                                  inst, (hp_arrays,), ck, np.int32(T), np.int32(T),
                                  None).compile().as_text()
    out["lower_seconds"] = time.process_time() - t0
    out["collectives"] = [op for op in ("all-gather", "all-reduce", "all-to-all",
                                        "collective-permute", "reduce-scatter") if op in text]
    print("RESULT " + json.dumps(out))
""")


@pytest.fixture(scope="module")
def result():
    return run_python(WORKER)


def test_eight_devices(result):
    assert result["n_devices"] == 8


@pytest.mark.parametrize("name", ["seeds", "seeds_chunked", "instances", "batch_over_seeds"])
def test_sharded_equals_unsharded(result, name):
    r = result[name]
    assert r["shape"] == r["ref_shape"]  # padding dropped
    assert r["numpy"] and r["checkpoints_equal"]
    assert r["mistakes_equal"] and r["health_equal"]
    # regret: equal up to float32 rounding (XLA may round a batch of 2 seeds differently from a
    # batch of 13; the same tolerance as tests/runner/test_runner.py's vmap == single-run check)
    assert r["regret_max_diff"] <= 1e-4 + 1e-5 * r["regret_max"]
    assert r["regret_max"] > 0


def test_chunks_report_unpadded_curves(result):
    assert [t for t, _ in result["chunks_seen"]] == [30, 60]
    assert all(shape[0] == 13 for _, shape in result["chunks_seen"])


def test_learners_in_one_program_equal_their_own_runs(result):
    shapes = [r["shape"] for r in result["bundle"]]
    assert shapes[0][0] == 13 and shapes[1][:2] == [2, 13] and shapes[2][0] == 13
    assert all(r["equal"] for r in result["bundle"]) and result["bundle_differ"]


def test_health_flag_and_cells_sharded(result):
    r = result["faulty"]
    assert r["sharded"] == r["expected"]
    assert any(r["expected"]) and not all(r["expected"])
    assert r["late_plays"] == [40 - 40 // 2] * 13  # every seed's last half, padding dropped


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
