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
