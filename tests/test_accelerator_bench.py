"""benchmarks/accelerator.py runs at tiny sizes on the CPU, so the GPU session's one command
cannot rot: the JSON it writes has the environment, every measurement with status 'ok' and
positive finite rates, the summary's ratios; a size that does not fit or finds no time left is
recorded as such, never fatal. (Rates are not compared: tests never assert wall-clock time.)"""
import json
import math
import time

import pytest
import jax

from benchmarks import accelerator
from jaxpa.runner import memory


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc") / "acc.json"
    rep = accelerator.run(dict(accelerator.TINY), str(out), budget=300.0, log=lambda *a: None)
    with open(out) as f:
        assert json.load(f) == json.loads(json.dumps(rep))  # the file is the report
    return rep


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_environment(report):
    env = report["environment"]
    for key in ("device", "platform", "jax", "jaxlib", "date", "cpu_count", "load_avg_start",
                "load_avg_end"):
        assert key in env, key
    assert env["platform"] == jax.devices()[0].platform and env["cpu_count"] >= 1


def test_runner_rows(report):
    rows = report["runner"]
    sizes = accelerator.TINY
    assert {r["section"] for r in rows} == {"seeds", "users", "cpu"}
    assert [r["seeds"] for r in rows if r["section"] == "seeds"] == sizes["seeds"]
    for r in rows:
        assert r["status"] == "ok", r
        assert r["p"] == r["k"] * r["d"]
        assert positive(r["seed_rounds_per_s"]) and positive(r["run_s"])
        assert positive(r["compile_s"])
        assert r["horizon"] >= sizes["calib_rounds"] and r["healthy"]
        assert positive(r["estimate_bytes"]) and positive(r["compiled_bytes"])
        assert math.isfinite(r["mean_final_regret"]) and r["mean_final_regret"] >= 0


def test_diagnose_rows(report):
    rows = report["diagnose"]
    assert len(rows) == 2 and sum(bool(r.get("cpu_part")) for r in rows) == 1
    for r in rows:
        assert r["status"] == "ok" and positive(r["instances_per_s"]) and positive(r["compile_s"])
        assert 0.0 <= r["ud_holds_share"] <= 1.0


def test_precision_row(report):
    (r,) = report["precision"]
    assert r["status"] == "ok"
    assert positive(r["seed_rounds_per_s_highest"]) and positive(r["seed_rounds_per_s_default"])
    if report["environment"]["platform"] == "cpu":  # full precision either way on a CPU
        assert r["share_of_seeds_with_other_mistakes"] == 0.0 and r["max_theta_difference"] == 0.0


def test_summary(report):
    s = report["summary"]
    p = str(accelerator.TINY["p"][0][0] * accelerator.TINY["p"][0][1])
    assert s["largest_seeds_that_ran"][p] == max(accelerator.TINY["seeds"])
    for key in ("ratio_same_size", "ratio_best_vs_cpu", "diagnose_ratio", "cpu_seed_rounds_per_s"):
        assert positive(s[key]), key
    assert positive(s["best_seed_rounds_per_s"][p])


def test_no_time_or_no_memory_is_a_status(tmp_path, monkeypatch):
    bench = accelerator.Bench(dict(accelerator.TINY), str(tmp_path / "a.json"), 10.0)
    cpu = jax.devices("cpu")[0]
    late = bench.runner("seeds", cpu, 2, 4, 16, 8, deadline=time.perf_counter() - 1)
    assert late["status"] == "skipped: budget"
    monkeypatch.setattr(memory, "available_bytes", lambda devices=None: 1024)
    full = bench.runner("seeds", cpu, 2, 4, 16, 8, deadline=time.perf_counter() + 60)
    assert full["status"] == "does not fit (estimate)" and full["estimate_bytes"] > 1024
