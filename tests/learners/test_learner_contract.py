"""The contract every registered learner keeps, for every feedback model (scalar, bt_ref, bt_duel
with each second-response rule, mnl).

Each case runs two compiled programs with the same keys: ``simulate`` (the runner: vmapped over
seeds and over a sweep of two hyperparameter values) and a jitted ``rollout`` vmapped the same way
(every round logged). Checked: action shapes, dtypes and ranges (distinct slates for ``mnl``); the
regret of every round recomputed in NumPy from the true rewards; ``Curves`` equal to the rollout's
running sums (regret, mistakes, the side-by-side ``extra`` regret of bt_duel); a healthy run
(``nonfinite_at == 0``) with a finite float32/int32 state that the hyperparameter values change; no
recompilation when the programs are called again with new hyperparameter values, new keys and (for
``simulate``) another horizon. Under bt_duel[second=reference] the second response is always y0
and each round pays at least half the reference's gap (linear average regret), the weak regret
being that of the better of y and y0; the oracle plays y* first.

The default run covers every code path (core x featurizer x wrapper) and every feedback model once
(``FAST``); ``pytest -m slow`` runs the full product.
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
import chex

from jaxpa import InstanceError, make_feedback, make_learner, set_hparams, simulate
from jaxpa.envs.feedback.bt_duel import SECONDS
from jaxpa.learners.registry import LEARNERS
from jaxpa.runner import rollout, seed_keys
from jaxpa.runner.simulate import compiled_program
from tests.helpers import contract_instance

FEEDBACKS = {"scalar": make_feedback("scalar"), "bt_ref": make_feedback("bt_ref"),
             **{f"bt_duel[{s}]": make_feedback("bt_duel", second=s) for s in SECONDS},
             "mnl": make_feedback("mnl", slate_size=3)}
N_SEEDS, H, T, T_OTHER = 3, 2, 12, 20

# The default run: the GLM cores and both wrappers, the baselines, every feedback model (the
# duel's runner-up rule through the oracle in slow runs and through UCB and TS in
# tests/envs/test_feedback_duel.py). The other cores and names run by default in
# tests/learners/test_learner_wrappers.py (unknown_heads, neural, etc, etc_log) and
# tests/learners/test_learner_regret.py (*_pop).
FAST = {("greedy", "bt_duel[reference]"), ("ucb", "bt_duel[own]"), ("ts", "bt_ref"),
        ("eps_greedy", "scalar"), ("oracle", "bt_duel[uniform]"), ("uniform", "mnl"),
        ("greedy_exact", "bt_ref")}
# pairs the registry refuses with a one-line error (tests/learners/test_greedy_exact.py shows it)
REFUSED = {("greedy_exact", "mnl")}


def _cases():
    for name in sorted(LEARNERS):
        for fb in FEEDBACKS:
            if (name, fb) in REFUSED:
                continue
            yield pytest.param(name, fb, id=f"{name}-{fb}",
                               marks=() if (name, fb) in FAST else pytest.mark.slow)


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


def sweep(hparams, shift: float):
    """H = 2 valid values per leaf: floats (x + shift, 2x + shift), integers (a warm start: m,
    m + 3 with m = min(x, T // 4), so that it stays within the horizon)."""
    def leaf(x):
        if jnp.issubdtype(x.dtype, jnp.integer):
            m = jnp.minimum(x, T // 4)
            return jnp.stack([m, m + 3]).astype(x.dtype)
        return jnp.stack([x + shift, 2 * x + shift]).astype(x.dtype)
    return jax.tree.map(leaf, hparams)


def rollout_program(inst, fb, learner):
    """jit(vmap over hparams (H) of vmap over seed keys of rollout), traced at most once."""
    one = lambda key, hp: rollout(key, inst, fb, learner, hp, T)
    batched = jax.vmap(jax.vmap(one, (0, None)), (None, 0), axis_size=H)
    chex.clear_trace_counter()  # the counter is keyed by the function's code, shared by cases
    return jax.jit(chex.assert_max_traces(lambda keys, hp: batched(keys, hp), n=1))


def true_rewards(inst, rec) -> np.ndarray:
    """r_u(x, .) of every logged round from the instance, in NumPy: [..., K]."""
    head = np.asarray(rec.context.head, np.float64)
    phi = np.asarray(rec.context.features, np.float64)
    w = np.einsum("...k,kd->...d", head, np.asarray(inst.W, np.float64))
    return np.einsum("...jd,...d->...j", phi, w + np.asarray(inst.shared, np.float64))


def check_rounds(inst, fb_name, fb, name, rec):
    """Every logged round's regret (and bt_duel's weak regret) against NumPy, and the action
    conventions of the feedback model."""
    r = true_rewards(inst, rec)
    a = np.asarray(rec.action)
    gap = r.max(-1, keepdims=True) - r
    served = np.take_along_axis(gap, a[..., :1], -1)[..., 0]
    if fb.name == "bt_duel":
        second = np.take_along_axis(gap, a[..., 1:2], -1)[..., 0]
        np.testing.assert_allclose(rec.regret, 0.5 * (served + second), atol=2e-5)
        assert set(rec.extra) == {"weak"}
        np.testing.assert_allclose(rec.extra["weak"], np.minimum(served, second), atol=2e-5)
    else:
        np.testing.assert_allclose(rec.regret, served, atol=2e-5)
        assert rec.extra == {}
    ref = np.asarray(rec.context.reference)
    if fb_name == "bt_duel[reference]":
        np.testing.assert_array_equal(a[..., 1], ref)
        ref_gap = np.take_along_axis(gap, ref[..., None], -1)[..., 0]
        # every round pays half the reference's gap, whatever the learner: linear average regret
        assert np.all(np.asarray(rec.regret) >= 0.5 * ref_gap - 2e-5)
        assert np.sum(ref_gap, -1).min() > 0.1 * T  # (the reference is not optimal here)
    if name == "oracle":
        best = r.argmax(-1)
        np.testing.assert_array_equal(a[..., 0], best)
        if fb.name == "mnl":
            np.testing.assert_array_equal(a, np.argsort(-r, -1)[..., :fb.n_actions])
        elif fb_name == "bt_duel[runner_up]":
            np.testing.assert_array_equal(a[..., 1], np.argsort(-r, -1)[..., 1])
        elif fb_name in ("bt_duel[own]", "scalar", "bt_ref"):
            assert np.all(np.asarray(rec.regret) == 0)


@pytest.mark.parametrize("name,fb_name", list(_cases()))
def test_learner_contract(inst, name, fb_name):
    fb = FEEDBACKS[fb_name]
    learner = make_learner(name, fb)
    hp1, hp2 = (sweep(learner.default_hparams(), s) for s in (0.0, 0.25))
    swept = bool(jax.tree.leaves(hp1))
    key, keys = jax.random.key(0), seed_keys(jax.random.key(0), N_SEEDS)

    n_programs = compiled_program._cache_size()
    curves = simulate(key, inst, fb, learner, hp1, horizon=T, n_seeds=N_SEEDS)
    assert compiled_program._cache_size() <= n_programs + 1
    n_programs = compiled_program._cache_size()
    curves2 = simulate(key, inst, fb, learner, hp2, horizon=T, n_seeds=N_SEEDS)
    simulate(jax.random.key(1), inst, fb, learner, hp2, horizon=T_OTHER, n_seeds=N_SEEDS)
    assert compiled_program._cache_size() == n_programs, "simulate recompiled"

    run = rollout_program(inst, fb, learner)  # assert_max_traces: a retrace raises
    state, rec = jax.block_until_ready(run(keys, hp1))
    state2, rec2 = jax.block_until_ready(run(keys, hp2))
    run(seed_keys(jax.random.key(1), N_SEEDS), hp2)

    A, K, C = fb.n_actions, inst.n_responses, curves.checkpoints.shape[0]
    lead = (H, N_SEEDS) if swept else (N_SEEDS,)
    for r in (rec, rec2):
        assert r.action.shape == (H, N_SEEDS, T, A) and r.action.dtype == jnp.int32
        a = np.asarray(r.action)
        assert a.min() >= 0 and a.max() < K
        if fb.name == "mnl":  # slates of distinct responses
            assert np.all(np.sort(a, -1)[..., 1:] != np.sort(a, -1)[..., :-1])
        assert r.regret.shape == (H, N_SEEDS, T) and r.regret.dtype == jnp.float32
        assert np.all(np.isfinite(r.regret)) and np.all(np.asarray(r.regret) >= -1e-5)
        assert r.obs.shape == (H, N_SEEDS, T)
        assert r.obs.dtype == (jnp.int32 if fb.name == "mnl" else jnp.float32)
        check_rounds(inst, fb_name, fb, name, r)
    for leaf in jax.tree.leaves((state, state2)):
        assert leaf.shape[:2] == (H, N_SEEDS)
        assert leaf.dtype in (jnp.float32, jnp.int32)
        assert np.all(np.isfinite(leaf))

    # the runner's curves are the rollout's running sums (same keys: seed s = fold_in(key, s))
    for c, r in ((curves, rec), (curves2, rec2)):
        r = r if swept else jax.tree.map(lambda x: x[0], r)
        assert c.regret.shape == lead + (C,) and c.regret.dtype == np.float32
        assert c.mistakes.shape == lead + (C,) and c.mistakes.dtype == np.int32
        assert c.nonfinite_at.shape == lead and np.all(c.nonfinite_at == 0)
        at = np.asarray(c.checkpoints) - 1
        np.testing.assert_allclose(c.regret, np.cumsum(r.regret, -1)[..., at], rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_array_equal(c.mistakes, np.cumsum(np.asarray(r.regret) > 0, -1)[..., at])
        assert set(c.extra) == ({"weak"} if fb.name == "bt_duel" else set())
        for n, v in c.extra.items():  # bt_duel: weak regret side by side with the average
            np.testing.assert_allclose(v, np.cumsum(r.extra[n], -1)[..., at], rtol=1e-5, atol=1e-5)
            assert np.all(v <= c.regret + 1e-5)
    if swept:  # same keys, new hyperparameter values: the values reach the learner
        assert any(not np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(state), jax.tree.leaves(state2)))


def test_learner_built_for_another_feedback_is_rejected(inst):
    with pytest.raises(InstanceError, match="bt_duel.*bt_ref|bt_ref.*bt_duel"):
        simulate(jax.random.key(0), inst, "bt_ref", make_learner("greedy", "bt_duel"),
                 horizon=5)
    with pytest.raises(InstanceError, match="second=reference"):
        simulate(jax.random.key(0), inst, make_feedback("bt_duel", second="reference"),
                 make_learner("greedy", "bt_duel"), horizon=5)
    with pytest.raises(ValueError, match="slate_size 6 exceeds"):
        simulate(jax.random.key(0), inst, make_feedback("mnl", slate_size=6),
                 make_learner("greedy", make_feedback("mnl", slate_size=6)), horizon=5)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(InstanceError, match="known: .*'ts'.*'ucb'"):
        make_learner("lin_ucb", "bt_ref")
    with pytest.raises(ValueError, match="known: .*'mnl'"):
        make_learner("ucb", "bradley_terry")
    # the duel's second response is the feedback model's option, no longer the learner's
    with pytest.raises(InstanceError, match="second"):
        make_learner("ucb", "bt_duel", second="own")
    with pytest.raises(ValueError, match="known.*'own'"):
        make_feedback("bt_duel", second="sampled")
    with pytest.raises(InstanceError, match="non-personalized"):
        make_learner("ucb_pop", "bt_ref", featurizer="personalized+shared")
    with pytest.raises(ValueError, match="slate_size"):
        make_feedback("mnl", slate_size=1)
    with pytest.raises(ValueError, match="regret_kind"):
        make_feedback("bt_duel", regret="pairwise")
    with pytest.raises(ValueError, match="known.*'average'"):
        make_feedback("bt_duel", regret_kind="pairwise")
    assert set(SECONDS) == {"own", "runner_up", "uniform", "reference"}


def test_registry_returns_the_same_learner_object():
    assert make_learner("ucb", "bt_ref") is make_learner("ucb", "bt_ref")
    assert make_learner("ts", "bt_duel") is make_learner(
        "ts", make_feedback("bt_duel", second="own"))
    assert make_learner("ts", "bt_duel") is not make_learner(
        "ts", make_feedback("bt_duel", second="reference"))


def test_alpha_sweep_is_one_vmapped_call(inst):
    """16 values of alpha in one ``simulate`` call; each lane depends on its own value only (the
    same sweep in reverse order gives the curves in reverse order), and the second sweep, with new
    values, does not recompile. (vmap == separate runs is the engine's own test.)"""
    learner = make_learner("ucb", "bt_ref")
    alphas = jnp.linspace(0.0, 3.0, 16)
    key = jax.random.key(3)
    hp = set_hparams(learner.default_hparams(), alpha=alphas)
    n_programs = compiled_program._cache_size()
    swept = simulate(key, inst, "bt_ref", learner, hp, horizon=60, n_seeds=4)
    assert swept.regret.shape == (16, 4, swept.checkpoints.shape[0])
    assert compiled_program._cache_size() == n_programs + 1
    reverse = simulate(key, inst, "bt_ref", learner, set_hparams(hp, alpha=alphas[::-1]),
                       horizon=60, n_seeds=4)
    assert compiled_program._cache_size() == n_programs + 1
    np.testing.assert_allclose(reverse.regret[::-1], swept.regret, rtol=1e-5, atol=1e-5)
    # the sweep is not one value repeated: alpha changes what is played
    assert not np.allclose(swept.regret[0], swept.regret[15])
