"""The offline protocol: exact ridge MLE against scikit-learn, masked and compressed fits against
plain ones, exact SubOpt on hand instances, n(eps), decay verdicts on synthetic curves, logged and
sampled statistics against their exact expectations, the compiled SubOpt(n) curves against direct
fits, a stall without user diversity, and refusals before compiling. Every feedback-dependent
piece takes the feedback model; the scalar model runs with noise_std = 2."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy.stats import binom
from sklearn.linear_model import LogisticRegression, Ridge

from jaxpa import Instance, make_feedback, make_learner, rewards
from jaxpa.learners import flat_hparams
from jaxpa.offline import (STATIONARY, design_rows, gaussian_rate, instance_rows, log_datasets,
                           logging_policy, n_epsilon, ridge_mle, ridge_mle_weighted, row_ids,
                           row_margins, row_means, row_probs, sample_log, subopt_curves,
                           suboptimality, sufficient_stats, true_theta)
from jaxpa.offline.rates import decay_fit
from tests.helpers import tiny_f2

RIDGE = 2.0
T, S = 300, 4
KEY = jax.random.key(3)
_RNG = np.random.default_rng(0)
# a small instance built by hand (the families' rejection samplers take seconds to compile)
INST = Instance.create(features=_RNG.normal(size=(2, 3, 2)), reference=np.zeros(2, np.int32),
                       heads=_RNG.normal(size=(3, 2)), W=_RNG.normal(size=(2, 2)))
MODELS = {"bt_ref": make_feedback("bt_ref"), "bt_duel": make_feedback("bt_duel"),
          "scalar": make_feedback("scalar", noise_std=2.0)}


@pytest.fixture(scope="module", params=list(MODELS))
def logged(request):
    """Uniformly logged rounds of INST: (model, Record [S, T], X [S, T, p], y [S, T])."""
    fb = MODELS[request.param]
    learner, hp = logging_policy("uniform", fb, T)
    rec = jax.jit(lambda k: log_datasets(k, INST, fb, learner, hp, T, S))(KEY)
    X, y = jax.jit(jax.vmap(lambda r: design_rows(r, fb)))(rec)
    return fb, rec, X, y


def _fit(fb, X, y, **kw):
    return ridge_mle(X, y, RIDGE, feedback=fb, **kw)


def _observation_variance(fb, mean):
    """Var[obs | row]: Bernoulli for the BT models, s^2 for scalar."""
    return np.full_like(mean, fb.noise_std ** 2) if fb.name == "scalar" else mean * (1 - mean)


def _check_row_means(fb, counts, sums, mean):
    """Each row's summed answer is consistent with its mean: within 5 standard errors (Gaussian
    answers), or with an exact two-sided binomial tail above 1e-7 (binary answers, where a row of
    mean 4e-4 and one success in 90 rounds is 5 "standard errors" away yet has probability
    3%)."""
    live = counts > 0
    c, s, mean = counts[live], sums[live], mean[live]
    if fb.name == "scalar":
        assert np.all(np.abs(s / c - mean) < 5 * fb.noise_std / np.sqrt(c))
    else:
        k = np.round(s)
        assert np.all(k == s)
        tail = np.minimum(binom.sf(k - 1, c, mean), binom.cdf(k, c, mean))
        assert np.all(tail > 1e-7), (tail.min(), c, s, mean)


def test_mle_equals_sklearn(logged):
    fb, _, X, y = logged
    for s in range(2):
        Xs, ys = np.asarray(X[s], np.float64), np.asarray(y[s], np.float64)
        if fb.name == "scalar":  # |y - X w|^2 / (2 s^2) + ridge/2 |w|^2 == Ridge(alpha=ridge s^2)
            ref = Ridge(alpha=RIDGE * fb.noise_std ** 2, fit_intercept=False).fit(Xs, ys).coef_
        else:  # C sum(logloss) + 1/2 ||w||^2 with C = 1/ridge
            ref = LogisticRegression(C=1 / RIDGE, fit_intercept=False, tol=1e-12,
                                     max_iter=10_000).fit(Xs, ys.astype(int)).coef_[0]
        np.testing.assert_allclose(_fit(fb, X[s], y[s]), ref, rtol=1e-4,
                                   atol=1e-4 * np.abs(ref).max())


def test_masked_prefix_fits_equal_sliced_fits(logged):
    fb, _, X, y = logged
    ns = jnp.array([7, 181, T])
    masked = jax.vmap(lambda n: _fit(fb, X[0], y[0], n=n))(ns)  # one call over the grid
    for i, n in enumerate(np.asarray(ns)):
        np.testing.assert_allclose(masked[i], _fit(fb, X[0, :n], y[0, :n]), rtol=1e-5, atol=1e-6)


def test_sufficient_statistics_fit_equals_row_fit(logged):
    fb, rec, X, y = logged
    X_all = instance_rows(INST, fb)
    assert X_all.shape[0] == INST.n_users * INST.n_prompts * INST.n_responses ** fb.n_actions
    ids = row_ids(jax.tree.map(lambda a: a[1], rec), INST, fb)
    np.testing.assert_array_equal(X_all[ids], X[1])  # the row table reproduces the log exactly
    ns = jnp.array([50, 200])
    counts, sums = sufficient_stats(ids, y[1], X_all.shape[0], ns)
    assert np.asarray(counts).sum(1).tolist() == [50, 200]
    for g, n in enumerate(np.asarray(ns)):
        compact = ridge_mle_weighted(X_all, sums[g] / jnp.maximum(counts[g], 1), counts[g], RIDGE,
                                     feedback=fb)
        np.testing.assert_allclose(compact, _fit(fb, X[1], y[1], n=n), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("logged", ["bt_duel"], indirect=True)  # one compile: the largest rows
def test_rollout_curves_fit_the_logs(logged):
    """subopt_curves rolled out with the same key logs the same rounds (seed s = fold_in(key, s)):
    its fit at n_max is the direct fit of the logged rows, and its SubOpt that fit's SubOpt."""
    fb, _, X, y = logged
    out = subopt_curves(KEY, INST, "uniform", [50, T], feedback=fb, n_seeds=S, ridge=RIDGE,
                        method="rollout")
    direct = np.stack([np.asarray(_fit(fb, X[s], y[s])) for s in range(S)])
    np.testing.assert_allclose(out["theta"], direct, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["subopt"][:, -1],
                               [float(suboptimality(INST, th)) for th in direct], atol=1e-6)
    assert np.all(out["identifiable"] == 0)  # uniform logs span every direction


