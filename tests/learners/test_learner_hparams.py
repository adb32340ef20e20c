"""Hyperparameters are checked against their declared ranges on the host, before anything is
traced or compiled: every malformed value is a clear InstanceError naming the hyperparameter (no
OverflowError, no silent truncation or wrap-around when a value is cast to the learner's dtype),
and valid values arrive exactly."""

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import InstanceError, make_learner, set_hparams, simulate
from jaxpa.learners import flat_hparams
from jaxpa.learners.hparams import check_hparams, replace_leaves
from jaxpa.runner.simulate import compiled_program
from tests.helpers import contract_instance

HORIZON = 50


class Traced(Exception):
    """Raised by the tripwire learner when the runner starts tracing it."""


def tripwire(name: str):
    """The registry learner ``name`` whose init, act and update raise when traced: a run that
    reaches tracing fails with ``Traced``, so an InstanceError proves the check came first."""
    learner = make_learner(name, "bt_ref")

    def trip(*args):
        raise Traced(name)

    return learner._replace(init=trip, act=trip, update=trip)


# (learner, hyperparameters, what the message must say, whether set_hparams can tell: the
# horizon and the other leaves of a sweep are known to the run only)
BAD = [
    ("greedy", dict(ridge=0.0), r"ridge: expected a finite number 0\.0 < x", True),
    ("greedy", dict(ridge=-1.0), r"ridge: expected .*got -1\.0", True),
    ("eps_greedy", dict(epsilon=1.5), r"epsilon: expected .*x <= 1\.0, got 1\.5", True),
    ("greedy", dict(warm_start=2.7), r"warm_start: expected an integer .*non-integer 2\.7", True),
    ("greedy", dict(warm_start=np.int64(10**12)), r"warm_start: .*1000000000000.*int32", True),
    ("greedy", dict(warm_start=2**31), r"warm_start: 2147483648 does not fit the int32", True),
    ("greedy", dict(warm_start=-1), r"warm_start: expected an integer 0 <= x", True),
    ("greedy", dict(ridge=float("nan")), r"ridge: must be finite", True),
    ("ucb", dict(alpha=np.array([1.0, np.inf])), r"alpha: must be finite", True),
    ("greedy", dict(warm_start=float("nan")), r"warm_start: must be finite", True),
    ("greedy", dict(ridge=True), r"ridge: expected a number, got a boolean", True),
    ("greedy", dict(warm_start=np.array([True, False])), r"warm_start: .*boolean", True),
    ("greedy", dict(ridge=np.ones((2, 2))), r"ridge: expected a scalar or a 1-D sweep, got "
                                           r"shape \(2, 2\)", True),
    ("greedy", dict(ridge="1.0"), r"ridge: expected numbers", True),
    ("greedy", dict(ridge=np.zeros(0)), r"ridge: an empty sweep", True),
    # positive / finite in float64, but 0 / inf once cast to the learner's float32
    ("greedy", dict(ridge=1e-50), r"ridge: 1e-50 becomes 0\.0 in float32", True),
    ("ucb", dict(alpha=1e39), r"alpha: 1e\+39 becomes inf in float32", True),
    ("ts", dict(scale=np.array([1.0, 1e300])), r"scale: .*becomes .*inf.* in float32", True),
    ("greedy", dict(warm_start=HORIZON + 1), rf"warm_start: .*exceeds the horizon of {HORIZON}",
     False),
    ("greedy", dict(warm_start=np.array([0, HORIZON + 5])), r"warm_start: .*exceeds the horizon",
     False),
    ("greedy", dict(ridge=np.array([1.0, 2.0]), warm_start=np.array([0, 1, 2])),
     r"sweep lengths differ: .*inner\.ridge has 2.*warm_start has 3", False),
]


@pytest.mark.parametrize("name,values,message,at_set", BAD,
                         ids=[f"{n}-{'-'.join(v)}-{i}" for i, (n, v, _, _) in enumerate(BAD)])
def test_bad_hyperparameters_are_rejected_before_compiling(name, values, message, at_set):
    learner = tripwire(name)
    hp = replace_leaves(learner.default_hparams(), values)  # unchecked, as if built by hand
    n_programs = compiled_program._cache_size()
    with pytest.raises(InstanceError, match=message) as err:
        simulate(jax.random.key(0), contract_instance(), "bt_ref", learner, hp, horizon=HORIZON,
                 n_seeds=2)
    assert learner.name in str(err.value)
    assert compiled_program._cache_size() == n_programs
    with pytest.raises(InstanceError, match=message):  # the checker itself, as other callers use it
        check_hparams(learner.name, learner.default_hparams(), hp, HORIZON)
    if at_set:  # set_hparams checks each value as it is set
        with pytest.raises(InstanceError, match=message):
            set_hparams(learner.default_hparams(), **values)
    else:
        set_hparams(learner.default_hparams(), **values)


def test_the_tripwire_fires_once_the_checks_pass():
    """The check above is not vacuous: valid values reach tracing (and trip the wire)."""
    learner = tripwire("greedy")
    with pytest.raises(Traced):
        simulate(jax.random.key(0), contract_instance(), "bt_ref", learner,
                 set_hparams(learner.default_hparams(), warm_start=HORIZON), horizon=HORIZON)


def test_valid_values_arrive_exactly():
    learner = make_learner("eps_greedy", "bt_ref")
    default = learner.default_hparams()
    hp, n = check_hparams(learner.name, default, set_hparams(
        default, epsilon=1.0, epsilon_c=np.float64(2.5), ridge=np.array([1e-3, 7.0])), HORIZON)
    assert n == 2
    flat = flat_hparams(hp)
    assert flat["epsilon"].dtype == np.float32 and flat["epsilon"].shape == (2,)
    np.testing.assert_array_equal(flat["epsilon"], [1.0, 1.0])  # scalars broadcast along a sweep
    np.testing.assert_array_equal(flat["ridge"], np.array([1e-3, 7.0], np.float32))
    greedy = make_learner("greedy", "bt_ref")
    for value, horizon in ((np.int64(HORIZON), HORIZON), (5.0, HORIZON), (2**31 - 1, None)):
        hp, n = check_hparams(greedy.name, greedy.default_hparams(),
                              set_hparams(greedy.default_hparams(), warm_start=value), horizon)
        assert n is None and hp.warm_start.dtype == jnp.int32
        assert int(hp.warm_start) == int(value)  # no truncation, no wrap-around


def test_structure_and_names_are_checked():
    greedy = make_learner("greedy", "bt_ref")
    with pytest.raises(InstanceError, match="unknown hyperparameters \\['ridg'\\]; known: "
                                            "\\['ridge', 'warm_start', 'warm_start_c'\\]"):
        set_hparams(greedy.default_hparams(), ridg=1.0)
    with pytest.raises(InstanceError, match="expected the structure of WarmStartHParams"):
        simulate(jax.random.key(0), contract_instance(), "bt_ref", greedy,
                 greedy.default_hparams().inner, horizon=HORIZON)
