"""The dial experiment's claims (rules fixed here, each able to say "not supported"):

- C7 lambda_D, "greedy's plateau shrinks as lambda_D grows", judged line by line at n0 = n0_focus
  on the dial lines where lambda_D moves: a line agrees when the slope of log plateau on
  log lambda_D (over its points with T >= 4 burn-ins and >= 2 unlocked seeds; CI from resampling
  each point's seeds) has its CI below 0, contradicts when the CI is above 0, else undetermined;
  lines with fewer than 3 such points, or where lambda_D moves less than 1.5-fold over them, are
  excluded. ``rules.judge`` turns the outcomes into the verdict; its control is the across-draws
  rank correlation of lambda_D with the plateau (negative, CI below 0).
- C7' best constant, "a stated constant predicts the plateau beyond the gaps", in two steps.
  Selection, on the first family's draws (F1, fixed sizes) at n0 = n0_focus: the candidate with
  the largest rank correlation in its expected direction (information constants: negative;
  times: positive) is named; the controls (measure.CONTROLS: gap_only = 1/(kappa Delta_min^2),
  inverse_gap2 = 1/Delta_min^2, hls_time) are never candidates. It passes when its signed rho CI
  and its signed slope beyond *each* control (log plateau ~ log x + log control) all lie above 0,
  at the level 1 - 0.05 / m for the m candidates compared (Bonferroni: the claim is about the
  best of a dozen; requiring every interval is an intersection-union test, no further
  adjustment). No candidate's rho CI excluding 0: "not supported"; a winner that does not pass,
  or fewer than ``min_draws`` usable draws: "inconclusive".
  Replication, on fresh draws of other families (``replication``): the SAME constant, no
  re-selection, its rho and slopes beyond each control at 95% (one pre-named constant). In both
  steps, draws whose plateau is undefined (every seed locked) and draws where the constant is
  infinite (unlock_time = inf: a permanent lock is possible, the constant names no plateau) are
  counted, by population, and left out of the test; the scope says where the constant is
  undefined. "supported" needs the selection to pass and the replication to pass the same way
  (the scope: both sets of draws, at n0_focus, where the constant is finite). A replication whose
  rho or some slope beyond a control has its CI on the wrong side of 0 makes it "not supported";
  one that shows neither, or has fewer than ``min_draws`` usable draws, leaves it "inconclusive";
  either way the evidence says where it still holds ("Supported where: the selection draws").
  No replication run: never "supported". The fraction of dial lines (where the winner moves)
  whose within-line slope has the predicted sign with its CI excluding 0 is reported beside it
  (Wilson).
"""
from __future__ import annotations

import numpy as np

from experiments.dial import stats as ds
from jaxpa.experiment import rules
from jaxpa.experiment.claims import Claim
from experiments.dial.measure import CONTROLS, MIN_RANGE, SIGN, beyond_controls

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


def claim_stats(x: dict, y, controls: dict, n_boot: int, level: float, groups=None) -> dict:
    """Per candidate (not a control) across the draws: Spearman rho, log-log slope and the slope
    beyond each control, with CIs at ``level``, over the draws where the candidate is finite and
    the plateau defined; how many draws have the candidate infinite (by ``groups``, the
    population of each draw) or NaN, and the plateau undefined (every seed locked); the rho
    within each group (``by_group``: whether the pooled rho holds inside each population).
    x: {candidate: [B]}; y: the plateaus [B]; controls: {control: [B]}; groups: [B] labels."""
    y = np.asarray(y, np.float64)
    groups = np.asarray(["draws"] * len(y) if groups is None else groups)
    out = {}
    for c, v in x.items():
        if c in controls:
            continue
        raw = np.asarray(v, np.float64)
        inf = np.isinf(raw)
        v = np.where(inf, np.nan, raw)  # undefined there: counted, out of the test
        s, l = ds.spearman(v, y, n_boot, level=level), ds.loglog_slope(v, y, n_boot, level=level)
        beyond = beyond_controls(v, y, controls, n_boot, level)
        out[c] = {"rho": s["rho"], "rho_ci": s["ci"], "slope": l["slope"], "slope_ci": l["ci"],
                  "beyond": {k: {"slope": b["slope"], "ci": b["ci"], "n": b["n"]}
                             for k, b in beyond.items()},
                  "n": s["n"], "draws": int(len(y)), "plateau_undefined": int(np.isnan(y).sum()),
                  "nan": int(np.isnan(raw).sum()),
                  "inf": {str(g): [int((inf & (groups == g)).sum()), int((groups == g).sum())]
                          for g in dict.fromkeys(groups.tolist()) if (inf & (groups == g)).any()},
                  "by_group": {str(g): ds.spearman(v[groups == g], y[groups == g], n_boot,
                                                   level=level)
                               for g in dict.fromkeys(groups.tolist())}}
    return out


def _passes(a: dict, sign: int) -> tuple[str, str]:
    """("pass" | "contradict" | "open", why): the signed rho CI and every signed slope beyond a
    control above 0 (pass); some of them below 0 (contradict); else open."""
    lo, hi = _signed(a["rho"], a["rho_ci"], sign)[1]
    parts = {k: _signed(b["slope"], b["ci"], sign)[1] for k, b in a["beyond"].items()}
    lows = [lo] + [p[0] for p in parts.values()]
    if all(np.isfinite(v) and v > 0 for v in lows):
        return "pass", ""
    wrong = (["rho"] if np.isfinite(hi) and hi < 0 else []) + \
        [f"beyond {k}" for k, p in parts.items() if np.isfinite(p[1]) and p[1] < 0]
    if wrong:
        return "contradict", f"the CI of its {', '.join(wrong)} lies on the wrong side of 0"
    short = (["rho"] if not (np.isfinite(lo) and lo > 0) else []) + \
        [f"beyond {k}" for k, p in parts.items() if not (np.isfinite(p[0]) and p[0] > 0)]
    return "open", f"not shown in the predicted direction (CI reaches 0): {', '.join(short)}"


