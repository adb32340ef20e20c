"""Compiled programs are shared: the horizon, the number of rounds and the checkpoints are
arguments of the runner's program, and seed counts are padded up to a bucket (9 and 10 seeds
share one), so runs of horizons 100, 150 and 1000 with 9 or 10 seeds compile one program. Its
results are those of a fresh computation: seed i does not depend on the seed count, a short run
is the start of a long one, and one seed's rollout (another program) gives the same numbers."""
import importlib

import numpy as np
import jax

from jaxpa import make_feedback, make_learner, simulate
from tests.helpers import tiny_f1

sim = importlib.import_module("jaxpa.runner.simulate")
# A feedback model with an option no other test uses: its programs are this file's alone.
FB = make_feedback("scalar", noise_std=0.7)
LEARNER = make_learner("greedy", FB)
KEY = jax.random.key(13)
RUNS = [(100, 9), (150, 10), (1000, 9), (1000, 10), (150, 9)]


def _expected_size(before: int) -> int:
    """The cache after one new program: one more, unless the runner's bound on held programs
    (if it has one) dropped them all first."""
    bound = getattr(sim, "MAX_PROGRAMS", None)
    return 1 if bound is not None and before > bound else before + 1


def test_horizons_and_seed_counts_share_one_program():
    assert sim.seed_bucket(9) == sim.seed_bucket(10) == 10
    before = sim.compiled_program._cache_size()
    out = {}
    for i, (horizon, n_seeds) in enumerate(RUNS):
        out[horizon, n_seeds] = simulate(KEY, tiny_f1(), FB, LEARNER, horizon=horizon,
                                         n_seeds=n_seeds)
        if i == 0:
            after_first = sim.compiled_program._cache_size()
            assert after_first == _expected_size(before)
    assert sim.compiled_program._cache_size() == after_first  # nothing else compiled

    for horizon in (150, 1000):  # seed i of 9 seeds is seed i of 10 seeds, bit for bit
        nine, ten = out[horizon, 9], out[horizon, 10]
        assert nine.regret.shape[0] == 9 and ten.regret.shape[0] == 10
        np.testing.assert_array_equal(nine.regret, ten.regret[:9])
        np.testing.assert_array_equal(nine.mistakes, ten.mistakes[:9])
        np.testing.assert_array_equal(nine.checkpoints, ten.checkpoints)

    # a short run is the start of a long one (greedy does not read the horizon): compare at
    # the checkpoints the two share
    short, long_ = out[100, 9], out[1000, 9]
    common, i_s, i_l = np.intersect1d(short.checkpoints, long_.checkpoints, return_indices=True)
    assert len(common) >= 10 and common[-1] >= 50
    np.testing.assert_allclose(short.regret[:, i_s], long_.regret[:, i_l], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(short.mistakes[:, i_s], long_.mistakes[:, i_l])

    # a fresh computation, by another program (one seed's rollout, no vmap, no shared
    # checkpoints), agrees for a horizon the shared program was not first compiled for
    key = sim.seed_keys(KEY, 10)[7]
    _, rec = jax.jit(lambda k: sim.rollout(k, tiny_f1(), FB, LEARNER,
                                           LEARNER.default_hparams(), 150))(key)
    ck = out[150, 10].checkpoints - 1
    regret = np.asarray(rec.regret, np.float64)
    np.testing.assert_allclose(np.cumsum(regret)[ck], out[150, 10].regret[7], rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(np.cumsum(regret > 0)[ck], out[150, 10].mistakes[7])
    assert regret.sum() > 0
