"""The users' fitted heads with their standard errors, on the population's top taste directions:
the audit's heads.csv and heads.png (pure NumPy on the fits' outputs).

Standard errors come from the personalized fit's observed information (jaxpa.data.fit.
heads_covariance: the inverse of the Hessian Newton's method solves with, log-likelihood
information plus the prior's precision); thin users are served the population fit and get its
covariance. Taste directions: the top right singular vectors of the standardized head matrix
(the directions ``bootstrap.resolved_heads`` keeps, the first ``rank`` of them resolved above
the noise floor), each oriented (``coverage.orient``) so that the users' mean head projects
positively on it: a positive coordinate reads "leans this way like the average user".
"""
from __future__ import annotations

import numpy as np

from jaxpa.audit.coverage import orient


def taste_directions(heads_std: np.ndarray, n: int = 2) -> np.ndarray:
    """[min(n, d), d] unit directions (standardized feature units): the top right singular
    vectors of the head matrix [U, d], oriented like the users (module docstring)."""
    _, _, Vt = np.linalg.svd(np.asarray(heads_std, np.float64), full_matrices=False)
    V = Vt[:min(n, Vt.shape[0])]
    return np.stack([v * orient(v, heads_std, None) for v in V])


def direction_words(v: np.ndarray, feature_names, most: int = 3) -> str:
    """A direction [d] as its largest feature weights, e.g. '+0.88·formality −0.37·length'."""
    order = np.argsort(-np.abs(v))[:most]
    return " ".join(f"{v[j]:+.2f}·{feature_names[j]}" for j in order if abs(v[j]) >= 0.1) \
        or f"{v[order[0]]:+.2f}·{feature_names[order[0]]}"


def heads_table(heads: np.ndarray, cov: np.ndarray, std: np.ndarray, units: np.ndarray,
                directions: np.ndarray) -> dict:
    """Per-user coordinates and standard errors.

    heads [U, d] and cov [U, d, d]: the fits in fitted units; std [d]: the factor to standardized
    units (the study's feature scale); units [d]: the factor the data were divided by before
    fitting (data units = fitted / units); directions [r, d] standardized. Returns theta and
    std_errors [U, d] in the data's units, coords and coord_se [U, r] on the directions."""
    heads, cov = np.asarray(heads, np.float64), np.asarray(cov, np.float64)
    h_std = heads * std
    cov_std = cov * np.outer(std, std)
    coords = h_std @ directions.T
    coord_var = np.einsum("rd,ude,re->ur", directions, cov_std, directions)
    se = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
    return {"theta": heads / units, "std_errors": se / units, "coords": coords,
            "coord_se": np.sqrt(np.maximum(coord_var, 0.0))}


def heads_rows(labels, choices, thin, feature_names, table: dict, n_directions: int) -> list[dict]:
    """heads.csv's rows, one per user (id as written in the log): choices, thin (1: served the
    population fit), the head in the data's units with its standard errors, then its coordinate
    and standard error on each taste direction (floats rounded to 6 significant digits)."""
    g = lambda x: float(f"{x:.6g}")
    rows = []
    for u, label in enumerate(labels):
        row = {"user": str(label), "choices": int(choices[u]), "thin": int(bool(thin[u]))}
        row.update({n: g(x) for n, x in zip(feature_names, table["theta"][u])})
        row.update({f"se_{n}": g(x) for n, x in zip(feature_names, table["std_errors"][u])})
        for i in range(n_directions):
            row[f"direction{i + 1}"] = g(table["coords"][u, i])
            row[f"se_direction{i + 1}"] = g(table["coord_se"][u, i])
        rows.append(row)
    return rows
