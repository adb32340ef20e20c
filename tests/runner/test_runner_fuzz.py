"""Fuzzing the entry points with bad arguments of every kind (wrong types, shapes, dtypes, NaN,
negative, zero and huge integers): ``simulate``, ``Instance.create`` and ``make_family`` either
raise InstanceError (a ValueError) naming the problem, or return finite results, never another
exception. Valid draws reuse a handful of compiled programs (a hand instance, the uniform
learner, 2 seeds), so the examples cost little. Sizes that are valid but huge (a billion users)
are left out: they are legal requests that exhaust memory, not bad arguments."""
import warnings

import numpy as np
import pytest
import jax
import jax.numpy as jnp
from hypothesis import HealthCheck, example, given, settings, strategies as st
from hypothesis.extra import numpy as npst

from jaxpa import Instance, InstanceError, make_family, make_learner, simulate, validate
from jaxpa.envs.families import FAMILIES
from tests.helpers import as_instance, hand_instance

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

# ---- junk ---------------------------------------------------------------------------------------

HUGE = st.one_of(st.integers(2**31, 2**64), st.just(2**31))  # beyond every int32 counter
NOT_POSITIVE = st.integers(-2**64, 0)
ARRAYS = npst.arrays(
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64,
                           np.uint32, np.bool_, np.complex64]),
    shape=npst.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3))
JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.binary(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True), st.complex_numbers(max_magnitude=10),
    st.lists(st.integers(-3, 3), max_size=3), st.tuples(st.floats(), st.integers()),
    st.just(object()), st.just({"a": 1}), ARRAYS,
    st.just(jnp.zeros((2,), jnp.bfloat16)), st.just(np.array([np.nan, 1.0])),
    NOT_POSITIVE, HUGE)


def _ok(result) -> bool:
    """Every floating leaf of the result finite."""
    leaves = [np.asarray(x) for x in jax.tree.leaves(result)]
    return all(np.all(np.isfinite(x)) for x in leaves if np.issubdtype(x.dtype, np.floating))


