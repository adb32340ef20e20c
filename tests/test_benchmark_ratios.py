"""The benchmark's printed ratios are computed from the measured runs as documented: wall-clock
speed-up from the fastest jaxpa run, CPU-time speed-up and roofline from the jaxpa run that spent
the least CPU per seed-round."""
import pytest

from benchmarks.bench_standard import ratios


def _run(seeds, horizon, run_s, cpu_s):
    return dict(seeds=seeds, horizon=horizon, run_s=run_s, cpu_s=cpu_s,
                seed_rounds_per_s=seeds * horizon / run_s)


def test_ratios_from_synthetic_runs():
    results = {"jaxpa": _run(100, 1000, 4.0, 6.0),           # threaded: 6 CPU s
               "jaxpa_sharded": _run(100, 1000, 2.0, 4.0),   # faster and more frugal
               "numpy": _run(100, 1000, 20.0, 20.0),
               "numpy_loop": _run(2, 500, 1.0, 1.0),
               "roofline": {"roofline_ns_per_seed_round_one_core": 10_000.0}}
    out = ratios(results)
    assert out["speedup_vs_numpy"] == pytest.approx(10.0)            # 20 s / 2 s wall
    assert out["speedup_vs_numpy_cpu_time"] == pytest.approx(5.0)    # 20 CPU s / 4 CPU s
    assert out["speedup_vs_numpy_loop"] == pytest.approx(50.0)       # 50,000 / s vs 1,000 / s
    assert out["jaxpa_cpu_ns_per_seed_round"] == pytest.approx(40_000.0)
    assert out["fraction_of_roofline"] == pytest.approx(0.25)
    assert "speedup_vs_mabwiser" not in out  # not measured, not reported


def test_ratios_without_jaxpa_runs_report_nothing():
    assert ratios({"numpy": _run(10, 10, 1.0, 1.0)}) == {}