def _hand_instance():
    """One user (head 1), two prompts (rho = 1/4, 3/4), K = 3: rewards (0, 2, 1) at both."""
    phi = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    return Instance.create(features=np.stack([phi, phi]), reference=np.zeros(2, np.int32),
                           heads=np.ones((1, 1)), W=np.array([[2.0, 1.0]]),
                           prompt_probs=np.array([[0.25, 0.75]]))


def test_suboptimality_exact_on_hand_instance():
    inst = _hand_instance()
    assert float(suboptimality(inst, true_theta(inst))) == 0.0
    # theta = (1, 2) scores (0, 1, 2): picks y = 2 at both prompts, gap 2 - 1 = 1
    assert float(suboptimality(inst, jnp.array([1.0, 2.0]))) == pytest.approx(1.0)
    # theta = 0: every response ties; the average gap is (2 + 0 + 1) / 3 = 1 at each prompt
    assert float(suboptimality(inst, jnp.zeros(2))) == pytest.approx(1.0)
    # theta = (1, 1) ties y = 1 and y = 2: average gap (0 + 1) / 2
    assert float(suboptimality(inst, jnp.array([1.0, 1.0]))) == pytest.approx(0.5)


def test_suboptimality_flips_one_prompt():
    """Prompt 1 gets a response whose features make the estimate prefer a worse one there only."""
    inst = _hand_instance()
    phi = np.asarray(inst.features).copy()
    phi[1, 2] = [0.9, 0.5]  # reward 2.3 > 2: y* = 2 at prompt 1; theta = (1, 0) still picks y = 1
    inst = inst.replace(features=jnp.asarray(phi))
    assert float(suboptimality(inst, true_theta(inst))) == 0.0
    assert float(suboptimality(inst, jnp.array([1.0, 0.0]))) == pytest.approx(0.75 * 0.3, rel=1e-5)


