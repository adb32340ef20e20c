"""The dial experiment's claims (rules fixed here, each able to say "not supported"):

- C7 lambda_D, "greedy's plateau shrinks as lambda_D grows", judged line by line at n0 = n0_focus
  on the dial lines where lambda_D moves: a line agrees when the slope of log plateau on
  log lambda_D (over its points with T >= 4 burn-ins and >= 2 unlocked seeds; CI from resampling
  each point's seeds) has its CI below 0, contradicts when the CI is above 0, else undetermined;
  lines with fewer than 3 such points, or where lambda_D moves less than 1.5-fold over them, are
  excluded. ``rules.judge`` turns the outcomes into the verdict; its control is the across-draws
  rank correlation of lambda_D with the plateau (negative, CI below 0).
- C7' best constant, "a stated constant predicts the plateau beyond the gaps": across the draws at
  n0 = n0_focus, the candidate with the largest rank correlation in its expected direction
  (information constants: negative; times: positive; gap_only is the control, not a candidate)
  is named. Supported if its signed rho CI and its signed slope beyond gap_only CI both lie
  above 0; not supported if no candidate's rho CI excludes 0; inconclusive otherwise (and with
  fewer than ``min_draws`` usable draws). These CIs are at the level 1 - 0.05 / m for the m
  candidates compared (Bonferroni): with a dozen candidates, one 95% CI excluding 0 by chance is
  likely, and the claim is about the best of them. The fraction of dial lines (where the winner
  moves) whose within-line slope has the predicted sign with its CI excluding 0 is reported
  beside it (Wilson).
"""
from __future__ import annotations

import numpy as np

from experiments.dial import stats as ds
from jaxpa.experiment import rules
from jaxpa.experiment.claims import Claim
from experiments.dial.measure import CONTROL, MIN_RANGE, SIGN

C7_NAME, C7_STATEMENT = "C7 lambda_D", "Greedy's plateau shrinks as lambda_D grows."
BEST_NAME = "C7' best constant"
BEST_STATEMENT = "A stated constant of the population predicts greedy's plateau beyond the gaps."


def line_outcome(line: dict, sign: int = -1, n_boot: int = 2000) -> tuple[str, dict]:
    """One line's outcome for "the plateau moves with x in the direction ``sign``": agree (the
    within-line slope's CI on that side of 0), contradict (on the other side), undetermined,
    or excluded (fewer than 3 usable points, or x moving less than MIN_RANGE-fold over them)."""
    ok = line["ok"]
    x = line["x"][ok]
    if ok.sum() < 3 or np.ptp(np.log(x)) < np.log(MIN_RANGE):
        return "excluded", {"slope": np.nan, "ci": [np.nan, np.nan], "n": int(ok.sum())}
    s = ds.line_slope(x, line["final_excess"][ok], line["locked"][ok], n_boot)
    lo, hi = s["ci"]
    if not np.isfinite(s["slope"]) or not (np.isfinite(lo) and np.isfinite(hi)):
        return "undetermined", s
    if (sign < 0 and hi < 0) or (sign > 0 and lo > 0):
        return "agree", s
    if (sign < 0 and lo > 0) or (sign > 0 and hi < 0):
        return "contradict", s
    return "undetermined", s


def lambda_claim(lines: list[dict], across: dict | None, n0: int, n_boot: int = 2000) -> tuple[Claim, list[dict]]:
    """C7 lambda_D (module docstring): per-line outcomes through ``rules.judge``, the across-draws
    rho (``across``: {rho, rho_ci, n} or None) as the control. Returns the claim and per-line rows."""
    outcomes, rows = [], []
    for line in lines:
        o, s = line_outcome(line, -1, n_boot)
        outcomes.append(o)
        rows.append({"line": line["line"], "n0": n0, "outcome": o, "slope": s["slope"],
                     "slope_ci": [float(v) for v in s["ci"]], "points": s["n"]})
    if across is None or not np.isfinite(across["rho"]):
        control, note = False, "no across-draws rank correlation available"
    else:
        lo, hi = across["rho_ci"]
        control = hi < 0
        note = (f"across {across['n']} draws, rho(lambda_D, plateau) = {across['rho']:+.2f} "
                f"[{lo:+.2f}, {hi:+.2f}] ({'negative' if control else 'NOT shown negative'})")
    moved = [r for r in rows if r["outcome"] != "excluded"]
    slopes = ", ".join(f"{r['line']} {r['slope']:+.2f} [{r['slope_ci'][0]:+.2f}, "
                       f"{r['slope_ci'][1]:+.2f}]" for r in moved[:12])
    evidence = (f"(A 'draw' here is a dial line: one draw moved along its dial.) At n0 = {n0}, per "
                f"dial line where lambda_D moves >= {MIN_RANGE}-fold: slope of "
                f"log plateau on log lambda_D with a seed-resampling CI; below 0 agrees, above 0 "
                f"contradicts. Lines: {slopes or 'none'}{' ...' if len(moved) > 12 else ''}.")
    return rules.judge(C7_NAME, C7_STATEMENT, outcomes, evidence, control=control,
                       control_note=note), rows


