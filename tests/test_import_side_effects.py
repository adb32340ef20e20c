"""``import jaxpa`` and a ``simulate`` run change nothing global in JAX: in a fresh process, a
program of random draws lowers to the same text (JAX's own, rolled CPU Threefry loop included)
and gives the same bits before jaxpa is imported, after, and after a run; the run itself draws
JAX's default Threefry stream through jaxpa's unrolled key implementation (envs/threefry.py), the
same curves as with the runner's re-wrap turned off."""
import pytest

from tests.helpers import run_python

SCRIPT = r"""
import importlib, json
import jax, jax.numpy as jnp
import numpy as np

def draws(keys):
    def one(k):
        k1, k2, k3, k4, k5 = jax.random.split(jax.random.fold_in(k, 7), 5)
        return (jax.random.bits(k1, (5,)), jax.random.uniform(k2, (3,)),
                jax.random.normal(k3, (2,)), jax.random.randint(k4, (), 0, 10),
                jax.random.permutation(k5, 6))
    return jax.vmap(one)(keys)

keys = jax.random.split(jax.random.key(3), 64)

def phase():
    jax.clear_caches()
    text = jax.jit(draws).lower(keys).as_text()
    return {"text": text, "loop_in_hash": "while" in text,
            "bits": [np.asarray(x).tolist() for x in jax.jit(draws)(keys)]}

out = {"before": phase()}
import jaxpa                                  # the package and the modules a run uses
import jaxpa.envs.families, jaxpa.learners.neural, jaxpa.runner.sharding
out["after_import"] = phase()
inst = jaxpa.Instance.create(features=np.linspace(-1, 1, 12).reshape(2, 3, 2),
                             reference=[0, 1], heads=[[1.0, 0.0], [0.3, 0.8]],
                             W=[[1.0, -0.5], [0.2, 0.7]])
learner = jaxpa.make_learner("greedy", "bt_ref")
run = lambda: jaxpa.simulate(jax.random.key(1), inst, "bt_ref", learner, horizon=40, n_seeds=3)
c = run()
out["after_simulate"] = phase()
sim = importlib.import_module("jaxpa.runner.simulate")
sim.as_unrolled = sim.as_default = lambda tree: tree   # JAX's own Threefry lowering
jax.clear_caches()
r = run()
out["regret"], out["regret_rolled"] = c.regret.tolist(), r.regret.tolist()
out["mistakes_same"] = bool(np.array_equal(c.mistakes, r.mistakes))
texts = {k: out[k].pop("text") for k in ("before", "after_import", "after_simulate")}
out["same_text"] = {k: t == texts["before"] for k, t in texts.items()}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def result():
    return run_python(SCRIPT)


def test_import_and_simulate_leave_jax_as_it_was(result):
    assert result["same_text"] == {"before": True, "after_import": True, "after_simulate": True}
    assert result["before"]["loop_in_hash"]  # JAX's own rolled CPU lowering, still in place
    for phase in ("after_import", "after_simulate"):
        assert result[phase]["loop_in_hash"]
        assert result[phase]["bits"] == result["before"]["bits"]


def test_simulate_draws_the_default_stream(result):
    """The runner's unrolled key implementation gives the curves of JAX's own lowering."""
    assert result["regret"] == result["regret_rolled"] and result["mistakes_same"]
    assert max(max(r) for r in result["regret"]) > 0  # a run that paid something
