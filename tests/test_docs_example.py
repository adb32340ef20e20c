"""The example of docs/extending.md runs, agrees with examples/custom_learner.py, gives finite
curves of the right shapes, and its Flax learner beats uniform play by a clear margin."""
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- example: examples/custom_learner.py -->"


def example_code() -> str:
    """The fenced python block right after the marker in docs/extending.md."""
    doc = (ROOT / "docs" / "extending.md").read_text()
    assert doc.count(MARKER) == 1
    match = re.match(r"\s*```python\n(.*?)\n```", doc.split(MARKER, 1)[1], re.S)
    assert match, "no python block after the example marker"
    return match.group(1)


def test_docs_example_runs_and_beats_uniform(capsys):
    code = example_code()
    assert code in (ROOT / "examples" / "custom_learner.py").read_text(), \
        "examples/custom_learner.py differs from the docs"
    ns = {"__name__": "docs_example"}
    exec(compile(code, "docs/extending.md", "exec"), ns)
    curves, baseline, sweep = ns["curves"], ns["baseline"], ns["sweep"]
    C = curves.checkpoints.shape[0]
    assert curves.regret.shape == baseline.regret.shape == (16, C)
    assert sweep.regret.shape == (4, 16, C)
    for c in (curves, baseline, sweep):
        assert np.all(np.isfinite(np.asarray(c.regret)))
        assert np.all(np.diff(np.asarray(c.regret), axis=-1) >= -1e-4)  # cumulative
    ours, uniform = float(curves.regret[:, -1].mean()), float(baseline.regret[:, -1].mean())
    assert ours < 0.5 * uniform
    assert "flax learner" in capsys.readouterr().out