def test_n_epsilon():
    ns, curve = [0, 10, 20, 30], [1.0, 0.5, 0.6, 0.1]  # not monotone: the first crossing counts
    out = n_epsilon(ns, curve, [2.0, 0.55, 0.5, 0.2, 0.05])
    assert out.tolist() == [0.0, 10.0, 10.0, 30.0, np.inf]
    assert n_epsilon(ns, np.array([curve, curve]), 0.2).tolist() == [30.0, 30.0]


def _synthetic(mean_of_n, ns, seeds=400, trials=20, seed=0):
    """Per-seed curves whose mean is mean_of_n(ns): Binomial(trials, p) / trials per point."""
    p = np.clip(mean_of_n(np.asarray(ns, np.float64)), 0, 1)
    return np.random.default_rng(seed).binomial(trials, p, size=(seeds, len(ns))) / trials


@pytest.mark.parametrize("shape,expected", [
    (lambda n: 0.5 * np.exp(-n / 1500), "exponential"),
    (lambda n: 0.5 * (1 + n / 10) ** -1.5, "polynomial"),
    (lambda n: 0.3 + 0 * n, "stalled")])
def test_rate_verdicts(shape, expected):
    ns = np.unique(np.round(np.geomspace(1, 20_000, 60)).astype(int))
    fit = decay_fit(ns, _synthetic(shape, ns), n_boot=300)
    assert fit["verdict"] == expected, fit
    if expected == "exponential":
        assert fit["joint_rate_ci"][0] < 1 / 1500 < fit["joint_rate_ci"][1]


def test_stationary_logs_match_their_expectation(logged):
    """Pooled over the logged (rollout) rounds, and over sampled statistics, each row's count
    averages n q_j and its mean response is E[obs | row] (sigmoid of the margin, or the reward)."""
    fb, rec, _, y = logged
    J = instance_rows(INST, fb).shape[0]
    q, mean = np.asarray(row_probs(INST, "uniform", fb)), np.asarray(row_means(INST, fb))
    np.testing.assert_allclose(q.sum(), 1.0, rtol=1e-6)
    margins = row_margins(INST, fb)
    np.testing.assert_allclose(mean, jax.vmap(fb.mean)(margins), rtol=1e-6)
    ns = jnp.array([T])
    logged_stats = jax.jit(jax.vmap(
        lambda r, yy: sufficient_stats(row_ids(r, INST, fb), yy, J, ns)))(rec, y)

    @jax.jit
    @jax.vmap
    def sampled(k):
        ids, obs = sample_log(k, jnp.asarray(q), margins, T, fb)
        return sufficient_stats(ids, obs, J, ns)

    for counts, sums in [logged_stats, sampled(jax.random.split(jax.random.key(6), 16))]:
        c, s = np.asarray(counts[:, 0]).sum(0), np.asarray(sums[:, 0]).sum(0)
        n = T * counts.shape[0]
        assert c.sum() == n
        assert np.all(np.abs(c - n * q) < 5 * np.sqrt(n * q * (1 - q)) + 1e-6)
        _check_row_means(fb, c, s, mean)


def test_sampled_observations_are_independent():
    """Every round of a sampled log gets its own draw: on one row, n answers are not one answer
    repeated (their spread is the model's noise)."""
    for fb in MODELS.values():
        q = jnp.zeros(4).at[2].set(1.0)
        ids, obs = jax.jit(sample_log, static_argnums=(3, 4))(jax.random.key(1), q,
                                                              jnp.full(4, 0.3), 4000, fb)
        assert np.all(np.asarray(ids) == 2)
        var = _observation_variance(fb, np.asarray(fb.mean(jnp.float32(0.3))))
        assert abs(np.var(np.asarray(obs)) / var - 1) < 0.1, fb.label


