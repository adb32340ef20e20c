"""A run's memory is estimated from its shapes before anything is allocated or compiled
(``jaxpa/runner/memory.py``): the estimate is within 2x of what the compiled program needs
(``memory_analysis``), its upper bound is above it, a run that cannot fit is refused with one
line before any allocation, and a run whose upper bound does not fit is checked once compiled."""
import importlib

import numpy as np
import pytest
import jax

import jaxpa
from jaxpa.envs.instance import InstanceError
from jaxpa.learners.hparams import check_hparams
from jaxpa.runner import memory
from tests.helpers import tiny_f1

sim = importlib.import_module("jaxpa.runner.simulate")
HORIZON = 50


def _program(name: str, n_seeds: int, inst=None, track_cells=False):
    fb = jaxpa.make_feedback("bt_ref")
    learner = jaxpa.make_learner(name, fb)
    hp, _ = check_hparams(learner.name, learner.default_hparams())
    ck = sim.log_checkpoints(HORIZON)
    static = (fb, (learner,), ck.shape[0], False, (False,), track_cells)
    inst = tiny_f1() if inst is None else inst
    args = (sim.seed_keys(jax.random.key(0), n_seeds), inst, (hp,), ck, np.int32(HORIZON),
            np.int32(HORIZON), None)
    return static, args, memory.estimate(static, inst, (hp,), n_seeds, HORIZON)


def _measured(static, args) -> int:
    m = sim.compiled_program.lower(*static, *args).compile().memory_analysis()
    return (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
            - m.alias_size_in_bytes)


def _standard(k, d):
    from benchmarks.standard import standard_instance
    return standard_instance(jax.random.key(0), k=k, d=d)


@pytest.mark.parametrize("name,n_seeds,kd,track", [("greedy", 4096, (4, 8), False),
                                                   ("greedy", 512, (8, 16), False),
                                                   ("ucb", 2048, (4, 8), True)])
def test_estimate_within_2x_of_compiled_program(name, n_seeds, kd, track):
    static, args, est = _program(name, n_seeds, _standard(*kd), track)
    device_need = est.need - (est.host if est.same_memory else 0)
    measured = _measured(static, args)
    assert measured > 1e6  # sizes where the carry dominates, not fixed overheads
    assert 0.5 <= measured / device_need <= 2.0, (measured, device_need)
    assert est.upper - (est.host if est.same_memory else 0) >= measured
    # the estimate scales with the seeds: twice the seeds, about twice the bytes
    double = memory.estimate(static, args[1], args[2], 2 * n_seeds, HORIZON)
    assert 1.9 <= double.need / est.need <= 2.1


def test_upper_bound_covers_a_learner_with_large_temporaries():
    """unknown_heads keeps ~2x its carry in per-round temporaries: ``need`` is below what it
    uses, the upper bound (which triggers the compiled check) is not."""
    static, args, est = _program("unknown_heads", 512)
    assert est.upper - est.host >= _measured(static, args)


def test_huge_run_refused_in_one_line_before_allocation():
    learner = jaxpa.make_learner("greedy", "bt_ref")
    before = sim.compiled_program._cache_size()
    with pytest.raises(InstanceError, match="seeds would fit") as err:
        jaxpa.simulate(jax.random.key(0), tiny_f1(), "bt_ref", learner, horizon=10_000,
                       n_seeds=100_000_000)
    assert "\n" not in str(err.value) and "GiB" in str(err.value)
    assert sim.compiled_program._cache_size() == before  # nothing compiled


def test_fitting_run_unchanged_and_estimate_line():
    static, args, est = _program("greedy", 16)
    assert est.available is None or est.need < est.available
    assert "GiB" in est.line() and "\n" not in est.line()
    assert est.seeds_that_fit() > 16


def test_compiled_check_refuses_and_runs(monkeypatch):
    """Where only the upper bound exceeds the memory, the program is compiled and checked
    exactly: refused when memory_analysis does not fit, run (same curves) when it does."""
    learner = jaxpa.make_learner("greedy", "bt_ref")
    run = lambda: jaxpa.simulate(jax.random.key(3), tiny_f1(), "bt_ref", learner,
                                 horizon=HORIZON, n_seeds=256)
    plain = run()
    static, args, est = _program("greedy", 256)
    measured = _measured(static, args) + est.host
    assert est.need < measured < est.upper
    monkeypatch.setattr(memory, "available_bytes", lambda devices=None: measured - 1)
    with pytest.raises(InstanceError, match="once compiled"):
        run()
    monkeypatch.setattr(memory, "available_bytes", lambda devices=None: measured + 1)
    checked = run()
    np.testing.assert_array_equal(checked.regret, plain.regret)
