"""Exploration wrappers (learners/explore.py) around every core learner.

- ``etc`` (fixed m) *is* greedy with a warm start of m rounds, and ``etc_log`` is greedy with a
  warm start of ceil(c log T) rounds for the run's horizon T: the same key gives identical curves.
- ``epsilon_greedy(warm_start(core))`` for every core (greedy, ucb, ts, unknown_heads, neural and
  the oracle), three hyperparameter lanes in one vmapped program: epsilon = 1 plays the feedback
  model's uniform action every round; epsilon = 0 with a warm start of n0 plays the uniform action
  in rounds t < n0 and the core's action afterwards; epsilon = 0 without a warm start is the core.
  "The core's action" is checked round by round: the core's ``act`` on the same state, with the
  learner key the wrappers hand it (each wrapper splits its key in 3: rule, uniform, inner), and
  the uniform actions are the feedback model's ``uniform_action`` on the wrappers' uniform keys.
- Sweeps over wrapper hyperparameters are one vmapped ``simulate`` call ([H, S, C]) whose lanes
  equal the separate runs (warm starts, epsilon), one compiled program for every horizon.
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_feedback, make_learner, set_hparams, simulate
from jaxpa.learners import epsilon_greedy, greedy, oracle, ts, ucb, warm_start
from jaxpa.learners.hparams import check_hparams
from jaxpa.runner.simulate import compiled_program, init_state, play_round, seed_keys
from tests.helpers import contract_instance

FB = "bt_ref"
T_ETC, SEEDS = 200, 3


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


def curves_equal(a, b):
    np.testing.assert_array_equal(a.checkpoints, b.checkpoints)
    np.testing.assert_array_equal(a.mistakes, b.mistakes)
    np.testing.assert_array_equal(a.regret, b.regret)


STARTS = [0, 96, 100, 106]  # greedy's warm starts: none, etc_log's at T = 120, etc's, at T = 200


@pytest.fixture(scope="module")
def greedy_sweep(inst):
    """make_learner('greedy') with the warm starts STARTS in one call, at T = 200 and T = 120
    (the horizon is an argument of the compiled program: one program for both)."""
    learner = make_learner("greedy", FB)
    hp = set_hparams(learner.default_hparams(), warm_start=jnp.array(STARTS))
    n_programs = compiled_program._cache_size()
    out = {T: simulate(jax.random.key(0), inst, FB, learner, hp, horizon=T, n_seeds=SEEDS)
           for T in (T_ETC, 120)}
    assert compiled_program._cache_size() <= n_programs + 1
    for c in out.values():
        assert c.regret.shape == (len(STARTS), SEEDS, c.checkpoints.shape[0])
    return out


def lane(curves, i):
    return curves.replace(regret=curves.regret[i], mistakes=curves.mistakes[i],
                          nonfinite_at=curves.nonfinite_at[i])


def test_etc_is_greedy_with_a_warm_start(inst, greedy_sweep):
    etc = simulate(jax.random.key(0), inst, FB, make_learner("etc", FB), horizon=T_ETC,
                   n_seeds=SEEDS)
    curves_equal(etc, lane(greedy_sweep[T_ETC], STARTS.index(100)))  # etc's m = 100
    assert not np.array_equal(etc.regret, greedy_sweep[T_ETC].regret[0])  # not a no-op


def test_etc_log_is_greedy_with_a_warm_start_of_c_log_t(inst, greedy_sweep):
    learner = make_learner("etc_log", FB)
    c = float(learner.default_hparams().warm_start_c)
    for T, other_T in ((T_ETC, 120), (120, T_ETC)):
        m = int(np.ceil(c * np.log(T)))  # 106 at T = 200, 96 at T = 120
        got = simulate(jax.random.key(0), inst, FB, learner, horizon=T, n_seeds=SEEDS)
        curves_equal(got, lane(greedy_sweep[T], STARTS.index(m)))
        # the horizon is the run's: not the warm start of the other horizon
        wrong = STARTS.index(int(np.ceil(c * np.log(other_T))))
        assert not np.array_equal(got.regret, greedy_sweep[T].regret[wrong])


def test_epsilon_sweep_is_one_call_and_epsilon_zero_is_greedy(inst, greedy_sweep):
    from jaxpa import rewards
    learner = make_learner("eps_greedy", FB)
    epsilons = jnp.array([0.0, 1.0, 0.05])
    hp = set_hparams(learner.default_hparams(), epsilon=epsilons)
    n_programs = compiled_program._cache_size()
    swept = simulate(jax.random.key(0), inst, FB, learner, hp, horizon=T_ETC, n_seeds=SEEDS)
    assert swept.regret.shape == (3, SEEDS, swept.checkpoints.shape[0])
    # each lane is the run of its own value: the reversed sweep gives the reversed curves
    back = simulate(jax.random.key(0), inst, FB, learner, set_hparams(hp, epsilon=epsilons[::-1]),
                    horizon=T_ETC, n_seeds=SEEDS)
    assert compiled_program._cache_size() <= n_programs + 1
    np.testing.assert_allclose(back.regret[::-1], swept.regret, rtol=1e-5, atol=1e-5)
    curves_equal(lane(swept, 0), lane(greedy_sweep[T_ETC], 0))  # no exploration: greedy itself
    assert not np.array_equal(swept.regret[2], swept.regret[0])   # 5% exploration is not
    # epsilon = 1 is uniform play: its mean regret per round is the mean gap (uniform users,
    # prompts and responses), within 4 standard errors of a round's gap over the seed-rounds
    gaps = np.asarray(rewards(inst), np.float64)
    gaps = gaps.max(-1, keepdims=True) - gaps
    per_round = swept.regret[1, :, -1] / T_ETC
    se = gaps.std() / np.sqrt(SEEDS * T_ETC)
    assert abs(per_round.mean() - gaps.mean()) < 4 * se


# ---------------------------------------------------------------- wrappers around every core

T, S, N0 = 10, 2, 4
CORES = {  # core -> the feedback model it runs under (every model appears)
    "greedy": "bt_ref", "ucb": "bt_duel", "ts": "mnl", "unknown_heads": "scalar",
    "neural": "bt_duel[second=reference]", "oracle": "bt_ref"}


def feedback_of(label):
    return (make_feedback("bt_duel", second="reference") if label.startswith("bt_duel[")
            else make_feedback(label))


def build_core(name, fb):
    if name == "unknown_heads":
        from jaxpa.learners.unknown_heads import unknown_heads
        return unknown_heads(fb)
    if name == "neural":
        from jaxpa.learners.neural import neural
        return neural(fb, hidden=(4,), embed_dim=2, buffer_size=4)
    return {"greedy": greedy, "ucb": ucb, "ts": ts, "oracle": oracle}[name](fb)


def logged_run(key, inst, fb, composite, core, hp, horizon):
    """One seed of ``composite`` = epsilon_greedy(warm_start(core)), every round logged with what
    the core would play on the same state and the two wrappers' uniform actions."""
    K = inst.n_responses

    def body(state, t):
        new_state, rec = play_round(key, inst, fb, composite, hp, state, t, jnp.int32(horizon))
        k_act = jax.random.split(jax.random.fold_in(key, t), 3)[1]  # the round's learner key
        _, k_uniform_eps, k_mid = jax.random.split(k_act, 3)        # epsilon_greedy's split
        _, k_uniform_warm, k_core = jax.random.split(k_mid, 3)      # warm_start's split
        ref = rec.context.reference
        return new_state, dict(rec=rec, core=core.act(k_core, state, rec.context, hp.inner.inner),
                               uniform_eps=fb.uniform_action(k_uniform_eps, K, ref),
                               uniform_warm=fb.uniform_action(k_uniform_warm, K, ref))

    start = init_state(key, inst, composite, hp)
    final, log = jax.lax.scan(body, start, jnp.arange(horizon, dtype=jnp.int32))
    return start, final, log