def test_optimal_logging_stalls_without_user_diversity():
    """F2 (one head, UD fails): the optimal-vs-reference log spans one direction, so a decision
    stays unidentified: predicted rate 0, identifiable SubOpt > 0, and SubOpt(n) ends at it; the
    uniform log identifies everything (rate > 0, identifiable SubOpt 0) and its SubOpt falls."""
    inst = tiny_f2()
    ns = np.unique(np.geomspace(1, 3000, 8).astype(int))
    opt, uni = (subopt_curves(jax.random.key(0), inst, p, ns, n_seeds=16, n_iter=15)
                for p in STATIONARY)
    rate_opt, rate_uni = (gaussian_rate(inst, p) for p in STATIONARY)
    assert rate_opt["rate"] == 0 and not rate_opt["identified"]
    assert rate_uni["rate"] > 0 and rate_uni["identified"]
    assert np.all(opt["identifiable"] > 0) and np.all(uni["identifiable"] == 0)
    np.testing.assert_allclose(opt["subopt"][:, -1], opt["identifiable"], rtol=1e-5)
    assert uni["subopt"][:, -1].mean() < 0.5 * uni["subopt"][:, 0].mean()


def test_logging_policies():
    learner, hp = logging_policy("optimal", "bt_ref")
    assert learner.name == "oracle"
    learner, hp = logging_policy("greedy_warm", MODELS["scalar"], 60)
    assert learner.feedback == MODELS["scalar"]
    assert int(flat_hparams(hp)["warm_start"]) == 60  # 100 uniform rounds, capped at n_max
    assert int(flat_hparams(logging_policy("greedy_warm", "bt_ref", 500)[1])["warm_start"]) == 100
    assert int(flat_hparams(logging_policy("greedy", "bt_ref")[1])["warm_start"]) == 0
    assert logging_policy("ucb", "bt_duel")[0] is make_learner("ucb", "bt_duel")
    with pytest.raises(ValueError, match="unknown logging policy"):
        logging_policy("nope", "bt_ref")


def test_refusals_before_compiling():
    """No single-index rows (mnl), an oracle duel of y* with itself, a sampled adaptive policy."""
    X, y = jnp.ones((5, 2)), jnp.ones(5)
    for call in (lambda: ridge_mle(X, y, feedback="mnl"), lambda: instance_rows(INST, "mnl"),
                 lambda: row_margins(INST, "mnl"), lambda: logging_policy("uniform", "mnl"),
                 lambda: subopt_curves(KEY, INST, "uniform", [10], feedback="mnl")):
        with pytest.raises(ValueError, match="single-index"):
            call()
    with pytest.raises(ValueError, match="no information"):
        subopt_curves(KEY, INST, "optimal", [10], feedback="bt_duel")
    with pytest.raises(ValueError, match="no information"):
        row_probs(INST, "optimal", "bt_duel")
    with pytest.raises(ValueError, match="stationary"):
        subopt_curves(KEY, INST, "greedy", [10], method="sampled")


@pytest.mark.parametrize("second", ["reference", "uniform"])
def test_duel_row_laws_follow_the_second_response_rule(second):
    """A duel against a fixed or uniform second response: the oracle's log is informative, and
    each stationary law puts its mass on the actions the rule allows (under ``reference`` every
    second response is y0, for the uniform policy too)."""
    fb = make_feedback("bt_duel", second=second)
    K, ref = INST.n_responses, np.asarray(INST.reference)
    for policy in STATIONARY:
        q = np.asarray(row_probs(INST, policy, fb)).reshape(INST.n_users, INST.n_prompts, K, K)
        np.testing.assert_allclose(q.sum(), 1.0, rtol=1e-6)
        if second == "reference":
            off = np.arange(K)[None, None, None, :] != ref[None, :, None, None]
            assert np.all(q[np.broadcast_to(off, q.shape)] == 0)
        if policy == "optimal":  # the first response is y*
            best = np.argmax(np.asarray(rewards(INST)), -1)
            assert np.all(q.sum(-1).argmax(-1) == best)
