"""Bad input is rejected with a clear error, naming the field, before anything compiles."""
import importlib

import numpy as np
import pytest
import jax

from jaxpa import InstanceError, make_learner, validate
from jaxpa.envs.instance import validate_horizon
from tests.helpers import as_instance, hand_instance

GOOD = hand_instance()


def test_good_instance_passes():
    validate(as_instance(GOOD))


@pytest.mark.parametrize("field, value, message", [
    ("features", np.zeros((2, 3), np.float32), "features"),
    ("heads", np.zeros((3, 2), np.float32), "user_probs"),  # N disagrees with user_probs
    ("W", np.zeros((2, 5), np.float32), "W"),
    ("reference", np.zeros(3, np.int32), "reference"),
    ("prompt_probs", np.full((2, 3), 1 / 3, np.float32), "prompt_probs"),
    ("shared", np.zeros(3, np.float32), "shared"),
    ("features", np.full((2, 1, 2), 1.0, np.float32), "K >= 2"),
    ("heads", np.array([[np.inf, 0], [0, 1]], np.float32), "heads: contains NaN or inf"),
    ("W", np.array([[np.nan, 0], [0, 1]], np.float32), "W: contains NaN or inf"),
    ("user_probs", np.array([0.5, 0.6], np.float32), "user_probs: probabilities must sum to 1"),
    ("user_probs", np.array([1.5, -0.5], np.float32), "non-negative"),
    ("prompt_probs", np.array([[0.5, 0.5], [0.9, 0.3]], np.float32), "prompt_probs"),
    ("reference", np.array([0, 3], np.int32), "reference: indices must lie in [0, 3)"),
    ("reference", np.array([-1, 0], np.int32), "reference"),
    ("reference", np.array([0.0, 1.0], np.float32), "reference: expected integer"),
])
def test_bad_instance_rejected(field, value, message):
    with pytest.raises(InstanceError, match=message.replace("[", r"\[").replace(")", r"\)")):
        validate(as_instance(hand_instance(**{field: value})))


def test_nan_features_rejected():
    f = GOOD["features"].copy()
    f[1, 2, 0] = np.nan
    with pytest.raises(InstanceError, match="features: contains NaN"):
        validate(as_instance(hand_instance(features=f)))


@pytest.mark.parametrize("horizon", [0, -5, 2.5, "10", True, None])
def test_bad_horizon_rejected(horizon):
    with pytest.raises(InstanceError, match="horizon"):
        validate_horizon(horizon)


def test_simulate_rejects_before_compiling(monkeypatch):
    """simulate validates everything before tracing: the compiled program is never reached."""
    sim = importlib.import_module("jaxpa.runner.simulate")  # the module, not the function

    def boom(*a, **k):
        raise AssertionError("compiled before validating")

    monkeypatch.setattr(sim, "compiled_program", boom)
    learner = make_learner("greedy", "bt_ref")
    inst = as_instance(GOOD)
    key = jax.random.key(0)
    with pytest.raises(InstanceError, match="horizon"):
        sim.simulate(key, inst, learner, horizon=0)
    with pytest.raises(InstanceError, match="n_seeds"):
        sim.simulate(key, inst, learner, horizon=5, n_seeds=0)
    with pytest.raises(InstanceError, match="user_probs"):
        sim.simulate(key, as_instance(hand_instance(user_probs=np.array([0.2, 0.2], np.float32))),
                     learner, horizon=5)
    with pytest.raises(InstanceError, match="hparams"):
        sim.simulate(key, inst, learner, {"ridge": 1.0}, horizon=5)
    with pytest.raises(InstanceError, match="learner"):
        sim.simulate(key, inst, "greedy", horizon=5)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="unknown learner 'gredy'.*greedy"):
        make_learner("gredy", "bt_ref")
    with pytest.raises(KeyError, match="unknown feedback model 'bt'.*bt_ref"):
        make_learner("greedy", "bt")
    from jaxpa import make_family
    with pytest.raises(KeyError, match="unknown family 'f9'.*f1"):
        make_family("f9", jax.random.key(0))


def test_create_fills_defaults_and_dtypes():
    from jaxpa import Instance
    inst = Instance.create(GOOD["features"], GOOD["reference"], GOOD["heads"], GOOD["W"])
    validate(inst)
    assert inst.reference.dtype == np.int32 and inst.features.dtype == np.float32
    np.testing.assert_allclose(inst.prompt_probs.sum(-1), 1.0)
