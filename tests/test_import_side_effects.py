"""``import jaxpa`` changes nothing global in JAX: the CPU lowering of the Threefry hash stays
JAX's own until ``jaxpa.fast_cpu_random()`` opts in, and that opt-in used as a context manager
restores the previous rule on exit. The opt-in changes the generated code (the rolled loop of
the hash disappears), never the bits: draws and a whole ``simulate`` run are identical with and
without it.

The test process itself has opted in (conftest.py), so the checks run in a fresh process."""
import pytest

from tests.helpers import run_python

SCRIPT = r"""
import json
import jax, jax.numpy as jnp
import numpy as np
from jax._src.interpreters import mlir
from jax._src.random import threefry2x32 as tf

table = mlir._platform_specific_lowerings["cpu"]
before = dict(table)
jax_rule = table[tf.threefry2x32_p]

import jaxpa                                  # the package and the modules a run uses
import jaxpa.envs.families, jaxpa.learners.neural, jaxpa.runner.sharding
from jaxpa.envs.fast_random import fast_cpu_random, unrolled_on_cpu

out = {"same_entry_after_import": table.get(tf.threefry2x32_p) is jax_rule,
       "changed_entries": [str(p) for p, e in before.items() if table.get(p) is not e],
       "unrolled_after_import": unrolled_on_cpu()}

def draws(keys):
    def one(k):
        k1, k2, k3, k4, k5 = jax.random.split(jax.random.fold_in(k, 7), 5)
        return (jax.random.bits(k1, (5,)), jax.random.uniform(k2, (3,)),
                jax.random.normal(k3, (2,)), jax.random.randint(k4, (), 0, 10),
                jax.random.permutation(k5, 6))
    return jax.vmap(one)(keys)

keys = jax.random.split(jax.random.key(3), 64)
inst = jaxpa.Instance.create(features=np.linspace(-1, 1, 12).reshape(2, 3, 2),
                             reference=[0, 1], heads=[[1.0, 0.0], [0.3, 0.8]],
                             W=[[1.0, -0.5], [0.2, 0.7]])
learner = jaxpa.make_learner("uniform", "bt_ref")

def phase(run=False):
    jax.clear_caches()  # lower and compile again under the current rule
    text = jax.jit(draws).lower(keys).as_text()
    out = {"unrolled": unrolled_on_cpu(), "loop_in_hash": "while" in text,
           "bits": [np.asarray(x).tolist() for x in jax.jit(draws)(keys)]}
    if run:
        c = jaxpa.simulate(jax.random.key(1), inst, "bt_ref", learner, horizon=40, n_seeds=3)
        out.update(regret=c.regret.tolist(), mistakes=c.mistakes.tolist())
    return out

out["default"] = phase(run=True)
out["unrolled_after_simulate"] = unrolled_on_cpu()   # the runner's scoped use is undone
with fast_cpu_random() as fast:
    out["installed"] = fast.installed
    out["inside"] = phase(run=True)
out["restored_entry"] = table.get(tf.threefry2x32_p) is jax_rule
out["after"] = phase()
fast_cpu_random()                             # plain call: on for the rest of the process
out["plain_call"] = phase()
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def result():
    return run_python(SCRIPT)


def test_import_leaves_lowering_rules_unchanged(result):
    assert result["same_entry_after_import"]
    assert result["changed_entries"] == []
    assert not result["unrolled_after_import"]
    assert not result["default"]["unrolled"] and result["default"]["loop_in_hash"]


def test_simulate_leaves_the_rule_as_it_found_it(result):
    assert not result["unrolled_after_simulate"]


def test_runner_compiles_under_the_unrolled_rule(monkeypatch):
    """The runner's programs are compiled with the unrolled rule installed for the call (the
    API as called runs at the benchmark's speed), and the rule is put back after."""
    import jax
    import jaxpa
    import importlib
    from jaxpa.envs import fast_random
    sim = importlib.import_module("jaxpa.runner.simulate")
    entered = []

    class Recording(fast_random.fast_cpu_random):
        def __enter__(self):
            entered.append(fast_random.unrolled_on_cpu())
            return super().__enter__()

    before = fast_random.unrolled_on_cpu()
    monkeypatch.setattr(sim, "fast_cpu_random", Recording)
    learner = jaxpa.make_learner("uniform", "bt_ref")
    inst = jaxpa.Instance.create(features=[[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]], reference=[0],
                                 heads=[[1.0, 0.0]], W=[[1.0, -0.5], [0.2, 0.7]])
    jaxpa.simulate(jax.random.key(1), inst, "bt_ref", learner, horizon=12, n_seeds=2, chunk=5)
    assert entered == [True, True, True]  # every chunk's call, with the rule installed
    assert fast_random.unrolled_on_cpu() == before


def test_context_manager_installs_then_restores(result):
    assert result["installed"]
    assert result["inside"]["unrolled"] and not result["inside"]["loop_in_hash"]
    assert result["restored_entry"]
    assert not result["after"]["unrolled"] and result["after"]["loop_in_hash"]
    assert result["plain_call"]["unrolled"] and not result["plain_call"]["loop_in_hash"]


@pytest.mark.parametrize("phase", ["inside", "after", "plain_call"])
def test_bits_identical_with_and_without(result, phase):
    assert result[phase]["bits"] == result["default"]["bits"]


def test_simulate_identical_with_and_without(result):
    ref, fast = result["default"], result["inside"]
    assert fast["regret"] == ref["regret"] and fast["mistakes"] == ref["mistakes"]
    assert max(max(r) for r in ref["regret"]) > 0  # a run that paid something
