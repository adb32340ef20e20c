"""The health flag: ``Curves.nonfinite_at`` is, per run, the first round (1-based) after which
the learner's state held a NaN or an infinity, and 0 for a healthy run. A learner that corrupts
its state at a known round (tests/helpers.py: faulty_learner, one bad round drawn per seed from
its init key) gets exactly that round, per seed, under vmap, sweeps, instance batches and
chunking; the flag keeps the first bad round even after the state is finite again."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_learner, set_hparams, simulate
from tests.helpers import FAULT_SPAN, expected_fault_rounds, faulty_learner, stack, tiny_f1

T, S = 40, 9  # 9 seeds: padded to a bucket of 10, the padding dropped
KEY = jax.random.key(21)
LEARNER = faulty_learner("bt_ref")


@pytest.fixture(scope="module")
def plain():
    return simulate(KEY, tiny_f1(), "bt_ref", LEARNER, horizon=T, n_seeds=S)


def test_fault_round_is_reported_exactly_per_seed(plain):
    expected = expected_fault_rounds(KEY, S, T)
    assert np.any(expected > 0) and np.any(expected == 0)  # both kinds of seed occur
    np.testing.assert_array_equal(plain.nonfinite_at, expected)
    np.testing.assert_array_equal(plain.healthy, expected == 0)
    assert plain.nonfinite_at.dtype == np.int32
    # the run goes on after the fault: curves finite and monotone to the end
    assert np.all(np.isfinite(plain.regret)) and np.all(np.diff(plain.regret, axis=-1) >= 0)


def test_fault_round_survives_chunking(plain):
    chunked = simulate(KEY, tiny_f1(), "bt_ref", LEARNER, horizon=T, n_seeds=S, chunk=7)
    np.testing.assert_array_equal(chunked.nonfinite_at, plain.nonfinite_at)


def test_fault_round_per_run_in_batches_and_sweeps():
    """[instances, hparams, seeds]: the shift moves the fault, the kind (NaN, +inf, -inf) does
    not matter, the instance does not matter."""
    hp = set_hparams(LEARNER.default_hparams(), shift=jnp.array([0, 7, 3]),
                     kind=jnp.array([0, 1, 2]))
    inst = stack(tiny_f1(), tiny_f1().replace(W=-tiny_f1().W))
    c = simulate(KEY, inst, "bt_ref", LEARNER, hp, horizon=T, n_seeds=S)
    assert c.nonfinite_at.shape == (2, 3, S)
    for j, shift in enumerate((0, 7, 3)):
        expected = expected_fault_rounds(KEY, S, T, shift)
        for i in range(2):
            np.testing.assert_array_equal(c.nonfinite_at[i, j], expected)
    assert len(np.unique(c.nonfinite_at)) > 3


def test_healthy_learners_read_zero():
    for name in ("greedy", "oracle"):
        c = simulate(KEY, tiny_f1(), "bt_ref", make_learner(name, "bt_ref"), horizon=T, n_seeds=2)
        np.testing.assert_array_equal(c.nonfinite_at, 0)
        assert c.healthy.all()


def test_fault_span_reaches_beyond_the_horizon():
    """A sanity check of the helper itself: some seeds' fault comes after the last round."""
    assert FAULT_SPAN > T