def _call(fn, *args, **kwargs):
    """fn's result, or None when it raised InstanceError / ValueError (any other exception
    propagates and fails the test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except ValueError as err:  # InstanceError is a ValueError
        assert str(err), "an error without a message"
        return None


# ---- simulate -----------------------------------------------------------------------------------

INST = Instance.create(**{k: v for k, v in hand_instance().items()})
UNIFORM = make_learner("uniform", "bt_ref")
GOOD = dict(key=jax.random.key(0), instance=INST, feedback="bt_ref", learner=UNIFORM,
            hparams=None, horizon=12, n_seeds=2)

BAD_INSTANCES = st.builds(
    lambda field, value: as_instance(hand_instance()).replace(**{field: value}),
    st.sampled_from(["features", "reference", "heads", "W", "user_probs", "prompt_probs",
                     "shared"]), JUNK)
SIM_ARGS = {
    "key": st.one_of(JUNK, npst.arrays(np.uint32, st.sampled_from([(2,), (3,), (2, 2), ()])),
                     st.just(jax.random.split(jax.random.key(0), 2))),
    "instance": st.one_of(JUNK, BAD_INSTANCES),
    "feedback": st.one_of(JUNK, st.sampled_from(["scalar", "bt_duel", "mnl", "BT_REF", ""])),
    "learner": st.one_of(JUNK, st.sampled_from([make_learner("uniform", "scalar"),
                                                make_learner("greedy", "bt_duel"), "uniform"])),
    "hparams": st.one_of(JUNK, st.just(make_learner("greedy", "bt_ref").default_hparams())),
    "horizon": st.one_of(JUNK, st.integers(1, 40), st.just(2**31 - 1)),
    "n_seeds": st.one_of(JUNK, st.just(2), st.just(2**31 - 1)),  # the last: run as 2^31
    "chunk": st.one_of(JUNK, st.integers(1, 40), st.just(2**31 - 1)),
    "n_checkpoints": st.one_of(JUNK, st.integers(100_001, 2**64), st.just(50)),
    "on_chunk": JUNK,
    "track_cells": st.one_of(JUNK, st.just(False)),
}


@SETTINGS
@given(st.data())
def test_simulate_with_one_bad_argument(data):
    name = data.draw(st.sampled_from(sorted(SIM_ARGS)), label="argument")
    value = data.draw(SIM_ARGS[name], label=name)
    args = dict(GOOD, **{name: value})
    pos = [args.pop(n) for n in ("key", "instance", "feedback", "learner", "hparams")]
    out = _call(simulate, *pos, **args)
    if out is not None:
        assert _ok(out) and np.all(np.asarray(out.regret) >= 0)


@SETTINGS
@given(st.fixed_dictionaries({}, optional=SIM_ARGS))
def test_simulate_with_several_bad_arguments(bad):
    args = dict(GOOD, **bad)
    pos = [args.pop(n) for n in ("key", "instance", "feedback", "learner", "hparams")]
    out = _call(simulate, *pos, **args)
    if out is not None:
        assert _ok(out)


# ---- Instance.create ------------------------------------------------------------------------------

FIELDS = ["features", "reference", "heads", "W", "user_probs", "prompt_probs", "shared"]
CREATE_VALUES = st.one_of(
    JUNK, npst.arrays(np.float64, npst.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                                     max_side=3),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    st.just(np.full((2, 3, 2), 1e39)))


@SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS + ["dtype"]), st.one_of(
    CREATE_VALUES, st.sampled_from([jnp.bfloat16, jnp.float16, jnp.int32, "float64", "nope",
                                    np.complex64, bool])), min_size=1, max_size=3))
def test_instance_create_with_bad_fields(bad):
    args = dict(hand_instance(), **bad)
    inst = _call(Instance.create, **args)
    if inst is None:
        return
    try:
        validate(inst)
    except InstanceError:
        return
    assert _ok(inst)  # a valid instance is finite


# ---- make_family ----------------------------------------------------------------------------------
# Options are static (one compiled draw per value), so valid values are drawn rarely: names and
# keys are fuzzed freely (rejected before drawing), options with junk that is mostly invalid, and
# real draws with out-of-range numbers in a separate, smaller test.

F6 = dict(n_users=2, k=2, d=2, n_responses=2, n_prompts=2)


@SETTINGS
@given(st.data())
def test_make_family_with_bad_names_keys_and_options(data):
    import inspect
    name = data.draw(st.one_of(JUNK, st.sampled_from(["F1", "f7", "", "matched", "f6"])),
                     label="name")
    options = {}
    if isinstance(name, str) and name in FAMILIES:
        params = [p for p in inspect.signature(FAMILIES[name]).parameters if p != "key"]
        opt = data.draw(st.sampled_from(params + ["n_resp", "key"]), label="option")
        options[opt] = data.draw(st.one_of(JUNK.filter(lambda v: not isinstance(v, float)
                                                       or not np.isfinite(v)), NOT_POSITIVE),
                                 label="value")
        key = jax.random.key(3)
    else:
        key = data.draw(st.one_of(st.just(jax.random.key(3)), JUNK), label="key")
    inst = _call(make_family, name, key, **options)
    if inst is not None:
        validate(inst)
        assert _ok(inst)


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(-1e40, 1e40, allow_nan=False))
@example(1e39)    # W overflows float32 to inf
@example(-3e38)
def test_make_family_draws_with_extreme_numbers(scale):
    """F6 (no rejection loop: the cheapest draw to compile, once per value) with a scale far out
    of the usual range: an InstanceError, or a valid finite instance."""
    inst = _call(make_family, "f6", jax.random.key(3), scale=scale, **F6)
    if inst is not None:
        validate(inst)
        assert _ok(inst)


def test_family_keys_and_names_like_the_runner():
    with pytest.raises(InstanceError, match="key"):
        make_family("f6", jax.random.split(jax.random.key(0), (2, 2)), **F6)  # a 1-D batch is fine
    with pytest.raises(InstanceError, match="unknown family"):
        make_family(["f6"], jax.random.key(0))
