"""float64 runs meet the float32 runs' random stream: in a process with JAX_ENABLE_X64=1, a
registry learner on a float64 copy of an instance takes, round by round and seed by seed, the
actions it takes on the float32 instance in the default mode (draws are float32 whatever the
precision: envs/draws.py). Before, Thompson sampling and epsilon-greedy drew in the instance's
dtype and went their own way in float64.

Two checks, for every registry learner:
- the stream: the random draws of a run, read from its traced program (every ``random_bits``
  with its bit width and shape, every split and fold_in, in program order), are the same for
  the float64 instance in x64 mode as for the float32 instance in the default mode. Tracing
  compiles nothing, so every learner is checked in CI;
- the actions: the runs themselves, compared round by round. Each costs two compilations, so CI
  runs the two learners whose draws used to follow the dtype (TS and epsilon-greedy); the slow
  tier runs every other learner.
"""
import json

import numpy as np
import pytest
import jax

from jaxpa import Instance, make_learner, rollout
from jaxpa.runner import seed_keys
from tests.helpers import run_python

LEARNERS = ["greedy", "eps_greedy", "eps_decay", "etc", "etc_log", "ucb", "ts", "uniform",
            "oracle", "unknown_heads", "neural"]
CI_RUNS = ["ts", "eps_greedy"]
T, S = 130, 3  # etc explores for 100 rounds, etc_log for 20 log T = 98: both then commit
KEY = 17

SCRIPT = r"""
import json, os
import numpy as np
import jax, jax.numpy as jnp
import jaxpa
from jaxpa.runner import rollout
from tests.runner.test_runner_x64 import KEY, LEARNERS, instance, run, stream
assert jax.config.jax_enable_x64
f64 = jax.tree.map(lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x, instance())
jaxpa.validate(f64)
out = {"stream": {}, "runs": {}}
for name in LEARNERS:
    out["stream"][name] = stream(name, f64)
for name in [n for n in os.environ["RUN"].split(",") if n]:
    actions, regret, dtype = run(name, f64)
    assert dtype == "float64", (name, dtype)
    out["runs"][name] = {"actions": actions.tolist(), "regret": regret.tolist()}
print("RESULT " + json.dumps(out))
"""


def instance() -> Instance:
    """A small float32 instance (M = 2, K = 4, d = 2, N = 3, k = 2) with clear gaps."""
    rng = np.random.default_rng(3)
    f = rng.normal(size=(2, 4, 2))
    return Instance.create(features=f / np.linalg.norm(f, axis=-1, keepdims=True),
                           reference=[0, 1], heads=rng.normal(size=(3, 2)),
                           W=2.0 * rng.normal(size=(2, 2)))


def run(name, inst):
    """S seeds of one learner for T rounds: (actions [S, T, A], total regret [S], its dtype)."""
    learner = make_learner(name, "bt_ref")
    hp = learner.default_hparams()
    rec = jax.jit(jax.vmap(lambda k: rollout(k, inst, "bt_ref", learner, hp, T)[1]))(
        seed_keys(jax.random.key(KEY), S))
    return (np.asarray(rec.action), np.asarray(rec.regret, np.float64).sum(-1),
            str(rec.regret.dtype))


RANDOM = ("random_bits", "random_split", "random_fold_in", "random_seed", "random_wrap")


def stream(name, inst) -> list:
    """The random draws of one seed's run, in program order: [(primitive, bit width, shape)]."""
    learner = make_learner(name, "bt_ref")
    jaxpr = jax.make_jaxpr(lambda k: rollout(k, inst, "bt_ref", learner,
                                             learner.default_hparams(), T))(jax.random.key(KEY))
    out = []

    def walk(jp):
        for eqn in jp.eqns:
            if eqn.primitive.name in RANDOM:
                out.append([eqn.primitive.name, int(eqn.params.get("bit_width", 0)),
                            [int(n) for n in eqn.params.get("shape", ())]])
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else (value,):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jaxpr.jaxpr)
    return out


def _subprocess(names):
    return run_python(SCRIPT, env={"JAX_ENABLE_X64": "1", "RUN": ",".join(names)})


@pytest.fixture(scope="module")
def x64_ci():
    return _subprocess(CI_RUNS)


@pytest.mark.parametrize("name", LEARNERS)
def test_float64_draws_the_float32_stream(x64_ci, name):
    ours = json.loads(json.dumps(stream(name, instance())))
    assert any(d[0] == "random_bits" for d in ours)  # the check sees the draws
    assert all(d[1] in (0, 32) for d in ours)  # 32-bit words in float32 (0: no bit width)
    assert x64_ci["stream"][name] == ours


def _compare(x64, name):
    actions, regret, dtype = run(name, instance())
    assert dtype == "float32" and actions.shape[:2] == (S, T)
    np.testing.assert_array_equal(np.array(x64["runs"][name]["actions"]), actions)
    np.testing.assert_allclose(x64["runs"][name]["regret"], regret, rtol=1e-5)
    return actions


@pytest.mark.parametrize("name", CI_RUNS)
def test_float64_takes_the_float32_actions(x64_ci, name):
    actions = _compare(x64_ci, name)
    assert len(np.unique(actions)) > 1


@pytest.mark.slow
def test_float64_takes_the_float32_actions_every_learner():
    rest = [n for n in LEARNERS if n not in CI_RUNS]
    x64 = _subprocess(rest)
    seqs = {name: tuple(np.ravel(_compare(x64, name))) for name in rest}
    assert len(set(seqs.values())) == len(rest)  # the learners do not all play alike


def test_unknown_heads_float32_instance_in_x64_mode():
    run_python(SCRIPT.replace("f64 = jax.tree.map(lambda x: x.astype(jnp.float64) if x.dtype == "
                              "jnp.float32 else x, instance())", "f64 = instance()")
               .replace('    assert dtype == "float64", (name, dtype)\n', ""),
               env={"JAX_ENABLE_X64": "1", "RUN": "unknown_heads"})
