"""Readable and JSON-able forms of ``Diagnostics`` (host side, after the jitted computation):
``explain`` says why the verdict is what it is, ``diagnostics_summary`` gives the numbers an
experiment stores beside its results, ``format_diagnostics`` the text report of ``jaxpa diagnose``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jaxpa.diagnostics.instance_diagnostics import (FAILS_NO_INFORMATION, FAILS_UNCOVERED, HOLDS,
                                                    HOLDS_VACUOUS, HOLDS_WEAK, Diagnostics)

SCALARS = ("head_rank", "dim_D", "rank_sigma", "lambda_max", "lambda_D", "lambda_D_restricted",
           "coverage", "tol", "rtol", "ud_holds", "reason", "residual", "min_gap", "max_gap", "kappa",
           "plateau_scale", "unlock_time")


def _python(x) -> Any:
    x = np.asarray(x)
    if x.dtype == bool:
        return bool(x)
    if np.issubdtype(x.dtype, np.integer):
        return int(x)
    v = float(x)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def explain(diag: Diagnostics) -> str:
    """One sentence: the verdict, the tolerance used, and why (one unbatched instance)."""
    lam, tol = float(diag.lambda_D), float(diag.tol)
    code, dim = int(diag.reason), int(diag.dim_D)
    where = f"(rtol {float(diag.rtol):.1e} of lambda_max(Sigma*) = {float(diag.lambda_max):.4g})"
    if code == HOLDS:
        return (f"UD holds: optimal play identifies all {dim} decision-relevant directions "
                f"(coverage {float(diag.coverage):.3g} > rtol {float(diag.rtol):.1e}, residual "
                f"{float(diag.residual):.2g}); lambda_D = {lam:.4g} > tol = {tol:.3g} {where}.")
    if code == HOLDS_WEAK:
        return (f"UD holds: optimal play covers all {dim} decision-relevant directions (coverage "
                f"{float(diag.coverage):.3g} > rtol), but lambda_D = {lam:.3g} <= tol = {tol:.3g} "
                f"{where}: the information is below numerical resolution (near-deterministic "
                f"comparisons or tiny probabilities); expect a very long burn-in.")
    if code == HOLDS_VACUOUS:
        return "UD holds vacuously: D = {0}, no parameter direction can change any decision."
    if code == FAILS_NO_INFORMATION:
        return (f"UD fails: optimal play carries no information (Sigma* = 0, e.g. y* = y0 "
                f"everywhere under bt_ref) while dim D = {dim}.")
    if code == FAILS_UNCOVERED:
        return (f"UD fails: coverage {float(diag.coverage):.3g} <= rtol {float(diag.rtol):.1e} "
                f"(lambda_D = {lam:.3g}); a direction of D is not identified by optimal play "
                f"(residual of D outside range(Sigma*) = {float(diag.residual):.3g}; rank Sigma* = "
                f"{int(diag.rank_sigma)} vs dim D = {dim}).")
    raise ValueError(f"unknown reason code {code}")


def expectation(diag: Diagnostics) -> str:
    """What regret to expect, by MODEL.md's hypotheses (to be confirmed by the runs)."""
    if bool(diag.ud_holds):
        return ("expected: greedy (after an identification phase) reaches a plateau, O(1) regret; "
                f"hypothesised plateau scale 1/(kappa lambda_D Delta_min^2) = "
                f"{float(diag.plateau_scale):.4g}; UCB/TS bounded; eps_t = c/t and ETC ~ log T.")
    return ("expected: consistent learners (UCB, TS, eps_t = c/t) pay ~ c log T; greedy gets stuck "
            "with positive probability (linear mean regret) when a wrong estimate along the "
            "uncovered direction changes a decision.")


def diagnostics_summary(diag: Diagnostics) -> dict[str, Any]:
    """The scalar diagnostics as plain Python values (inf as the string "inf") plus the verdict's
    explanation: one unbatched instance, for JSON results."""
    out = {name: _python(getattr(diag, name)) for name in SCALARS}
    out.update(feedback=diag.feedback, featurizer=diag.featurizer, explanation=explain(diag))
    return out


def format_diagnostics(diag: Diagnostics, title: str = "instance") -> str:
    """A multi-line text report of one instance's diagnostics."""
    s = diagnostics_summary(diag)
    p = int(np.asarray(diag.sigma_star).shape[-1])
    rows = [
        ("feedback / design", f"{diag.feedback} / {diag.featurizer} (p = {p})"),
        ("head rank", s["head_rank"]),
        ("dim D (decision-relevant)", f"{s['dim_D']} of {p}"),
        ("rank Sigma*", s["rank_sigma"]),
        ("lambda_max(Sigma*)", f"{float(diag.lambda_max):.6g}"),
        ("lambda_D (Schur, on D)", f"{float(diag.lambda_D):.6g}"),
        ("lambda_D restricted P_D S P_D", f"{float(diag.lambda_D_restricted):.6g}"),
        ("coverage (scale-free)", f"{float(diag.coverage):.4g}"),
        ("tolerance", f"tol = {float(diag.tol):.3g} (rtol = {float(diag.rtol):.1e})"),
        ("residual of D outside range(Sigma*)", f"{float(diag.residual):.3g}"),
        ("Delta_min / Delta_max", f"{float(diag.min_gap):.4g} / {float(diag.max_gap):.4g}"),
        ("kappa (smallest curvature)", f"{float(diag.kappa):.4g}"),
        ("unlock time (rounds; inf: can lock)", f"{float(diag.unlock_time):.4g}"),
        ("verdict", "UD HOLDS" if s["ud_holds"] else "UD FAILS"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"diagnostics of {title}"] + [f"  {k.ljust(width)}  {v}" for k, v in rows]
    lines += ["  " + explain(diag), "  " + expectation(diag)]
    if not s["ud_holds"]:
        v = np.asarray(diag.worst_direction)
        lines.append("  least identified direction of D: " + np.array2string(v, precision=3))
    return "\n".join(lines)


def summarize_instance(inst, feedback="bt_ref", **options) -> dict[str, Any]:
    """Validate, diagnose and summarise one instance: the dict every experiment stores beside its
    results (``options``: those of ``diagnose_checked``)."""
    from jaxpa.diagnostics.instance_diagnostics import diagnose_checked

    if inst.batch_shape:
        raise ValueError("summarize_instance: expects one instance; index the batch first")
    return diagnostics_summary(diagnose_checked(inst, feedback, **options))
