"""Property-based tests of input validation: every well-formed instance is accepted, and every
instance with one field broken is rejected with a message naming that field."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jaxpa import InstanceError, validate
from jaxpa.envs.instance import validate_horizon
from tests.helpers import as_instance

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw):
    """Raw arrays of a valid instance with random sizes and probabilities."""
    M, K, d, N, k = (draw(st.integers(1, 3)), draw(st.integers(2, 4)), draw(st.integers(1, 3)),
                     draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))

    def probs(*shape):
        p = rng.random(shape) + 1e-3
        p[..., 0] *= draw(st.sampled_from([0.0, 1.0]))  # zero-probability entries are allowed
        p[..., -1] += 1e-3
        return (p / p.sum(-1, keepdims=True)).astype(np.float32)

    return dict(features=rng.normal(size=(M, K, d)).astype(np.float32),
                reference=rng.integers(0, K, M).astype(np.int32),
                heads=rng.normal(size=(N, k)).astype(np.float32),
                W=rng.normal(size=(k, d)).astype(np.float32),
                user_probs=probs(N), prompt_probs=probs(N, M),
                shared=rng.normal(size=d).astype(np.float32))


def _shape_break(a):
    return np.zeros(a.shape + (2,), a.dtype) if a.ndim < 3 else a[..., :1, :]


BREAKS = {
    "nan": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a).astype(a.dtype),
    "inf": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, -np.inf, a).astype(a.dtype),
    "shape": _shape_break,
}


@SETTINGS
@given(instances())
def test_well_formed_instances_are_accepted(args):
    validate(as_instance(args))


@SETTINGS
@given(instances(), st.sampled_from(["features", "heads", "W", "shared", "user_probs",
                                     "prompt_probs"]), st.sampled_from(sorted(BREAKS)))
def test_one_broken_float_field_is_named(args, field, how):
    args = dict(args)
    args[field] = BREAKS[how](args[field])
    with pytest.raises(InstanceError) as err:
        validate(as_instance(args))
    named = str(err.value).split(":")[0]
    # a broken shape can be reported on the field it disagrees with; NaN/inf on the field itself
    if how == "shape":
        assert named in ("features", "heads", "W", "reference", "user_probs", "prompt_probs",
                         "shared")
    else:
        assert named == field


@SETTINGS
@given(instances(), st.floats(0.05, 5.0).filter(lambda s: abs(s - 1) > 1e-2))
def test_probabilities_not_summing_to_one_are_named(args, scale):
    args = dict(args)
    field = "user_probs" if scale > 1 else "prompt_probs"
    args[field] = (args[field] * scale).astype(np.float32)
    with pytest.raises(InstanceError, match=f"^{field}: probabilities must sum to 1"):
        validate(as_instance(args))


@SETTINGS
@given(instances(), st.integers(-3, 3).filter(lambda i: i != 0))
def test_reference_out_of_range_is_named(args, offset):
    args = dict(args)
    K = args["features"].shape[1]
    args["reference"] = args["reference"].copy()
    args["reference"][0] = K - 1 + offset if offset > 0 else offset
    with pytest.raises(InstanceError, match="^reference"):
        validate(as_instance(args))


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=2**31 - 1),
                 st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans()))
def test_horizon_must_be_a_positive_int32(horizon):
    with pytest.raises(InstanceError, match="horizon"):
        validate_horizon(horizon)


@given(st.integers(1, 2**31 - 2))
def test_every_positive_int32_horizon_is_accepted(horizon):
    assert validate_horizon(horizon) == horizon
    assert validate_horizon(np.int64(horizon)) == horizon


@SETTINGS
@given(instances(), st.sampled_from(["features", "heads", "W", "shared", "user_probs",
                                     "prompt_probs"]))
def test_one_field_in_another_precision_is_rejected(args, field):
    """Every floating field must share one dtype: one float64 field among float32 ones is named
    as mixed precision (validate reads dtypes on the host, so no x64 mode is needed)."""
    import jax.numpy as jnp
    from jaxpa import Instance
    inst = Instance(**{k: (np.asarray(v, np.float64) if k == field else jnp.asarray(v))
                       for k, v in args.items()})
    with pytest.raises(InstanceError, match="mixed precision"):
        validate(inst)
