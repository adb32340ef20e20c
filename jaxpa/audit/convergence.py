"""Did the fits converge? No verdict is drawn from a fit that failed.

Every fit of the audit reports its convergence: the population fit (``population_convergence``:
finite estimate and standard errors, gradient norm of the objective per choice in the fit's
scaled coordinates, theta * RMS of each feature), the personalized heads (``heads_convergence``:
each user's gradient norm per choice, as fit.fit_personalized returns it in those coordinates)
and each bootstrap replicate (bootstrap.refits_converged). A fit has failed when a number is not
finite or its gradient norm exceeds ``CONVERGED`` per choice: float32 Newton fits that converged
end around 1e-6 per choice (examples/data/prefs_example.csv: at most 2e-7), a failed one is
orders of magnitude above.

A failed population fit stops the audit (``FitError``: the CLI prints one line naming the fit
and exits non-zero); failed personalized heads or too many failed replicates make the UD verdict
``undetermined`` with the reason.
"""
from __future__ import annotations

import numpy as np

from jaxpa.audit.bootstrap import CONVERGED
from jaxpa.data.fit import as_choice_data, feature_scale, loglik_derivatives
from jaxpa.data.panels import PreferencePanel
from jaxpa.envs.instance import InstanceError


class FitError(InstanceError):
    """A fit the audit's verdict would rest on did not converge (the message names it)."""


def population_convergence(panel: PreferencePanel, theta, std_errors, n_iter: int = 30) -> dict:
    """{converged, grad_norm_per_choice, finite_std_errors, iterations, reason} of the
    population fit theta [d] (raw units) on every choice of ``panel``."""
    theta = np.asarray(theta, np.float64)
    se = np.asarray(std_errors, np.float64)
    grad, _ = loglik_derivatives(np.asarray(theta, np.float32), as_choice_data(panel))
    scaled = np.asarray(grad, np.float64) / np.asarray(feature_scale(panel), np.float64)
    per_choice = float(np.linalg.norm(scaled) / max(panel.n_choices, 1))
    finite = bool(np.all(np.isfinite(se)) and np.all(np.isfinite(theta)))
    ok = finite and np.isfinite(per_choice) and per_choice <= CONVERGED
    reason = None if ok else (
        f"population fit did not converge: gradient norm per choice {per_choice:.3g} "
        f"(> {CONVERGED:g} or not finite), standard errors "
        f"{'finite' if finite else 'not finite'} after {n_iter} Newton iterations")
    return {"converged": bool(ok), "grad_norm_per_choice": per_choice,
            "finite_std_errors": finite, "iterations": int(n_iter), "reason": reason}


def heads_convergence(grad_norm, choices, thin, labels) -> dict:
    """{converged, n_failed, failed_users (ids), max_grad_norm_per_choice, reason} of the
    personalized heads: grad_norm [U] (scaled coordinates), choices [U], thin [U] bool (users
    served the population fit: not fitted), labels [U] the users' ids."""
    g = np.asarray(grad_norm, np.float64) / (1.0 + np.asarray(choices, np.float64))
    bad = ~(np.isfinite(g) & (g <= CONVERGED)) & ~np.asarray(thin, bool)
    ids = [str(labels[i]) for i in np.flatnonzero(bad)]
    fitted = g[~np.asarray(thin, bool)]
    reason = None if not ids else (
        f"the personalized fits of {len(ids)} user(s) did not converge ({', '.join(ids[:5])}"
        f"{', ...' if len(ids) > 5 else ''}): no verdict is drawn from failed fits")
    return {"converged": not ids, "n_failed": len(ids), "failed_users": ids,
            "max_grad_norm_per_choice": float(np.nanmax(fitted)) if fitted.size else 0.0,
            "reason": reason}
