"""The unknown-heads learner: the learner contract (jit, vmap over seeds, no retracing, shapes,
finite values, never reading the head), its statistics and ridge solves against NumPy and
scikit-learn on the data its own run logged, its fit against SciPy's optimiser of the same
objective (compared through rewards), the population cold start, and that it learns."""
import functools

import chex
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy.optimize import minimize
from sklearn.linear_model import Ridge

from jaxpa import Context, make_family, make_feedback, make_learner, rewards, set_hparams, simulate
from jaxpa.envs.instance import gaps
from jaxpa.learners import unknown_heads as uh
from jaxpa.runner import rollout, seed_keys
from tests.helpers import contract_instance

T = 12
FB = make_feedback("bt_ref")


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


@pytest.fixture(scope="module")
def learner():
    """warm_start(unknown_heads) from the registry: its hyperparameters nest in ``inner``."""
    return make_learner("unknown_heads", FB)


@functools.lru_cache(maxsize=None)
def _runner(learner, horizon):
    """One compiled rollout per (learner, horizon), shared by the tests; it fails if a call with
    new hyperparameter values, a new key or another instance of the same shapes traces it again."""
    return jax.jit(chex.assert_max_traces(
        lambda key, inst, hp: rollout(key, inst, learner.feedback, learner, hp, horizon), n=1))


def _run(learner, inst, horizon):
    return lambda key, hp: _runner(learner, horizon)(key, inst, hp)


@pytest.mark.slow  # eager execution compiles every primitive one by one: ~20 s on 2 cores
def test_jit_equals_no_jit(inst, learner):
    hp = learner.default_hparams().replace(warm_start=jnp.int32(3))
    key = jax.random.key(0)
    state, rec = _run(learner, inst, T)(key, hp)
    with jax.disable_jit():
        state_e, rec_e = rollout(key, inst, FB, learner, hp, T)
    np.testing.assert_array_equal(rec.action, rec_e.action)
    chex.assert_trees_all_close(state, state_e, rtol=1e-4, atol=1e-5)


def test_vmap_over_seeds_equals_single_runs(inst, learner):
    hp = learner.default_hparams().replace(warm_start=jnp.int32(3))
    keys = seed_keys(jax.random.key(1), 3)
    states, recs = jax.jit(jax.vmap(lambda k: rollout(k, inst, FB, learner, hp, T)))(keys)
    for i in range(3):
        s_i, r_i = _run(learner, inst, T)(keys[i], hp)
        np.testing.assert_array_equal(recs.action[i], r_i.action)
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], states), s_i, rtol=1e-5,
                                    atol=1e-6)


def test_no_retrace_shapes_and_finite(inst, learner):
    run = _run(learner, inst, T)  # traced once for the whole file
    hp = learner.default_hparams()
    s1, r1 = run(jax.random.key(0), hp)
    s2, r2 = run(jax.random.key(0), set_hparams(hp, ridge=jnp.float32(3.0),
                                                init_scale=jnp.float32(0.3),
                                                head_ridge=jnp.float32(0.5)))
    N, k, d = inst.n_users, inst.k, inst.d
    chex.assert_shape([s2.W, s2.heads, s2.prior, s2.A, s2.b, s2.counts, s2.theta],
                      [(k, d), (N, k), (N, k), (N, d, d), (N, d), (N,), (k * d + N * k,)])
    assert r2.action.shape == (T, 1) and r2.action.dtype == jnp.int32
    chex.assert_tree_all_finite((s1, s2, r1.regret, r2.regret))
    assert not np.allclose(s1.theta, s2.theta)  # the new values reached the learner
    assert float(s2.counts.sum()) == T


def test_never_reads_the_head(inst, learner):
    """A learner handed NaN heads behaves exactly the same: it uses the user id only."""
    blind = lambda ctx: ctx.replace(head=jnp.full_like(ctx.head, jnp.nan))
    hidden = learner._replace(
        act=lambda key, s, ctx, hp: learner.act(key, s, blind(ctx), hp),
        update=lambda s, ctx, a, o, hp: learner.update(s, blind(ctx), a, o, hp))
    hp, key = learner.default_hparams(), jax.random.key(2)
    s1, r1 = _run(learner, inst, T)(key, hp)
    s2, r2 = _run(hidden, inst, T)(key, hp)
    np.testing.assert_array_equal(r1.action, r2.action)
    chex.assert_trees_all_close(s1, s2)


@pytest.fixture(scope="module")
def scalar_run(inst):
    """A scalar-feedback run (noise 1) with a uniform warm start, logged round by round."""
    learner = make_learner("unknown_heads", make_feedback("scalar"))
    hp = set_hparams(learner.default_hparams(), warm_start=jnp.int32(150),
                     ridge=jnp.float32(2.0), head_ridge=jnp.float32(0.5))
    state, rec = _run(learner, inst, 300)(jax.random.key(3), hp)
    phi = np.asarray(inst.features, np.float64)
    u, x = np.asarray(rec.context.user), np.asarray(rec.context.prompt)
    g = phi[x, np.asarray(rec.action[:, 0])]  # [T, d] features of the played responses
    return state, hp, u, g, np.asarray(rec.obs, np.float64)


