"""Bad input is rejected with a clear error, naming the field, before anything compiles."""
import importlib

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import (Instance, InstanceError, make_family, make_feedback, make_learner, set_hparams,
                   validate)
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
    ("W", np.zeros((2, 2), np.int32), "W: dtype int32 is not supported"),
])
def test_bad_instance_rejected(field, value, message):
    with pytest.raises(InstanceError, match=message.replace("[", r"\[").replace(")", r"\)")):
        validate(as_instance(hand_instance(**{field: value})))


def test_nan_features_rejected():
    f = GOOD["features"].copy()
    f[1, 2, 0] = np.nan
    with pytest.raises(InstanceError, match="features: contains NaN"):
        validate(as_instance(hand_instance(features=f)))


def test_mixed_precision_rejected():
    """float32 features with a float64 W (an instance edited by hand in x64 mode) would silently
    run in mixed precision: rejected, naming the dtypes."""
    jax.config.update("jax_enable_x64", True)
    try:
        inst = as_instance(GOOD).replace(W=jnp.asarray(GOOD["W"], jnp.float64))
        assert inst.W.dtype == jnp.float64
        with pytest.raises(InstanceError, match="mixed precision.*float64.*float32|mixed "
                                                "precision.*float32.*float64"):
            validate(inst)
        validate(Instance.create(**{k: GOOD[k] for k in ("features", "reference", "heads", "W")},
                                 dtype=jnp.float64))  # one dtype throughout: fine
    finally:
        jax.config.update("jax_enable_x64", False)


def test_bfloat16_rejected_with_a_clear_message():
    inst = Instance.create(GOOD["features"], GOOD["reference"], GOOD["heads"], GOOD["W"],
                           dtype=jnp.bfloat16)
    with pytest.raises(InstanceError, match="bfloat16 is not supported; use float32 or float64"):
        validate(inst)


@pytest.mark.parametrize("horizon", [0, -5, 2.5, "10", True, None, 2**31 - 1])
def test_bad_horizon_rejected(horizon):
    with pytest.raises(InstanceError, match="horizon"):
        validate_horizon(horizon)


def test_simulate_rejects_before_compiling(monkeypatch):
    """simulate validates everything before tracing: the compiled program is never reached
    (more cases: tests/runner/test_runner_checks.py)."""
    sim = importlib.import_module("jaxpa.runner.simulate")  # the module, not the function

    def boom(*a, **k):
        raise AssertionError("compiled before validating")

    monkeypatch.setattr(sim, "compiled_program", boom)
    learner = make_learner("greedy", "bt_ref")
    inst = as_instance(GOOD)
    key = jax.random.key(0)
    with pytest.raises(InstanceError, match="horizon"):
        sim.simulate(key, inst, "bt_ref", learner, horizon=0)
    with pytest.raises(InstanceError, match="n_seeds"):
        sim.simulate(key, inst, "bt_ref", learner, horizon=5, n_seeds=0)
    with pytest.raises(InstanceError, match="user_probs"):
        sim.simulate(key, as_instance(hand_instance(user_probs=np.array([0.2, 0.2], np.float32))),
                     "bt_ref", learner, horizon=5)
    with pytest.raises(InstanceError, match="hparams"):
        sim.simulate(key, inst, "bt_ref", learner, {"ridge": 1.0}, horizon=5)
    with pytest.raises(InstanceError, match="learner"):
        sim.simulate(key, inst, "bt_ref", "greedy", horizon=5)
    with pytest.raises(ValueError, match="unknown feedback model 'bt'"):
        sim.simulate(key, inst, "bt", learner, horizon=5)
    wide = make_feedback("mnl", slate_size=4)  # K = 3 candidates cannot fill a slate of 4
    with pytest.raises(ValueError, match="slate_size 4 exceeds the K = 3"):
        sim.simulate(key, inst, wide, make_learner("greedy", wide), horizon=5)


def _raw(hp, **values):
    """hp with leaves replaced by name, unchecked (what a hand-built pytree can hold)."""
    import dataclasses
    updates = {}
    for f in dataclasses.fields(hp):
        value = getattr(hp, f.name)
        if dataclasses.is_dataclass(value):
            updates[f.name] = _raw(value, **values)
        elif f.name in values:
            updates[f.name] = values[f.name]
    return hp.replace(**updates)


@pytest.mark.parametrize("values, message", [
    (dict(ridge=0.0), "ridge.*0.0 < x"),
    (dict(ridge=-1.0), "ridge"),
    (dict(ridge=float("nan")), "ridge: must be finite"),
    (dict(warm_start=2.5), "warm_start.*non-integer"),
    (dict(warm_start=-1), "warm_start"),
    (dict(warm_start=True), "warm_start.*boolean"),
    (dict(warm_start=2**40), "warm_start.*int32"),
    (dict(ridge=np.ones((2, 2))), "ridge.*1-D sweep"),
    (dict(ridge=jnp.array([1.0, 2.0]), warm_start=jnp.array([0, 1, 2])), "sweep lengths differ"),
    (dict(ridge="1.0"), "ridge"),
])
def test_hyperparameters_checked_against_their_ranges(values, message):
    """By the runner's check (a hand-built pytree) and, leaf by leaf, by set_hparams."""
    from jaxpa.learners import check_hparams
    learner = make_learner("greedy", "bt_ref")
    default = learner.default_hparams()
    with pytest.raises(InstanceError, match=message):
        check_hparams(learner.name, default, _raw(default, **values), horizon=10**6)
    if len(values) == 1:  # each value alone is out of range
        with pytest.raises(InstanceError, match="set_hparams: " + message):
            set_hparams(default, **values)


def test_set_hparams_names_unknown_leaves():
    hp = make_learner("eps_greedy", "bt_ref").default_hparams()
    assert float(set_hparams(hp, epsilon=0.2, ridge=3.0).inner.ridge) == 3.0
    with pytest.raises(InstanceError, match="unknown hyperparameters \\['rige'\\].*ridge"):
        set_hparams(hp, rige=1.0)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(InstanceError, match="unknown learner 'gredy'.*greedy"):
        make_learner("gredy", "bt_ref")
    with pytest.raises(ValueError, match="unknown feedback model 'bt'.*bt_ref"):
        make_learner("greedy", "bt")
    with pytest.raises(InstanceError, match="unknown family 'f9'.*f1"):
        make_family("f9", jax.random.key(0))


def test_create_fills_defaults_and_dtypes():
    inst = Instance.create(GOOD["features"], GOOD["reference"], GOOD["heads"], GOOD["W"])
    validate(inst)
    assert inst.reference.dtype == np.int32 and inst.features.dtype == np.float32
    np.testing.assert_allclose(inst.prompt_probs.sum(-1), 1.0)
    np.testing.assert_allclose(inst.user_probs.sum(-1), 1.0)
    assert np.all(inst.shared == 0)
