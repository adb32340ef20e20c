"""The sequential rule that stops the bootstrap early (jaxpa.audit.sequential): its verdict is the
full bootstrap's in all but a small fraction of runs, on simulated replicate outcomes of known
hold probability, and it saves replicates where the verdict is clear."""
import numpy as np
import pytest

from jaxpa.audit.bootstrap import ud_verdict
from jaxpa.audit.sequential import DELTA, decided, looks


def run(holds_res, holds_raw, n, level):
    for m in looks(n):
        v = decided(int(holds_res[:m].sum()), int(holds_raw[:m].sum()), m, n, level)
        if v is not None:
            return v, m
    return ud_verdict(holds_res.mean(), holds_raw.mean(), level), n


@pytest.mark.parametrize("p", [1.0, 0.97, 0.95, 0.92, 0.6, 0.05, 0.03, 0.0])
def test_early_verdict_agrees_with_the_full_bootstrap(p):
    rng = np.random.default_rng(int(p * 100))
    n, level, runs = 100, 0.95, 100
    wrong, used = 0, []
    for _ in range(runs):
        res = rng.uniform(size=n) < p
        raw = rng.uniform(size=n) < min(1.0, p + 0.02)
        v, m = run(res, raw, n, level)
        wrong += v != ud_verdict(res.mean(), raw.mean(), level)
        used.append(m)
    # at most DELTA per decision in expectation: allow sampling noise over 100 runs
    assert wrong / runs <= 3 * DELTA
    if p in (1.0, 0.6, 0.0):  # clear cases stop early
        assert np.mean(used) < 0.85 * n


def test_rule_reaches_every_verdict_and_waits_when_unclear():
    assert decided(50, 50, 50, 100, 0.95) == "holds"
    assert decided(0, 0, 50, 100, 0.95) == "fails"
    assert decided(12, 13, 25, 100, 0.95) == "undetermined"
    assert decided(24, 25, 25, 100, 0.95) is None  # one failure in 25: not yet decided
    assert looks(100) == [25, 50, 100] and looks(20) == [20]
