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
    # the figure's two groupings count the same seeds (every draw's locks computed at this size)
    pts = res.sections[0].data["figure"]
    for name in LEARNERS:
        for n0 in N0:
            by = {panel: [p for p in pts if p["learner"] == name and p["n0"] == n0
                          and p["panel"] == panel] for panel in ("robust UD", "self-consistent lock")}
            assert all(len(v) == 2 for v in by.values())
            assert len({sum(p["k"] for p in v) for v in by.values()}) == 1
            assert len({sum(p["n"] for p in v) for v in by.values()}) == 1
    assert (tmp_path / "permanent_lock.png").stat().st_size > 10_000


def test_figure_titles_count_the_seeds_of_each_group():
    """The panels' titles give each group's pooled seeds locked for good at the first n0."""
    from experiments.lock.figure import lock_figure
    pts = [{"learner": lr, "n0": n0, "panel": panel, "group": g, "k": k, "n": 16}
           for lr in LEARNERS for n0 in N0
           for panel, g, k in (("robust UD", "holds", 3), ("robust UD", "fails", 5),
                               ("self-consistent lock", "lock-free", 0),
                               ("self-consistent lock", "a strict lock exists", 8))]
    fig = lock_figure(pts, list(N0))
    titles = [ax.get_title() for ax in fig.axes]
    assert "holds 6/32, fails 10/32" in titles[0]
    assert "lock-free 0/32, a strict lock exists 16/32" in titles[1]
    lines = fig.axes[1].get_lines()
    assert len(fig.axes) == 2 and len(lines) > 0