def test_statistics_are_the_gaussian_likelihoods(scalar_run, inst):
    """For scalar feedback A_u = sum phi phi^T and b_u = sum o phi over the user's rounds."""
    state, _, u, g, o = scalar_run
    for user in range(inst.n_users):
        sel = u == user
        np.testing.assert_allclose(state.A[user], g[sel].T @ g[sel], rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(state.b[user], g[sel].T @ o[sel], rtol=1e-4, atol=1e-3)
        assert state.counts[user] == sel.sum()


def test_ridge_solves_match_scikit_learn(scalar_run, inst):
    """The last W solve is the ridge fit of o on z = h_u ⊗ phi given the final heads; a head solve
    is the ridge fit of o on W phi shrunk towards the prior mean m_u."""
    state, hp, u, g, o = scalar_run
    H, W, prior = (np.asarray(a, np.float64) for a in (state.heads, state.W, state.prior))
    z = (H[u][:, :, None] * g[:, None, :]).reshape(len(u), -1)
    hp = hp.inner  # the unknown-heads learner's own hyperparameters, inside the warm start
    fit = Ridge(alpha=float(hp.ridge), fit_intercept=False).fit(z, o)
    np.testing.assert_allclose(state.W.reshape(-1), fit.coef_, rtol=1e-3, atol=1e-3)

    heads = uh.solve_heads(state, hp.head_ridge)
    for user in range(inst.n_users):
        X, m = g[u == user] @ W.T, prior[user]
        fit = Ridge(alpha=float(hp.head_ridge), fit_intercept=False).fit(X, o[u == user] - X @ m)
        np.testing.assert_allclose(heads[user], m + fit.coef_, rtol=1e-3, atol=1e-3)


def test_fit_matches_scipy_through_rewards(scalar_run, inst):
    """Sweeping the final state's solves to convergence gives the rewards of SciPy's minimiser of
    the same ridge objective on the logged data (parameters differ by an invertible map)."""
    state, hp, u, g, o = scalar_run
    N, k, d = inst.n_users, inst.k, inst.d
    for _ in range(200):
        state = state.replace(heads=uh.solve_heads(state, hp.inner.head_ridge))
        state = state.replace(W=uh.solve_W(state, hp.inner.ridge))
    prior = np.asarray(state.prior, np.float64)

    lam_W, lam_h = float(hp.inner.ridge), float(hp.inner.head_ridge)

    def objective(p):
        W, H = p[:k * d].reshape(k, d), p[k * d:].reshape(N, k)
        resid = o - np.einsum("ti,id,td->t", H[u], W, g)
        return 0.5 * (resid @ resid + lam_W * (W * W).sum() + lam_h * ((H - prior) ** 2).sum())

    starts = np.random.default_rng(0).normal(size=(4, k * d + N * k))  # non-convex: best of 4
    best = min((minimize(objective, p0, method="BFGS", options={"gtol": 1e-7}) for p0 in starts),
               key=lambda r: r.fun)
    W, H = best.x[:k * d].reshape(k, d), best.x[k * d:].reshape(N, k)
    ours = np.asarray(uh.reward_estimates(state, inst.features))
    assert objective(np.asarray(state.theta, np.float64)) <= best.fun + 1e-2
    np.testing.assert_allclose(ours, np.einsum("nk,kd,mjd->nmj", H, W, inst.features), atol=0.02)
    # and the fitted rewards are close to the truth (300 rounds, noise 1)
    assert np.abs(ours - np.asarray(rewards(inst))).mean() < 0.3


def test_population_cold_start(inst):
    """A user never seen acts with the mean of the seen users' heads, and its prior mean is set to
    the mean of the others' heads on its first round."""
    fb = FB
    learner = make_learner("unknown_heads", fb)
    probs = np.array([0.5, 0.5, 0.0, 0.0], np.float32)
    seen_only = inst.replace(user_probs=jnp.asarray(probs))
    state, _ = _run(learner, seen_only, T)(jax.random.key(4), learner.default_hparams())
    assert np.all(np.asarray(state.counts) == [*np.asarray(state.counts)[:2], 0, 0])
    mean_seen = np.asarray(state.heads)[:2].mean(0)
    np.testing.assert_allclose(uh.current_head(state, jnp.int32(2)), mean_seen, rtol=1e-6)
    np.testing.assert_allclose(uh.population_head(state, exclude=jnp.int32(2)), mean_seen,
                               rtol=1e-6)
    ctx = Context(t=jnp.int32(T), horizon=jnp.int32(T + 1), user=jnp.int32(3),
                  head=inst.heads[3], prompt=jnp.int32(1), features=inst.features[1],
                  reference=inst.reference[1])
    new = learner.update(state, ctx, jnp.array([1], jnp.int32), jnp.float32(1.0),
                         learner.default_hparams())
    np.testing.assert_allclose(new.prior[3], mean_seen, rtol=1e-6)
    own = uh.unknown_heads(fb, cold_start="prior")
    np.testing.assert_array_equal(uh.current_head(state, jnp.int32(2), "prior"), state.heads[2])
    assert own.name != learner.name
    with pytest.raises(ValueError, match="cold_start"):
        uh.unknown_heads(fb, cold_start="zero")


def test_learns_on_f1():
    """On F1 the unknown-heads learner's regret is a small fraction of uniform play's (whose
    expected regret per round is the mean gap under nu and rho)."""
    inst = make_family("f1", jax.random.key(0))
    ours = simulate(jax.random.key(6), inst, FB, make_learner("unknown_heads", FB), horizon=600,
                    n_seeds=8)
    per_round = np.einsum("u,ux,uxy->", inst.user_probs, inst.prompt_probs, gaps(inst))
    assert np.all(np.isfinite(ours.regret))
    assert float(ours.regret[:, -1].mean()) < 0.3 * 600 * per_round / inst.n_responses