def _nums(c: str, a: dict, level: float, where: str) -> str:
    f = lambda v, ci: f"{v:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}]"
    beyond = ", ".join(f"beyond {k} {f(b['slope'], b['ci'])}" for k, b in a["beyond"].items())
    undefined = []
    if a["inf"]:
        undefined.append(f"{c} = inf on " + ", ".join(f"{k} of {n} {g}" for g, (k, n) in
                                                        a["inf"].items())
                         + " draws (undefined there: out of the test)")
    if a["plateau_undefined"]:
        undefined.append(f"{a['plateau_undefined']} draws with every seed locked (no plateau)")
    if a["nan"]:
        undefined.append(f"{c} undefined (NaN) on {a['nan']} draws")
    groups = a.get("by_group", {})
    per = ("; rho by population: " + ", ".join(
        f"{g} {f(r['rho'], r['ci'])} ({r['n']})" if np.isfinite(r["rho"]) else f"{g} n/a ({r['n']})"
        for g, r in groups.items())) if len(groups) > 1 else ""
    return (f"rho = {f(a['rho'], a['rho_ci'])}, log-log slope {f(a['slope'], a['slope_ci'])}, "
            f"{beyond}, over {a['n']} of {a['draws']} {where} draws ({100 * level:.2f}% CIs"
            + (f"; {'; '.join(undefined)}" if undefined else "") + f"){per}")


def best_constant_claim(across: dict, line_counts: dict, n0: int, min_draws: int = 10,
                        level: float = 0.95, replication: dict | None = None,
                        scope: tuple = ("F1 draws", "replication draws")) -> Claim:
    """C7' (module docstring). across: ``claim_stats`` over the first family's draws at n0, CIs at
    ``level`` (1 - 0.05 / m for m candidates); replication: ``claim_stats`` over the fresh draws
    of other families at 95% (None: no replication, so never "supported"); line_counts:
    {candidate: (agree, contradict, total)} over the dial lines where it moves; scope: what the
    first family's and the replication's draws are (families, sizes), for the evidence."""
    names = [c for c in across if c not in CONTROLS and np.isfinite(across[c]["rho"])]
    usable = max((across[c]["n"] for c in names), default=0)
    if not names or usable < min_draws:
        return Claim(BEST_NAME, BEST_STATEMENT, "inconclusive",
                     f"too few draws to rank the candidates ({usable} usable, {min_draws} needed).")
    score = {c: _signed(across[c]["rho"], across[c]["rho_ci"], SIGN[c]) for c in names}
    best = max(names, key=lambda c: score[c][0])
    a = across[best]
    excludes0 = [c for c in names if np.isfinite(across[c]["rho_ci"][0])
                 and (across[c]["rho_ci"][0] > 0 or across[c]["rho_ci"][1] < 0)]
    agree, contra, total = line_counts.get(best, (0, 0, 0))
    lines = (f"On the dial lines where {best} moves, {agree} of {total} have a within-line slope of "
             f"the predicted sign with a 95% CI excluding 0 ({contra} the opposite)"
             + (f", share [{rules.wilson(agree, total)[0]:.2f}, {rules.wilson(agree, total)[1]:.2f}]"
                if total else "") + ".")
    direction = "larger is a larger plateau" if SIGN[best] > 0 else "larger is a smaller plateau"
    first, second = scope
    nums = (f"{best} ({direction}), selected among {len(names)} candidates at n0 = {n0}: "
            f"{_nums(best, a, level, 'selection')}; controls {', '.join(CONTROLS)}")
    step1, why1 = _passes(a, SIGN[best])
    rep = (replication or {}).get(best)
    rep_text = ""
    if rep is not None:
        step2, why2 = _passes(rep, SIGN[best]) if rep["n"] >= min_draws else ("few", "")
        rep_text = (f" Replication, the same constant on fresh draws: "
                    f"{_nums(best, rep, 0.95, 'replication')}"
                    + (f"; {why2}" if why2 else "")
                    + ("; too few usable draws" if step2 == "few" else "") + ".")
    else:
        step2 = "none"
    draws = f" Selection draws: {first}." + (f" Replication draws: {second}." if rep else "")
    if not excludes0:
        verdict = "not supported"
        text = f"No candidate's rank correlation with the plateau excludes 0; the best is {nums}."
    elif step1 != "pass":
        verdict = "inconclusive"
        text = (f"The best candidate is {nums}; {why1}. Candidates whose rho excludes 0: "
                f"{', '.join(excludes0)}.")
    else:
        rho = score[best][0]
        strength = "strongly" if rho >= 0.8 else "moderately" if rho >= 0.5 else "weakly"
        text = f"{best} predicts the plateau beyond every control, {strength}: {nums}."
        finite = f", where {best} is finite" if (rep and rep["inf"]) or a["inf"] else ""
        if step2 == "pass":
            verdict = "supported"
            text += f" Scope: the selection and the replication draws at n0 = {n0}{finite}."
        else:
            verdict = "not supported" if step2 == "contradict" else "inconclusive"
            how = {"contradict": "contradicted", "none": "no replication run",
                   "few": "too few usable draws"}.get(step2, "not shown")
            text += (f" It does not replicate ({how}). Supported where: the selection draws at "
                     f"n0 = {n0}{finite if a['inf'] else ''}.")
    text += draws
    return Claim(BEST_NAME, BEST_STATEMENT, verdict, f"{text}{rep_text} {lines}", agree,
                 total or None, rules.wilson(agree, total) if total else None)
