"""bt_duel conventions (envs/feedback/bt_duel.py), each against an independent computation.

- ``second="own"``: the learner's own rule picks the second response. On hand-made states: UCB's
  is its optimistic challenger argmax_y' theta.z(y') + alpha ||z(y') - z(y)||_{V^-1} (NumPy), the
  first response itself once the estimate is confident; TS's is the argmax of an independent
  second posterior sample (the draws reproduced in NumPy, and a chi-square test of independence of
  the two responses); greedy's is its runner-up (uniform among the others under ties).
- ``second="reference"``: the second response is always y0, so every round pays at least half the
  reference's gap and average regret is linear for every learner (the oracle pays exactly half),
  while the weak regret is that of the first response (exactly, on an instance where y0 is the
  worst response for everyone). The same conventions are checked for every registry learner on
  a generic instance in tests/learners/test_learner_contract.py.
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
import scipy.linalg
import scipy.stats

from jaxpa import Instance, make_feedback, make_learner, rollout
from jaxpa.envs.env import draw_context
from jaxpa.learners import GLMHParams, greedy, ts, ucb
from jaxpa.learners.glm import GLMState
from jaxpa.learners.optimistic import UcbHParams
from jaxpa.learners.thompson import TsHParams
from jaxpa.runner import seed_keys

K, D = 5, 3
OWN = make_feedback("bt_duel", second="own")
RUNNER_UP = make_feedback("bt_duel", second="runner_up")


@pytest.fixture(scope="module")
def ctx():
    """One round of a one-user instance with head [1], so the design rows are z = phi: [K, D]."""
    rng = np.random.default_rng(8)
    inst = Instance.create(features=rng.normal(size=(1, K, D)), reference=np.array([2], np.int32),
                           heads=np.ones((1, 1)), W=np.zeros((1, D)))
    return draw_context(jax.random.key(0), inst, jnp.int32(3), jnp.int32(100))


def random_states(n: int, seed: int, spread: float = 1.0) -> GLMState:
    """n states [n, ...]: Gaussian theta, V^-1 = spread * (I + B B^T)^-1."""
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(n, D, D))
    V_inv = spread * np.linalg.inv(np.eye(D) + B @ np.swapaxes(B, 1, 2))
    return GLMState(theta=jnp.asarray(rng.normal(size=(n, D)), jnp.float32),
                    V_inv=jnp.asarray(V_inv, jnp.float32))


def act_on_states(learner, ctx):
    """jit(vmap over (key, state)) of the learner's act in the round ``ctx``: (keys, states, hp)."""
    return jax.jit(jax.vmap(lambda key, state, hp: learner.act(key, state, ctx, hp),
                            (0, 0, None)))


def ucb_reference(z, theta, V_inv, alpha, y0):
    """First response and optimistic challenger, in float64 NumPy: (first, challenger, the
    runner-up by the first step's scores, the smallest top-2 margin of the two argmaxes)."""
    width = lambda D_: np.sqrt(np.einsum("kp,pq,kq->k", D_, V_inv, D_))
    s1 = z @ theta + alpha * width(z - z[y0])
    first = int(np.argmax(s1))
    s2 = z @ theta + alpha * width(z - z[first])
    margin = lambda s: np.diff(np.sort(s)[-2:])[0]
    runner_up = int(np.argsort(s1)[-2])
    return first, int(np.argmax(s2)), runner_up, min(margin(s1), margin(s2))