@pytest.mark.parametrize("name", list(CORES))
def test_wrappers_compose_around_every_core(inst, name):
    fb = feedback_of(CORES[name])
    core = build_core(name, fb)
    composite = epsilon_greedy(warm_start(core))
    assert composite.feedback == fb
    # three lanes: (epsilon, warm start) = (1, 0): uniform; (0, N0): warm start; (0, 0): the core
    hp, n = check_hparams(composite.name, composite.default_hparams(), set_hparams(
        composite.default_hparams(), epsilon=jnp.array([1.0, 0.0, 0.0]),
        warm_start=jnp.array([0, N0, 0])), T)
    assert n == 3
    run = jax.jit(jax.vmap(jax.vmap(
        lambda key, hp: logged_run(key, inst, fb, composite, core, hp, T), (0, None)), (None, 0)))
    start, final, log = run(seed_keys(jax.random.key(5), S), hp)
    a = np.asarray(log["rec"].action)
    assert a.shape == (3, S, T, fb.n_actions)
    uniform_eps, uniform_warm, own = (np.asarray(log[k]) for k in ("uniform_eps",
                                                                   "uniform_warm", "core"))
    np.testing.assert_array_equal(a[0], uniform_eps[0])                 # epsilon = 1
    np.testing.assert_array_equal(a[1, :, :N0], uniform_warm[1, :, :N0])  # the warm start
    np.testing.assert_array_equal(a[1, :, N0:], own[1, :, N0:])           # then the core
    np.testing.assert_array_equal(a[2], own[2])                          # epsilon = 0: the core
    # the checks can fail: the uniform actions are not the core's
    assert np.any(uniform_eps[0] != own[0]) and np.any(uniform_warm[1, :, :N0] != own[1, :, :N0])
    if fb.name == "bt_duel" and fb.second == "reference":  # exploration keeps the protocol
        np.testing.assert_array_equal(a[..., 1], np.asarray(log["rec"].context.reference))
    if fb.name == "mnl":  # slates of distinct responses, whoever chose them
        assert np.all(np.sort(a, -1)[..., 1:] != np.sort(a, -1)[..., :-1])
    regret = np.asarray(log["rec"].regret)
    if name == "oracle":  # regret only in the uniform rounds
        assert np.all(regret[1, :, N0:] == 0) and np.all(regret[2] == 0)
        assert regret[1, :, :N0].sum() > 0 and regret[0].sum() > 0
    else:  # the core learns from every round, whoever chose the action (uniform lane included)
        assert any(not np.array_equal(x[0], y[0]) for x, y in
                   zip(jax.tree.leaves(start), jax.tree.leaves(final)))
    for leaf in jax.tree.leaves(final):
        assert np.all(np.isfinite(leaf))
