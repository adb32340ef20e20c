"""The default job end to end at a tiny size: outputs, resume after interruption, bad arguments."""
import json

import numpy as np
import pytest

from jaxpa.cli import main

ARGS = ["run", "--horizon", "200", "--seeds", "4", "--warm-start", "20"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default")
    assert main(ARGS + ["--out", str(out)]) == 0
    return out


def test_outputs_written(first_run, capsys):
    summary = json.loads((first_run / "summary.json").read_text())
    assert summary["config"]["horizon"] == 200 and summary["metadata"]["jax"]
    res = summary["results"]
    assert set(res) == {"f1", "f2"} and set(res["f1"]) == {"greedy", "greedy+warm20", "uniform",
                                                            "oracle"}
    assert res["f1"]["oracle"]["final_regret"] == 0.0
    assert res["f1"]["uniform"]["final_regret"] > res["f1"]["greedy+warm20"]["final_regret"]
    curves = np.load(first_run / "curves.npz")
    assert curves["f2__greedy__regret"].shape == (4, len(curves["checkpoints"]))
    np.testing.assert_allclose(np.mean(curves["f2__uniform__regret"][:, -1]),
                               res["f2"]["uniform"]["final_regret"], rtol=1e-6)
    assert (first_run / "regret.png").stat().st_size > 10_000


def test_rerun_resumes_and_recomputes_only_missing_parts(first_run, capsys):
    parts = sorted((first_run / "parts").glob("*.npz"))
    assert len(parts) == 8
    before = json.loads((first_run / "summary.json").read_text())["results"]
    lost = [p for p in parts if p.name.startswith("f2__uniform")][0]
    lost.unlink()  # as if the run had been killed before this part finished
    capsys.readouterr()
    assert main(ARGS + ["--out", str(first_run)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 7 and lost.exists()
    after = json.loads((first_run / "summary.json").read_text())["results"]
    assert after == before  # same key, same numbers


def test_other_config_does_not_reuse_parts(first_run, capsys):
    capsys.readouterr()
    assert main(["run", "--horizon", "100", "--seeds", "2", "--families", "f2",
                 "--out", str(first_run)]) == 0
    assert "already done" not in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (["--horizon", "0"], "horizon"), (["--seeds", "0"], "seeds"),
    (["--families", "f1,f7"], "f7"), (["--feedback", "bt_x"], "bt_x")])
def test_bad_arguments_fail_cleanly(bad, message, capsys, tmp_path):
    assert main(["run", "--out", str(tmp_path)] + bad) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "summary.json").exists()
