"""Per-user heads with their standard errors (jaxpa.data.fit.heads_covariance, the audit's
heads.csv and heads.png): checked against statsmodels' Logit on one user's pairwise choices."""
import numpy as np
import pytest
import jax

from jaxpa.audit.reading import LogColumns, frame_to_log
from jaxpa.audit.synthetic import matched_populations, synthetic_log
from jaxpa.data.fit import fit_personalized, fit_population, heads_covariance

COLS = LogColumns(reference="reference", context="prompt")


def test_head_standard_errors_match_statsmodels_logit():
    """With shrinkage -> 0 a head is the user's own MLE: Bradley-Terry on one user's pairs is a
    logit of 'second chosen' on the feature difference, whose standard errors statsmodels
    computes from its own Hessian."""
    sm = pytest.importorskip("statsmodels.api")
    inst = matched_populations(jax.random.key(0), n_types=2, copies=1, n_responses=2)[0]
    log = frame_to_log(synthetic_log(jax.random.key(1), inst, 80, columns=COLS), COLS)
    panel = log.panel
    pop = fit_population(panel)
    heads, _ = fit_personalized(panel, pop, 1e-7)
    cov = heads_covariance(panel, pop, heads, 1e-7)
    user = np.asarray(panel.user)
    f, choice = np.asarray(panel.features, np.float64), np.asarray(panel.choice)
    for u in range(panel.n_users):
        rows = user == u
        x, y = f[rows, 1] - f[rows, 0], (choice[rows] == 1).astype(float)
        ref = sm.Logit(y, x).fit(disp=0)
        np.testing.assert_allclose(np.asarray(heads[u]), ref.params, rtol=2e-3, atol=2e-4)
        np.testing.assert_allclose(np.sqrt(np.diag(cov[u])), ref.bse, rtol=2e-3)
    # the prior adds precision: stronger shrinkage, smaller standard errors
    strong = heads_covariance(panel, pop, fit_personalized(panel, pop, 30.0)[0], 30.0)
    assert np.all(np.diagonal(strong, axis1=1, axis2=2) < np.diagonal(cov, axis1=1, axis2=2))


def test_heads_table_on_feature_axes_and_rows():
    """On the feature axes as directions, coordinates and their standard errors are the heads
    and standard errors in standardized units; rows keep the ids as written."""
    from jaxpa.audit.heads import heads_rows, heads_table, taste_directions

    rng = np.random.default_rng(0)
    heads = rng.normal(size=(5, 3))
    A = rng.normal(size=(5, 3, 3))
    cov = A @ np.swapaxes(A, 1, 2) + np.eye(3)
    std, units = np.array([2.0, 0.5, 1.0]), np.array([1.0, 10.0, 1.0])
    t = heads_table(heads, cov, std, units, np.eye(3))
    np.testing.assert_allclose(t["coords"], heads * std)
    np.testing.assert_allclose(t["coord_se"], np.sqrt(np.diagonal(cov, axis1=1, axis2=2)) * std)
    np.testing.assert_allclose(t["theta"], heads / units)
    v = taste_directions(heads * std)
    assert v.shape == (2, 3) and np.all((heads * std).mean(0) @ v.T > 0)  # oriented
    rows = heads_rows(["01", "1", "1.0", "a", "b"], [5] * 5, [0, 0, 1, 0, 0], ["x", "y", "z"],
                      heads_table(heads, cov, std, units, v), 2)
    assert [r["user"] for r in rows] == ["01", "1", "1.0", "a", "b"] and rows[2]["thin"] == 1
    assert list(rows[0]) == ["user", "choices", "thin", "x", "y", "z", "se_x", "se_y", "se_z",
                             "direction1", "se_direction1", "direction2", "se_direction2"]
