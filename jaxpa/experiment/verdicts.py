"""Verdict pieces that make a claim rule tell the whole truth (used by the claim rules).

- ``healthy_growth``: growth classes from healthy runs only (a run whose learner state went
  non-finite, ``Curves.nonfinite_at`` > 0, is dropped), per draw, with the number dropped; a draw
  with fewer than two healthy seeds is "unhealthy" (no evidence).
- ``below_burn_in``: a draw whose horizon is below ``multiple`` times its burn-in (a time constant
  of the instance, e.g. ``Diagnostics.unlock_time``; non-finite: never reached) cannot show
  boundedness: its outcome becomes "undetermined", never support.
- ``per_draw``: one outcome per draw from several learners' outcomes (a universal claim about
  every learner of a kind: one contradicting learner makes the draw contradict), so a Wilson
  interval counts draws, not (learner, draw) pairs.
- ``judge_universal``: a universal claim ("for every draw ...") lists every contradicting draw
  with what it is, and is "not supported" when a contradiction reproduces (the draw rerun with
  fresh seeds contradicts again), saying where it still holds when a diagnosed property of the
  draws separates the contradicting draws from the rest ("supported where ..." in the evidence);
  "supported" only without contradictions and with the agreeing share's Wilson interval above
  1/2; "inconclusive" otherwise (an unreproduced contradiction, too many undetermined draws).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from jaxpa.diagnostics.curve_stats import growth
from jaxpa.diagnostics.lock_persistence import wilson_interval
from jaxpa.experiment.claims import Claim


def healthy_growth(checkpoints, regret, nonfinite_at, floor: float = 0.5) -> tuple[dict, int]:
    """``growth`` per draw over its healthy seeds: regret [B, S, C], nonfinite_at [B, S].
    Returns (the growth dict with [B] arrays, class "unhealthy" where fewer than 2 seeds are
    healthy; the number of runs dropped)."""
    regret = np.asarray(regret)
    healthy = np.asarray(nonfinite_at) == 0
    dropped = int((~healthy).sum())
    if dropped == 0:
        return growth(checkpoints, regret, floor=floor), 0
    rows = []
    for b in range(regret.shape[0]):
        keep = regret[b][healthy[b]]
        if keep.shape[0] >= 2:
            rows.append({k: np.asarray(v).item() for k, v in
                         growth(checkpoints, keep, floor=floor).items()})
        else:
            rows.append(None)
    keys = next((list(r) for r in rows if r is not None), ["class"])
    out = {k: np.array([np.nan if r is None else r[k] for r in rows]) for k in keys if k != "class"}
    out["class"] = np.array(["unhealthy" if r is None else r["class"] for r in rows])
    return out, dropped


def below_burn_in(outcomes, horizon, burn_in, multiple: float = 4.0) -> np.ndarray:
    """Outcomes with every draw whose horizon is below ``multiple`` x its burn-in (or whose
    burn-in is not finite) made "undetermined"; excluded draws stay excluded."""
    outcomes = np.asarray(outcomes).astype(object)
    burn = np.asarray(burn_in, np.float64)
    short = ~np.isfinite(burn) | (np.asarray(horizon, np.float64) < multiple * burn)
    return np.where((outcomes != "excluded") & short, "undetermined", outcomes).astype(str)


def per_draw(outcomes_by_learner) -> np.ndarray:
    """[L, B] outcomes -> [B]: excluded where every learner is; contradict where any learner
    contradicts; agree where every learner not excluded agrees; undetermined otherwise."""
    o = np.asarray(outcomes_by_learner).astype(str)
    live = o != "excluded"
    contra = (o == "contradict").any(0)
    agree = ((o == "agree") | ~live).all(0) & live.any(0)
    return np.select([~live.any(0), contra, agree], ["excluded", "contradict", "agree"],
                     "undetermined")


def _scope(outcomes, reproduced, scope: Mapping[str, np.ndarray]) -> str:
    """The first diagnosed property that every reproduced contradiction lacks and under which
    the agreeing share's Wilson interval lies above 1/2: "supported where <name> (a of n draws
    agree, CI)", or ""."""
    bad = (outcomes == "contradict") & reproduced
    for name, prop in scope.items():
        prop = np.asarray(prop, bool)
        if bad.any() and not (bad & prop).any():
            inside = prop & (outcomes != "excluded")
            n, a = int(inside.sum()), int(((outcomes == "agree") & prop).sum())
            if n and wilson_interval(a, n)[0] > 0.5:
                lo, hi = wilson_interval(a, n)
                return (f" Supported where {name}: {a} of {n} such draws agree [{lo:.2f}, "
                        f"{hi:.2f}], and none contradicts.")
    return ""


def judge_universal(name: str, statement: str, outcomes, evidence: str, *,
                    reproduced=None, describe: Callable[[int], str] = lambda b: "",
                    scope: Mapping[str, np.ndarray] | None = None, control: bool = True,
                    control_note: str = "", notes: str = "") -> Claim:
    """A universal claim's verdict from per-draw outcomes (module docstring). reproduced: [B]
    bool, read on contradicting draws (None: not rerun, so no contradiction counts as
    reproduced); describe(b): what draw b is (its diagnostics), printed beside each
    contradiction; scope: diagnosed properties per draw to state where the claim still holds;
    notes: what was dropped (unhealthy runs, short horizons)."""
    outcomes = np.asarray(outcomes).astype(str)
    B = outcomes.shape[0]
    reproduced = np.zeros(B, bool) if reproduced is None else np.asarray(reproduced, bool)
    n = int((outcomes != "excluded").sum())
    a, c = int((outcomes == "agree").sum()), int((outcomes == "contradict").sum())
    u = int((outcomes == "undetermined").sum())
    bad = np.flatnonzero(outcomes == "contradict")
    listing = "; ".join(f"draw {b}{' ' + describe(b) if describe(b) else ''}"
                        f" ({'reproduced' if reproduced[b] else 'not reproduced'})" for b in bad)
    lo, hi = (float(x) for x in wilson_interval(a, n)) if n else (np.nan, np.nan)
    counts = (f"{a} of {n} draws agree [{lo:.2f}, {hi:.2f}], {c} contradict, {u} undetermined, "
              f"{B - n} excluded")
    text = f"{counts}. {evidence}" + (f" Contradicting: {listing}." if c else "") + \
        (f" {notes}" if notes else "") + (f" Control: {control_note}." if control_note else "")
    if n == 0:
        return Claim(name, statement, "inconclusive", "no draw can test it. " + text)
    if (reproduced & (outcomes == "contradict")).any():
        verdict = "not supported"
        text += _scope(outcomes, reproduced, scope or {})
    elif c == 0 and lo > 0.5 and control:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, text, a, n, (lo, hi))
