"""``jaxpa run --check`` prints each population's memory estimate, and a size that cannot fit is
refused there, and by ``jaxpa run`` itself, with one line and status 2 (runner/memory.py)."""
from jaxpa.cli.main import main


def test_check_prints_the_estimate(capsys, tmp_path):
    assert main(["run", "default", "--size", "tiny", "--check", "--out", str(tmp_path / "o")]) == 0
    lines = [s for s in capsys.readouterr().out.splitlines() if "memory:" in s]
    assert len(lines) == 2 and all("GiB" in s for s in lines)  # one per population


def test_huge_seeds_refused_in_one_line(capsys, tmp_path):
    for extra in (["--check"], []):
        code = main(["run", "default", "--size", "tiny", "--seeds", "100000000",
                     "--out", str(tmp_path / "o")] + extra)
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and "seeds would fit" in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "o" / "summary.json").exists()


def test_huge_draws_refused_by_check_without_drawing_them(capsys, tmp_path):
    code = main(["run", "default", "--size", "tiny", "--draws", "100000000", "--check",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "GiB" in err, err


def test_huge_draws_of_a_host_population_refused_after_one_build(tmp_path):
    """A host-built population (a real panel's calibration per draw) is estimated from one draw
    and refused before the other draws are built."""
    import pytest
    from jaxpa.envs.families import make_family
    from jaxpa.envs.instance import InstanceError
    from jaxpa.experiment import Experiment, LearnerGrid, Population, Size, run

    built = []

    def build(key):
        built.append(1)
        return make_family("f2", key)

    exp = Experiment(name="host_huge", title="t", feedback="bt_ref",
                     populations=[Population("p", build=build, host=True, draws=10_000_000)],
                     learners=[LearnerGrid("greedy", "greedy")],
                     sizes={"tiny": Size(horizon=50, seeds=64)})
    with pytest.raises(InstanceError, match="seeds would fit|not even one seed"):
        run(exp, "tiny", out=tmp_path / "o", quiet=True, log=lambda m: None)
    assert len(built) == 1
