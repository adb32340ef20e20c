"""Bad run arguments are rejected with an InstanceError that names them, before anything is
traced or compiled: horizon 0, n_seeds 0, chunk 0, horizons beyond the int32 round counter,
an integer or a batch for the key, a learner built for another feedback model. The same checks
guard the sharded runner."""
import importlib

import numpy as np
import pytest
import jax

from jaxpa import InstanceError, make_feedback, make_learner
from jaxpa.runner import sharding
from tests.helpers import as_instance, hand_instance

sim = importlib.import_module("jaxpa.runner.simulate")
INST = as_instance(hand_instance())
KEY = jax.random.key(0)
GREEDY = make_learner("greedy", "bt_ref")


@pytest.fixture
def no_compiling(monkeypatch):
    """Fail the test if the compiled program, or tracing of any kind, is reached."""
    def boom(*a, **k):
        raise AssertionError("reached the compiled program before rejecting the arguments")

    monkeypatch.setattr(sim, "compiled_program", boom)
    monkeypatch.setattr(sim, "seed_keys", boom)


BAD = [
    ("horizon=0", dict(horizon=0), "horizon"),
    ("horizon<0", dict(horizon=-3), "horizon"),
    ("horizon float", dict(horizon=10.0), "horizon"),
    ("horizon=2^31-1", dict(horizon=2**31 - 1), "horizon.*int32"),
    ("horizon=2^31", dict(horizon=2**31), "horizon.*int32"),
    ("horizon=2^40 numpy", dict(horizon=np.int64(2**40)), "horizon.*int32"),
    ("n_seeds=0", dict(n_seeds=0), "n_seeds"),
    ("n_seeds<0", dict(n_seeds=-2), "n_seeds"),
    ("n_seeds float", dict(n_seeds=2.0), "n_seeds"),
    ("n_seeds bool", dict(n_seeds=True), "n_seeds"),
    ("chunk=0", dict(chunk=0), "chunk"),
    ("chunk<0", dict(chunk=-10), "chunk"),
    ("chunk float", dict(chunk=2.5), "chunk"),
    ("chunk=2^31", dict(chunk=2**31), "chunk"),
    ("key=0", dict(key=0), "key"),
    ("key=None", dict(key=None), "key"),
    ("key str", dict(key="0"), "key"),
    ("key float array", dict(key=np.zeros(2, np.float32)), "key"),
    ("batch of keys", dict(key=jax.random.split(jax.random.key(0), 3)), "key.*batch"),
    ("batch of raw keys", dict(key=jax.random.split(jax.random.PRNGKey(0), 3)), "key"),
    ("learner for bt_duel", dict(learner=make_learner("greedy", "bt_duel")), "bt_duel.*bt_ref"),
    ("learner for scalar", dict(learner=make_learner("ucb", "scalar")), "scalar.*bt_ref"),
    ("learner with other options", dict(feedback=make_feedback("bt_duel", second="reference"),
                                        learner=make_learner("greedy", "bt_duel")),
     "bt_duel.*bt_duel\\[second=reference\\]"),
    ("learner name", dict(learner="greedy"), "learner"),
    ("bad hparams", dict(hparams={"ridge": 1.0}), "hparams"),
    ("ridge out of range", dict(hparams=GREEDY.default_hparams().replace(
        inner=GREEDY.default_hparams().inner.replace(ridge=np.float32(0.0)))), "ridge"),
    ("warm start beyond horizon", dict(hparams=GREEDY.default_hparams().replace(
        warm_start=np.int32(50))), "warm_start.*horizon"),
    ("bad instance", dict(instance=as_instance(hand_instance(
        user_probs=np.array([0.2, 0.2], np.float32)))), "user_probs"),
]


def _call(fn, **overrides):
    args = dict(key=KEY, instance=INST, feedback="bt_ref", learner=GREEDY, hparams=None,
                horizon=20, n_seeds=2)
    args.update(overrides)
    pos = [args.pop(n) for n in ("key", "instance", "feedback", "learner", "hparams")]
    return fn(*pos, **args)


@pytest.mark.parametrize("label, overrides, message", BAD, ids=[b[0] for b in BAD])
def test_simulate_rejects_before_compiling(no_compiling, label, overrides, message):
    with pytest.raises(InstanceError, match=message):
        _call(sim.simulate, **overrides)


@pytest.mark.parametrize("label, overrides, message", BAD, ids=[b[0] for b in BAD])
def test_sharded_simulate_rejects_before_compiling(no_compiling, label, overrides, message):
    with pytest.raises(InstanceError, match=message):
        _call(sharding.simulate_sharded, **overrides)


def test_the_largest_horizon_is_accepted(no_compiling):
    """2^31 - 2 rounds pass the checks (and reach the program, stubbed out here)."""
    with pytest.raises(AssertionError, match="reached the compiled program"):
        _call(sim.simulate, horizon=2**31 - 2, learner=make_learner("uniform", "bt_ref"))


def test_sharded_options_checked(no_compiling):
    with pytest.raises(InstanceError, match="over"):
        _call(sharding.simulate_sharded, over="users")
    with pytest.raises(InstanceError, match="batch of instances"):
        _call(sharding.simulate_sharded, over="instances")
