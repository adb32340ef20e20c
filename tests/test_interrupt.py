"""A run killed midway keeps its finished parts intact, says nothing false, and a rerun resumes:
it loads the finished parts and computes only the missing ones."""
import os
import signal
import subprocess
import sys
import time

import numpy as np


def _cmd(out):
    return [sys.executable, "-m", "jaxpa", "run", "--horizon", "400", "--seeds", "4",
            "--warm-start", "20", "--out", str(out)]


def test_kill_midway_then_resume(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen(_cmd(out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parts = out / "parts"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(parts.glob("*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted(parts.glob("*.npz"))
    assert 2 <= len(finished) < 8, "the run should have been killed midway"
    assert not (out / "summary.json").exists()
    saved = {p.name: p.read_bytes() for p in finished}
    for p in finished:  # every file that exists is complete
        with np.load(p) as data:
            assert data["regret"].shape[0] == 4

    rerun = subprocess.run(_cmd(out), env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("already done") >= len(finished)
    assert len(list(parts.glob("*.npz"))) == 8 and (out / "summary.json").exists()
    for name, content in saved.items():  # finished parts were not recomputed or rewritten
        assert (parts / name).read_bytes() == content
