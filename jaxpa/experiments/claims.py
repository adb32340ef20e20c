"""The paper's claims as checks on measured statistics: each function takes the summaries that
the experiments wrote and returns a ``Claim`` with a verdict ('supported', 'not supported' or
'inconclusive') and the numbers behind it. Nothing here runs a simulation, so the verdict logic
is tested on summaries built to flip it (tests/test_claims.py).

Rules (fixed before looking at results):
- bounded regret: the curve verdict of diagnostics/curve_stats.py is 'bounded' (the CI of the
  regret added over [T/2, T] ends below 2% of R(T)).
- log T growth: the late log-slope's bootstrap CI lies above 0 and the curve is not 'bounded'
  ('linear' counts as growth at least logarithmic, reported as such).
- stuck with positive probability: stuck fraction > 0.
- a rank correlation: Spearman's rho with p < 0.05 in the claimed direction.
"""
from __future__ import annotations

from typing import NamedTuple


CONSISTENT = ("ucb", "ts", "eps_t=c/t")


class Claim(NamedTuple):
    name: str
    statement: str
    verdict: str
    evidence: str


def _grows(row: dict) -> bool:
    return row["verdict"] != "bounded" and row["slope_ci"][0] > 0


def _fmt(label: str, row: dict) -> str:
    return (f"{label}: R(T)={row['final_regret']:.1f}, added over [T/2,T]="
            f"{row['added_second_half']:.1f} [{row['added_ci'][0]:.1f}, {row['added_ci'][1]:.1f}], "
            f"slope b={row['late_log_slope']:.2f} [{row['slope_ci'][0]:.2f}, "
            f"{row['slope_ci'][1]:.2f}], stuck={row['stuck_fraction']:.2f} -> {row['verdict']}")


def greedy_bounded_under_ud(online: dict, family: str = "f1", label: str = "greedy+warm200"):
    res = online[family]
    row, ud = res["learners"][label], res["diagnostics"]["ud_holds"]
    if not ud:
        verdict = "inconclusive"
    elif row["verdict"] == "bounded":
        verdict = "supported"
    elif row["verdict"] == "log-growth":
        verdict = "inconclusive"  # a bounded curve before its burn-in ends looks logarithmic
    else:
        verdict = "not supported"
    return Claim("C1 sufficiency", f"Under UD ({family}), greedy after a warm start has bounded "
                 "regret.", verdict, f"UD holds: {ud}; " + _fmt(label, row))


def consistent_learners_pay_log_t(online: dict, families=("f2", "f3")):
    rows, all_grow, any_bounded = [], True, False
    for fam in families:
        res = online[fam]
        if res["diagnostics"]["ud_holds"]:
            return Claim("C2 necessity", "Without UD, consistent learners pay ~ c log T.",
                         "inconclusive", f"{fam}: UD holds, so it cannot test the claim")
        for label in CONSISTENT:
            row = res["learners"][label]
            rows.append(f"{fam} " + _fmt(label, row))
            all_grow &= _grows(row)
            any_bounded |= row["verdict"] == "bounded"
    verdict = "supported" if all_grow else ("not supported" if any_bounded else "inconclusive")
    return Claim("C2 necessity", f"Without UD ({', '.join(families)}), every consistent learner "
                 "(UCB, TS, eps_t = c/t) keeps paying: regret grows at least like log T.",
                 verdict, "; ".join(rows))


def greedy_stuck_without_ud(online: dict, families=("f2", "f3"), label: str = "greedy"):
    rows = [f"{fam} " + _fmt(label, online[fam]["learners"][label]) for fam in families]
    stuck = [online[fam]["learners"][label]["stuck_fraction"] for fam in families]
    verdict = "supported" if all(s > 0 for s in stuck) else (
        "not supported" if all(s == 0 for s in stuck) else "inconclusive")
    return Claim("C3 greedy fails without UD", "Without UD, greedy (no warm start) gets stuck on a "
                 "suboptimal response with positive probability.", verdict, "; ".join(rows))