def test_ucb_own_second_is_its_optimistic_challenger(ctx):
    z = np.asarray(ctx.features, np.float64)
    y0 = int(ctx.reference)
    n = 64
    states = random_states(n, 1, spread=2.0)
    keys = seed_keys(jax.random.key(1), n)
    run_own, run_other = act_on_states(ucb(OWN), ctx), act_on_states(ucb(RUNNER_UP), ctx)
    for alpha in (0.5, 2.0):
        hp = UcbHParams(ridge=jnp.float32(1), alpha=jnp.float32(alpha), growth=jnp.float32(0))
        own = np.asarray(run_own(keys, states, hp))
        other = np.asarray(run_other(keys, states, hp))
        cases = [ucb_reference(z, np.asarray(states.theta[i], np.float64),
                               np.asarray(states.V_inv[i], np.float64), alpha, y0)
                 for i in range(n)]
        clear = np.array([c[3] > 1e-4 for c in cases])
        assert clear.mean() > 0.9
        expected = np.array([c[:2] for c in cases])
        np.testing.assert_array_equal(own[clear], expected[clear])
        np.testing.assert_array_equal(other[clear, 0], expected[clear, 0])
        np.testing.assert_array_equal(other[clear, 1], np.array([c[2] for c in cases])[clear])
        # the rules differ on these states: the challenger is not always the runner-up
        assert np.any(own[clear, 1] != other[clear, 1])
        assert np.any(own[:, 0] != own[:, 1]) or alpha < 1
    # a confident estimate (V^-1 ~ 0): no challenger is plausibly better, so y' = y = argmax
    sure = GLMState(theta=states.theta[:8], V_inv=1e-6 * jnp.broadcast_to(jnp.eye(D), (8, D, D)))
    hp = UcbHParams(ridge=jnp.float32(1), alpha=jnp.float32(1), growth=jnp.float32(0))
    acts = np.asarray(run_own(keys[:8], sure, hp))
    np.testing.assert_array_equal(acts[:, 0], acts[:, 1])
    np.testing.assert_array_equal(acts[:, 0], np.argmax(np.asarray(sure.theta) @ z.T, -1))


def test_ts_own_second_is_an_independent_posterior_sample(ctx):
    z = np.asarray(ctx.features, np.float64)
    n = 4000
    rng = np.random.default_rng(3)
    state = GLMState(theta=jnp.asarray(0.3 * rng.normal(size=D), jnp.float32),
                     V_inv=jnp.asarray(np.eye(D) + 0.3 * np.ones((D, D)), jnp.float32))
    hp = TsHParams(ridge=jnp.float32(1), scale=jnp.float32(1.2))
    keys = seed_keys(jax.random.key(4), n)
    batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), state)
    acts = np.asarray(act_on_states(ts(OWN), ctx)(keys, batch, hp))
    # the draws, reproduced: theta~_i = theta + scale * V^{-1/2} eps_i from the act key's first half
    eps = np.asarray(jax.vmap(lambda k: jax.random.normal(jax.random.split(k)[0], (2, D)))(keys),
                     np.float64)
    root = np.real(scipy.linalg.sqrtm(np.asarray(state.V_inv, np.float64)))
    thetas = np.asarray(state.theta, np.float64) + 1.2 * eps @ root  # [n, 2, D]
    scores = thetas @ z.T                                               # [n, 2, K]
    top2 = np.sort(scores, -1)[..., -2:]
    clear = np.all(top2[..., 1] - top2[..., 0] > 1e-4, -1)
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(acts[clear], scores.argmax(-1)[clear])
    # two independent draws from one law: independent responses with equal marginals, which
    # coincide with probability sum_y p_y^2 (never under the runner-up rule)
    table = np.histogram2d(acts[:, 0], acts[:, 1], bins=K, range=[[0, K], [0, K]])[0]
    keep = table.sum(1) > 0
    table = table[keep][:, keep]
    assert table.shape[0] >= 3
    assert scipy.stats.chi2_contingency(table).pvalue > 1e-3
    p = np.bincount(acts[:, 0], minlength=K) / n
    q = np.bincount(acts[:, 1], minlength=K) / n
    np.testing.assert_allclose(p, q, atol=0.04)
    assert abs(np.mean(acts[:, 0] == acts[:, 1]) - np.sum(p * q)) < 0.03
    # with the runner-up rule TS draws one sample, and the second response is its runner-up
    m = 400
    single = np.asarray(act_on_states(ts(RUNNER_UP), ctx)(
        keys[:m], jax.tree.map(lambda x: x[:m], batch), hp))
    eps1 = np.asarray(jax.vmap(lambda k: jax.random.normal(jax.random.split(k)[0], (1, D)))(
        keys[:m]), np.float64)[:, 0]
    s1 = (np.asarray(state.theta, np.float64) + 1.2 * eps1 @ root) @ z.T
    top2 = np.sort(s1, -1)[:, -3:]
    clear = np.all(np.diff(top2, axis=-1) > 1e-4, -1)
    np.testing.assert_array_equal(single[clear], np.argsort(-s1, -1)[clear, :2])


