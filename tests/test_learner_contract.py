"""The contract every registered learner keeps, for every feedback model.

One jitted program per (learner, feedback): rollout vmapped over seeds and over a sweep of two
hyperparameter values. Checked: action shapes, dtypes and ranges (distinct slates for ``mnl``),
finite float32 regret >= 0, a finite float32/int32 state that the hyperparameter values change, and
no retracing when the same program is called again with new hyperparameter values and new keys. The default run covers every learner once, the feedback
models rotating so each appears (``FAST``); ``pytest -m slow`` runs the full product (and every
bt_duel second-response policy).
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_feedback, make_learner, simulate
from jaxpa.learners.duel import SECOND_POLICIES
from jaxpa.learners.optimistic import UcbHParams
from jaxpa.learners.registry import LEARNERS
from jaxpa.runner import rollout, seed_keys
from tests.helpers import contract_instance

FEEDBACKS = {"scalar": make_feedback("scalar"), "bt_ref": make_feedback("bt_ref"),
             "bt_duel": make_feedback("bt_duel"), "mnl": make_feedback("mnl", slate_size=3)}
N_SEEDS, H, T = 3, 2, 12
OWN = {"ucb": "optimistic", "ucb_pop": "optimistic", "ts": "sampled", "ts_pop": "sampled"}


# The default run: every code path (factory x featurizer) once, every feedback model >= twice.
FAST = {("greedy", "scalar"), ("greedy_pop", "mnl"), ("uniform", "mnl"), ("oracle", "bt_duel"),
        ("eps_greedy", "bt_ref"), ("etc_log", "mnl"), ("ucb", "scalar"), ("ts", "bt_ref"),
        ("ucb", "bt_duel", "optimistic"), ("ts", "bt_duel", "sampled")}


def _cases():
    for name in sorted(LEARNERS):
        for fb in FEEDBACKS:
            yield pytest.param(name, fb, {}, id=f"{name}-{fb}",
                               marks=() if (name, fb) in FAST else pytest.mark.slow)
    for name in ("greedy", "eps_greedy", "etc", "ucb", "ts"):
        for second in ("runner_up", "uniform", OWN.get(name)):
            if second is not None:
                yield pytest.param(name, "bt_duel", {"second": second},
                                   id=f"{name}-bt_duel-{second}",
                                   marks=() if (name, "bt_duel", second) in FAST
                                   else pytest.mark.slow)


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


def sweep(hparams, shift: float):
    """H = 2 valid values per leaf: floats (x + shift, 2x + shift), ints (x, x + 3)."""
    def leaf(x):
        if jnp.issubdtype(x.dtype, jnp.integer):
            return jnp.stack([x, x + 3]).astype(x.dtype)
        return jnp.stack([x + shift, 2 * x + shift]).astype(x.dtype)
    return jax.tree.map(leaf, hparams)


def counting(learner):
    """The learner with ``act`` wrapped to count how often it is traced: (learner, counter)."""
    count = [0]

    def act(*args):
        count[0] += 1
        return learner.act(*args)

    return learner._replace(act=act), count


def program(learner, inst):
    one = lambda key, hp: rollout(learner, key, inst, hp, T)
    return jax.jit(jax.vmap(jax.vmap(one, (0, None)), (None, 0), axis_size=H))


@pytest.mark.parametrize("name,fb,options", list(_cases()))
def test_learner_contract(inst, name, fb, options):
    learner, count = counting(make_learner(name, FEEDBACKS[fb], **options))
    run = program(learner, inst)
    hp1, hp2 = (sweep(learner.default_hparams(), s) for s in (0.0, 0.25))
    state, rec = jax.block_until_ready(run(seed_keys(jax.random.key(0), N_SEEDS), hp1))
    traced = count[0]
    assert traced >= 1
    state2, rec2 = jax.block_until_ready(run(seed_keys(jax.random.key(0), N_SEEDS), hp2))
    assert count[0] == traced, "second call with new values retraced"
    run(seed_keys(jax.random.key(1), N_SEEDS), hp2)  # and with new keys
    assert count[0] == traced, "call with new keys retraced"

    A, K = FEEDBACKS[fb].n_actions, inst.n_responses
    for r in (rec, rec2):
        assert r.action.shape == (H, N_SEEDS, T, A) and r.action.dtype == jnp.int32
        a = np.asarray(r.action)
        assert a.min() >= 0 and a.max() < K
        if fb == "mnl":  # slates of distinct responses
            assert np.all(np.sort(a, -1)[..., 1:] != np.sort(a, -1)[..., :-1])
        assert r.regret.shape == (H, N_SEEDS, T) and r.regret.dtype == jnp.float32
        assert np.all(np.isfinite(r.regret)) and np.all(np.asarray(r.regret) >= -1e-5)
        assert r.obs.shape == (H, N_SEEDS, T)
    for leaf in jax.tree.leaves((state, state2)):
        assert leaf.shape[:2] == (H, N_SEEDS)
        assert leaf.dtype in (jnp.float32, jnp.int32)
        assert np.all(np.isfinite(leaf))
    if name == "oracle":
        assert np.all(np.asarray(rec.regret) == 0)
    if jax.tree.leaves(hp1):  # same keys, new hyperparameter values: the values reach the learner
        assert any(not np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(state), jax.tree.leaves(state2)))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="known: .*'ts'.*'ucb'"):
        make_learner("lin_ucb", "bt_ref")
    with pytest.raises(KeyError, match="known: .*'mnl'"):
        make_learner("ucb", "bradley_terry")
    with pytest.raises(ValueError, match="sampled"):
        make_learner("ucb", "bt_duel", second="sampled")  # TS's policy, not UCB's
    with pytest.raises(TypeError, match="non-personalized"):
        make_learner("ucb_pop", "bt_ref", featurizer="personalized")
    with pytest.raises(ValueError, match="slate_size"):
        make_feedback("mnl", slate_size=1)
    with pytest.raises(ValueError, match="known"):
        make_feedback("bt_duel", regret="pairwise")
    assert set(SECOND_POLICIES) >= {"reference", "runner_up", "uniform", "optimistic", "sampled"}


def test_registry_returns_the_same_learner_object():
    assert make_learner("ucb", "bt_ref") is make_learner("ucb", "bt_ref")
    assert make_learner("ts", "bt_duel", second="sampled") is make_learner(
        "ts", "bt_duel", second="sampled")


def test_alpha_sweep_is_one_vmapped_call(inst):
    """16 values of alpha in one ``simulate`` call; each lane depends on its own value only (the
    same sweep in reverse order gives the curves in reverse order), and the second sweep, with new
    values, does not recompile. (vmap == separate runs is the engine's own test.)"""
    learner, count = counting(make_learner("ucb", "bt_ref"))
    alphas = jnp.linspace(0.0, 3.0, 16)
    key = jax.random.key(3)
    hp = UcbHParams(ridge=jnp.float32(1.0), alpha=alphas, growth=jnp.float32(1.0))
    swept = simulate(key, inst, learner, hp, horizon=60, n_seeds=4)
    assert swept.regret.shape == (16, 4, swept.checkpoints.shape[0])
    traced = count[0]
    reverse = simulate(key, inst, learner, hp.replace(alpha=alphas[::-1]), horizon=60, n_seeds=4)
    assert count[0] == traced
    np.testing.assert_allclose(reverse.regret[::-1], swept.regret, rtol=1e-5, atol=1e-5)
    # the sweep is not one value repeated: alpha changes what is played
    assert not np.allclose(swept.regret[0], swept.regret[15])
