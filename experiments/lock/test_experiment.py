"""(slow) The lock experiment at size tiny end to end: every claim names its learner and warm
start, the table covers both populations, and the runs were continued to 4 T."""
import pytest

from jaxpa.experiment import run
from experiments.lock.experiment import EXPERIMENT, LEARNERS, N0


@pytest.mark.slow
def test_lock_experiment_tiny(tmp_path):
    res = run(EXPERIMENT, "tiny", out=tmp_path, quiet=True, log=lambda m: None)
    r = res.run("fragile", "greedy_exact[warm_start=0]")
    assert r.checkpoints[-1] == 4 * res.size.horizon and r.permanent is not None
    claims = [c for s in res.sections for c in s.claims]
    assert len(claims) == len(LEARNERS) * (3 * len(N0) + 1)
    for c in claims:
        assert any(f"[{name}" in c.name for name in LEARNERS)
    fp = res.sections[0].data["fixed_points"]
    assert len(fp["n_locks"]) == 2 * res.size.draws and "lock & permanent" in res.sections[0].text
    assert sum(fp["tables"][0]["table"]) <= 2 * res.size.draws
    rows = res.sections[0].rows
    assert {r["population"] for r in rows} == {"robust", "fragile"}