def test_greedy_own_second_is_its_runner_up(ctx):
    z = np.asarray(ctx.features, np.float64)
    n = 64
    states = random_states(n, 2)
    hp = GLMHParams(ridge=jnp.float32(1))
    run = act_on_states(greedy(OWN), ctx)
    acts = np.asarray(run(seed_keys(jax.random.key(2), n), states, hp))
    order = np.argsort(-(np.asarray(states.theta, np.float64) @ z.T), -1)
    np.testing.assert_array_equal(acts, order[:, :2])
    # all scores tied (theta = 0): the first response uniform, the second uniform among the others
    m = 6000
    zero = GLMState(theta=jnp.zeros((m, D)), V_inv=jnp.broadcast_to(jnp.eye(D), (m, D, D)))
    tied = np.asarray(run(seed_keys(jax.random.key(3), m), zero, hp))
    assert np.all(tied[:, 0] != tied[:, 1])
    joint = np.histogram2d(tied[:, 0], tied[:, 1], bins=K, range=[[0, K], [0, K]])[0] / m
    expected = (1 - np.eye(K)) / (K * (K - 1))
    np.testing.assert_allclose(joint, expected, atol=0.015)


# ---------------------------------------------------------------------- second = "reference"

REFERENCE = make_feedback("bt_duel", second="reference")
T, S = 200, 4


@pytest.fixture(scope="module")
def worst_reference():
    """An instance where y0 is the worst response for every user at every prompt: heads
    h_u = (1, g_u) and W = [4 b; w] give r_u(y) = 4 b.phi(y) + g_u w.phi(y), with phi(y0) = -b and
    b.phi(y) >= 0 for the others."""
    rng = np.random.default_rng(21)
    M, d = 2, 3
    b = rng.normal(size=d)
    b /= np.linalg.norm(b)
    phi = rng.normal(size=(M, 4, d))
    phi /= np.linalg.norm(phi, axis=-1, keepdims=True)
    phi *= np.where(phi @ b < 0, -1.0, 1.0)[..., None]
    phi[:, 0] = -b
    heads = np.stack([np.ones(3), rng.uniform(-1, 1, 3)], 1)
    W = np.stack([4 * b, 0.7 * rng.normal(size=d) / np.sqrt(d)])
    inst = Instance.create(features=phi, reference=np.zeros(M, np.int32), heads=heads, W=W)
    r = np.einsum("nk,kd,myd->nmy", heads, W, phi)
    assert np.all(r.argmin(-1) == 0) and np.all(r[..., 1:].max(-1) - r[..., 0] > 1)
    return inst


@pytest.mark.parametrize("name", ["oracle", "greedy", pytest.param("ucb", marks=pytest.mark.slow),
                                  pytest.param("ts", marks=pytest.mark.slow),
                                  pytest.param("eps_greedy", marks=pytest.mark.slow),
                                  pytest.param("unknown_heads", marks=pytest.mark.slow)])
def test_reference_second_linear_average_regret_and_first_response_weak_regret(
        worst_reference, name):
    inst = worst_reference
    learner = make_learner(name, REFERENCE)
    run = jax.jit(jax.vmap(lambda key: rollout(key, inst, REFERENCE, learner,
                                               learner.default_hparams(), T)))
    _, rec = run(seed_keys(jax.random.key(7), S))
    a = np.asarray(rec.action)
    np.testing.assert_array_equal(a[..., 1], np.asarray(rec.context.reference))  # always y0
    head, phi = np.asarray(rec.context.head, np.float64), np.asarray(rec.context.features,
                                                                      np.float64)
    r = np.einsum("stk,kd,styd->sty", head, np.asarray(inst.W, np.float64), phi)
    gap = r.max(-1, keepdims=True) - r
    first = np.take_along_axis(gap, a[..., :1], -1)[..., 0]
    ref_gap = gap[..., 0]
    regret, weak = np.asarray(rec.regret), np.asarray(rec.extra["weak"])
    np.testing.assert_allclose(regret, 0.5 * (first + ref_gap), atol=2e-5)
    np.testing.assert_allclose(weak, first, atol=2e-5)  # weak regret: the first response's
    # linear average regret: at least half the reference's gap, every round
    assert np.all(regret >= 0.5 * ref_gap - 2e-5) and ref_gap.min() > 1
    assert np.all(regret.sum(-1) >= 0.5 * T * ref_gap.min())
    if name == "oracle":
        np.testing.assert_allclose(regret, 0.5 * ref_gap, atol=2e-5)
        assert np.all(weak == 0)
    elif name != "eps_greedy":  # a learner that learns: the first response's regret fades
        late = slice(T // 2, T)
        assert weak[:, late].mean() < 0.1 * regret[:, late].mean()