def _signed(value, ci, sign):
    lo, hi = ci
    return (sign * value, [lo, hi] if sign > 0 else [-hi, -lo])


def claim_stats(x: dict, y, control, n_boot: int, level: float) -> dict:
    """Per candidate (not the control) across the draws: Spearman rho, log-log slope and slope
    beyond the control, with CIs at ``level`` (the claim's multiplicity-adjusted level).
    x: {candidate: [B]}; y: the plateaus [B]; control: gap_only [B]."""
    out = {}
    for c, v in x.items():
        if c == CONTROL:
            continue
        s, l = ds.spearman(v, y, n_boot, level=level), ds.loglog_slope(v, y, n_boot, level=level)
        p = ds.partial_slope(v, y, control, n_boot, level=level)
        out[c] = {"rho": s["rho"], "rho_ci": s["ci"], "slope": l["slope"], "slope_ci": l["ci"],
                  "partial": p["slope"], "partial_ci": p["ci"], "n": s["n"]}
    return out


def best_constant_claim(across: dict, line_counts: dict, n0: int, min_draws: int = 10,
                        level: float = 0.95) -> Claim:
    """C7' (module docstring). across: {candidate: {rho, rho_ci, partial, partial_ci, n, slope,
    slope_ci}} over the draws at n0, CIs at ``level`` (``claim_stats``: 1 - 0.05 / m for m
    candidates, so that 'some candidate's CI excludes 0' is not a matter of how many were tried);
    line_counts: {candidate: (agree, contradict, total)} over the dial lines where it moves."""
    names = [c for c in across if c != CONTROL and np.isfinite(across[c]["rho"])]
    usable = max((across[c]["n"] for c in names), default=0)
    if not names or usable < min_draws:
        return Claim(BEST_NAME, BEST_STATEMENT, "inconclusive",
                     f"too few draws to rank the candidates ({usable} usable, {min_draws} needed).")
    score = {c: _signed(across[c]["rho"], across[c]["rho_ci"], SIGN[c]) for c in names}
    best = max(names, key=lambda c: score[c][0])
    rho, (lo, hi) = score[best]
    a = across[best]
    part, (plo, phi) = _signed(a["partial"], a["partial_ci"], SIGN[best])
    excludes0 = [c for c in names if np.isfinite(across[c]["rho_ci"][0])
                 and (across[c]["rho_ci"][0] > 0 or across[c]["rho_ci"][1] < 0)]
    agree, contra, total = line_counts.get(best, (0, 0, 0))
    lines = (f"On the dial lines where {best} moves, {agree} of {total} have a within-line slope of "
             f"the predicted sign with a 95% CI excluding 0 ({contra} the opposite)"
             + (f", share [{rules.wilson(agree, total)[0]:.2f}, {rules.wilson(agree, total)[1]:.2f}]"
                if total else "") + ".")
    direction = "larger is a larger plateau" if SIGN[best] > 0 else "larger is a smaller plateau"
    nums = (f"{best} ({direction}): rho = {a['rho']:+.2f} [{a['rho_ci'][0]:+.2f}, "
            f"{a['rho_ci'][1]:+.2f}], log-log slope {a['slope']:+.2f} [{a['slope_ci'][0]:+.2f}, "
            f"{a['slope_ci'][1]:+.2f}], slope beyond gap_only {a['partial']:+.2f} "
            f"[{a['partial_ci'][0]:+.2f}, {a['partial_ci'][1]:+.2f}] over {a['n']} draws at n0 = "
            f"{n0} ({100 * level:.2f}% CIs: 95% adjusted for {len(names)} candidates)")
    if not excludes0:
        verdict = "not supported"
        text = f"No candidate's rank correlation with the plateau excludes 0; the best is {nums}."
    elif lo > 0 and plo > 0:
        verdict = "supported"
        strength = "strongly" if rho >= 0.8 else "moderately" if rho >= 0.5 else "weakly"
        text = f"{best} predicts the plateau beyond the gaps, {strength}: {nums}."
    else:
        verdict = "inconclusive"
        why = ("its rho is not shown in the predicted direction" if not lo > 0 else
               "it does not predict beyond gap_only (the CI of its slope beyond the gaps reaches 0)")
        text = (f"The best candidate is {nums}; {why}. Candidates whose rho excludes 0: "
                f"{', '.join(excludes0)}.")
    return Claim(BEST_NAME, BEST_STATEMENT, verdict, f"{text} {lines}", agree, total or None,
                 rules.wilson(agree, total) if total else None)