def heads_spanning_not_enough(online: dict, family: str = "f3"):
    res = online[family]
    d = res["diagnostics"]
    grows = all(_grows(res["learners"][label]) for label in CONSISTENT)
    full_rank = d["head_rank"] >= 2
    verdict = "supported" if (full_rank and not d["ud_holds"] and grows) else (
        "not supported" if (full_rank and d["ud_holds"]) else "inconclusive")
    return Claim("C5 span is not enough", "Heads spanning R^k without (head, optimal response) "
                 "pairs covering D: UD fails and consistent learners pay log T.", verdict,
                 f"head rank {d['head_rank']}, dim D {d['dim_D']}, UD holds {d['ud_holds']}, "
                 f"consistent learners growing: {grows}")


def no_margin_costs_log_t(online: dict, family: str = "f6", label: str = "greedy+warm200"):
    res = online[family]
    row = res["learners"][label]
    verdict = "supported" if _grows(row) else (
        "not supported" if row["verdict"] == "bounded" else "inconclusive")
    return Claim("C6 margin matters", "Without a margin (F6, Δ_min = "
                 f"{res['diagnostics']['min_gap']:.2g}), even greedy pays ~ log T.", verdict,
                 _fmt(label, row))


def plateau_shrinks_with_lambda(dial: dict, family: str):
    res = dial[family]
    rho, p = res["spearman_lambda_plateau"]
    sl = res["loglog_plateau_vs_lambda"]
    verdict = "supported" if (rho < 0 and p < 0.05) else (
        "not supported" if (rho > 0 and p < 0.05) else "inconclusive")
    scaling = ("consistent with plateau ∝ 1/λ_D" if sl["ci"][0] <= -1 <= sl["ci"][1]
               else "not consistent with plateau ∝ 1/λ_D")
    return Claim(f"C7 diversity dial ({family})", "Greedy's plateau shrinks as λ_D grows "
                 "(and scales like 1/λ_D).", verdict,
                 f"Spearman rho(λ_D, plateau) = {rho:.2f} (p = {p:.2g}, {res['n_used']} "
                 f"instances); log-log slope {sl['slope']:.2f} [{sl['ci'][0]:.2f}, "
                 f"{sl['ci'][1]:.2f}]: {scaling}")


def personalization_pays_with_diversity(dial: dict, family: str = "f4"):
    ratios = dial[family]["e4_pop_over_personalized"]
    vals = sorted(ratios, key=float)
    first = ratios[vals[0]]
    last = ratios[vals[-1]]
    homogeneous_equal = first["ci"][0] <= 1.0 <= first["ci"][1] or abs(first["mean"] - 1) < 0.05
    diverse_pays = last["ci"][0] > 1.0
    verdict = "supported" if (homogeneous_equal and diverse_pays) else (
        "not supported" if not diverse_pays else "inconclusive")
    return Claim("C8 personalization pays", "A single shared reward model does as well as the "
                 "personalized one on a homogeneous population and worse as heads spread.",
                 verdict, "; ".join(f"η={v}: R_pop/R_pers = {ratios[v]['mean']:.2f} "
                                    f"[{ratios[v]['ci'][0]:.2f}, {ratios[v]['ci'][1]:.2f}]"
                                    for v in vals))


def all_claims(online: dict, control: dict, dial: dict) -> list[Claim]:
    """The online and dial claims from their summaries' ``results``."""
    return [greedy_bounded_under_ud(online), consistent_learners_pay_log_t(online),
            greedy_stuck_without_ud(online), heads_spanning_not_enough(online),
            no_margin_costs_log_t(control), plateau_shrinks_with_lambda(dial, "f4"),
            plateau_shrinks_with_lambda(dial, "f5"), personalization_pays_with_diversity(dial)]
