"""E2's report section: the offline claims (C4) as an experiment's ``analyze``.

``offline_analysis(populations, policies=...)`` returns the function an ``Experiment`` calls with
its ExperimentResults: per population, draw and logging policy, SubOpt(n) and the test of n(eps)
against log(1/eps) (experiments/offline/records.py), the three C4 claims judged draw by draw
(experiments/offline/claims.py), the check that the populations are matched (Delta_min,
kappa, share of y* = y0), a table of complexity classes, one CSV row per (population, draw,
policy), and the figures of experiments/offline/figures.py.
"""
from __future__ import annotations

import numpy as np

from experiments.offline.claims import offline_claims
from experiments.offline.figures import bend_figure, n_eps_figure, subopt_figure
from experiments.offline.records import offline_records
from jaxpa.experiment.outputs import Section, matching_table
from jaxpa.offline.complexity import CLASSES
from jaxpa.results import finite_json


def offline_analysis(populations=("holds", "fails"), policies=("optimal", "uniform"), *,
                     ridge: float = 1.0, n_iter: int = 8, featurizer: str = "personalized",
                     complexity: dict | None = None):
    """The ``analyze`` of an offline experiment (module docstring). populations: the labels of
    the experiment's populations to analyse; policies: the logging policies run on every draw
    (stationary ones are sampled, others rolled out); complexity: keyword arguments of
    ``complexity_test`` (its thresholds; n_boot and seed come from the size and the run)."""
    def analyze(results):
        records = offline_records(results, populations, policies, ridge=ridge, n_iter=n_iter,
                                  featurizer=featurizer, complexity=complexity)
        return [_section(results, populations, records)]

    return analyze


def _fmt(v, ci=None, digits=3) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    s = f"{v:.{digits}g}"
    if ci is not None and np.all(np.isfinite(ci)):
        s += f" [{ci[0]:.{digits}g}, {ci[1]:.{digits}g}]"
    return s


def _row(r) -> dict:
    t, f = r["test"], r["fit"]
    return {"population": r["population"], "draw": r["draw"], "policy": r["policy"],
            "ud_holds": r["ud"], "lambda_D": r["lambda_D"], "min_gap": r["min_gap"],
            "n_max": r["n_max"], "seeds": t["n_seeds"], "predicted_rate": r["predicted_rate"],
            "class": t["class"], "reason": t["reason"], "slope": t["slope"],
            "slope_low": t["slope_ci"][0], "slope_high": t["slope_ci"][1],
            "curvature": t["curvature"], "curvature_low": t["curvature_ci"][0],
            "curvature_high": t["curvature_ci"][1], "bend": t["bend"],
            "bend_low": t["bend_ci"][0], "bend_high": t["bend_ci"][1],
            "power_law_curvature": t["power_law_curvature"], "decades": t["decades"],
            "window_lo": t["window"][0] if t["window"] else None,
            "window_hi": t["window"][1] if t["window"] else None, "window_points": t["n_points"],
            "floor": t["floor"], "identifiable": t["identifiable"],
            "subopt_start": t["subopt_start"], "subopt_n_max": t["final_mean"],
            "decay_verdict": f["verdict"], "rate": f["rate"], "rate_low": f["rate_ci"][0],
            "rate_high": f["rate_ci"][1], "joint_rate": f["joint_rate"],
            "joint_rate_low": f["joint_rate_ci"][0], "joint_rate_high": f["joint_rate_ci"][1],
            "exponent": f["exponent"], "exponent_low": f["exponent_ci"][0],
            "exponent_high": f["exponent_ci"][1], "r2_exp": f["r2_exp"], "r2_poly": f["r2_poly"]}


def _section(results, populations, records) -> Section:
    claims = offline_claims(records)
    tol = records[0]["test"]["tolerance"] if records else float("nan")
    rows = [finite_json(_row(r)) for r in records]
    match_text, match_rows = matching_table(results, populations)
    counts = ["| population | policy | draws | " + " | ".join(CLASSES) + " |",
              "|---|---|---|" + "---|" * len(CLASSES)]
    for pop in populations:
        for policy in dict.fromkeys(r["policy"] for r in records):
            recs = [r for r in records if r["population"] == pop and r["policy"] == policy]
            if recs:
                kinds = [r["test"]["class"] for r in recs]
                counts.append(f"| {pop} | {policy} | {len(recs)} | "
                              + " | ".join(str(kinds.count(k)) for k in CLASSES) + " |")
    first = [r for r in records if r["index"] == 0]
    table = ["| population | policy | n_max | seeds | class | slope [CI] | bend [CI] | "
             "decades | decay fit | rate [CI] | identifiable |", "|---|" * 1 + "---|" * 10]
    for r in first:
        t, f = r["test"], r["fit"]
        table.append(f"| {r['population']} | {r['policy']} | {r['n_max']} | {t['n_seeds']} | "
                     f"{t['class']} | {_fmt(t['slope'], t['slope_ci'])} | "
                     f"{_fmt(t['bend'], t['bend_ci'], 2)} | {t['decades']:.1f} | "
                     f"{f['verdict']} | {_fmt(f['rate'], f['rate_ci'])} | "
                     f"{_fmt(t['identifiable'])} |")
    ref = records[0]["test"] if records else {}
    text = (
        "SubOpt(n) of the plug-in policy on every instance draw, and its sample complexity n(eps) "
        "tested against L = log(1/eps) on the last resolved decade of n: n(eps) = a + b (L - "
        "Lbar) + c (L - Lbar)^2, slope b and relative curvature c (L_max - L_min) / b, and the "
        "*bend*: that curvature over a power law's on the same range of n (0: a straight line, "
        "exponential decay; 1: a power law SubOpt ~ n^-alpha, whatever alpha), with bootstrap 95% "
        f"CIs over seeds (a point is resolved when >= {ref.get('min_positive')} seeds have "
        f"SubOpt > 0; the curve must be resolved over >= {ref.get('min_decades')} decades of n). "
        f"Classes: 'log(1/eps)' when the bend's CI lies within +-{tol:g}, 'faster than "
        "log(1/eps)' when it lies above, 'stalled' when the identifiable SubOpt is positive or the "
        "curve is flat at n_max.\n\nThe populations (their diagnostics, not their names, decide "
        "each draw's UD status):\n\n" + match_text + "\n\nComplexity classes per population and "
        "logging policy:\n\n" + "\n".join(counts) + "\n\nFirst draw of each population (every "
        "draw: offline.csv):\n\n" + "\n".join(table) + "\n\n"
        + "\n".join(f"- **{c.name}** ({c.verdict}): {c.evidence}" for c in claims))
    figures = {}
    if first:
        figures = {"subopt.png": subopt_figure(records, populations),
                   "n_eps.png": n_eps_figure(first, populations),
                   "bend.png": bend_figure(records, tol)}
    data = {"claims": [c.as_dict() for c in claims], "matching": match_rows,
            "first_draws": finite_json([{k: v for k, v in r.items()
                                         if k not in ("plot",)} for r in first])}
    return Section("Offline: SubOpt(n) and n(eps) against log(1/eps)", text=text, figures=figures,
                   data=data, rows=rows, claims=claims, name="offline")
