"""The offline claims (C4), judged draw by draw (jaxpa/experiment/rules.py: Wilson intervals on
the shares of agreeing and contradicting draws) from the complexity class of each draw's n(eps)
(jaxpa/offline/complexity.py, records from experiments/offline/records.py). A draw's UD
status comes from its diagnostics, never from its population's name.

- C4 offline under UD: optimal logging on UD-holds draws: 'log(1/eps)' agrees, 'stalled' and
  'faster than log(1/eps)' contradict;
- C4 offline without UD: optimal logging on UD-fails draws: 'stalled' or 'faster than
  log(1/eps)' agree, 'log(1/eps)' (down to the Monte-Carlo floor) contradicts;
- C4 uniform control: uniform logging on every draw: 'log(1/eps)' agrees, 'stalled' and 'faster'
  contradict (coverage, not the instance, is what optimal play lacks without UD).
"""
from __future__ import annotations

import numpy as np

from jaxpa.experiment import rules
from jaxpa.offline.complexity import CLASSES

LOG, FASTER, STALLED, UNDETERMINED = CLASSES


def under_ud(classes, ud) -> np.ndarray:
    """C4 under UD per draw: 'log(1/eps)' agrees, 'stalled' / 'faster' contradict; draws whose
    diagnostics say UD fails are excluded."""
    cls = np.asarray(classes)
    out = np.select([cls == LOG, np.isin(cls, [STALLED, FASTER])], ["agree", "contradict"],
                    "undetermined")
    return np.where(np.asarray(ud, bool), out, "excluded")


def without_ud(classes, ud, flips=None) -> np.ndarray:
    """C4 without UD per draw: 'stalled' / 'faster' agree, 'log(1/eps)' contradicts; draws whose
    diagnostics say UD holds are excluded, and so (given ``flips`` [B] bool) are draws whose
    uncovered direction flips no decision (identifiable SubOpt 0: the log eventually reveals every
    decision, so nothing need stall)."""
    cls = np.asarray(classes)
    out = np.select([np.isin(cls, [STALLED, FASTER]), cls == LOG], ["agree", "contradict"],
                    "undetermined")
    out = np.where(~np.asarray(ud, bool), out, "excluded")
    # only a draw whose uncovered direction flips a decision can stall (the others are excluded)
    return out if flips is None else np.where(np.asarray(flips, bool), out, "excluded")


def uniform_control(classes) -> np.ndarray:
    """C4 uniform control per draw: 'log(1/eps)' agrees, 'stalled' / 'faster' contradict."""
    return under_ud(classes, np.ones(np.shape(classes), bool))


def _class_counts(recs) -> str:
    kinds = [r["test"]["class"] for r in recs]
    return ", ".join(f"{kinds.count(k)} {k}" for k in CLASSES if kinds.count(k)) or "none"


def _values(recs, key) -> np.ndarray:
    v = np.asarray([r["test"][key] for r in recs], np.float64)
    return v[np.isfinite(v)]


def _median(recs, key) -> float:
    v = _values(recs, key)
    return float(np.median(v)) if v.size else float("nan")


def _shape(recs, tol) -> str:
    """The bend and slope of the draws that have a fit, in one clause."""
    bend = _values(recs, "bend")
    if not bend.size:
        return "no draw has a fit"
    return (f"bend of n(eps) on the last resolved decade: median {np.median(bend):.2f} over "
            f"{bend.size} fitted draws (range {bend.min():.2f} to {bend.max():.2f}; 0 a line, 1 a "
            f"power law; 'log(1/eps)' needs the CI within +-{tol:g}), slope median "
            f"{_median(recs, 'slope'):.3g} rounds per unit of log(1/eps), resolved over a median "
            f"{_median(recs, 'decades'):.1f} decades of n down to SubOpt "
            f"{_median(recs, 'floor'):.2g}")


def offline_claims(records) -> list:
    """The three C4 claims (module docstring) from ``offline_records``."""
    tol = records[0]["test"]["tolerance"] if records else float("nan")
    opt = [r for r in records if r["policy"] == "optimal"]
    uni = [r for r in records if r["policy"] == "uniform"]
    seeds = lambda recs: (f"{recs[0]['test']['n_seeds']} seeds each" if recs else "")
    claims = []
    if opt:
        cls = [r["test"]["class"] for r in opt]
        ud = [r["ud"] for r in opt]
        holds = [r for r in opt if r["ud"]]
        fails = [r for r in opt if not r["ud"]]
        claims.append(rules.judge(
            "C4 offline under UD", "Under UD, optimal-vs-reference logging gives n(eps) = "
            "O(log 1/eps): n(eps) linear in log(1/eps) down to the Monte-Carlo floor.",
            under_ud(cls, ud),
            f"Optimal logging on the {len(holds)} UD-holds draws ({seeds(holds)}): "
            f"{_class_counts(holds)}; {_shape(holds, tol)}."))
        ident = _values(fails, "identifiable")
        flips = _values(opt, "identifiable") > 0
        claims.append(rules.judge(
            "C4 offline without UD", "Without UD, where the direction optimal play leaves "
            "uncovered flips a decision, optimal-vs-reference logging stalls or decays only "
            "polynomially (n(eps) grows faster than log 1/eps).",
            without_ud(cls, ud, flips),
            f"The uncovered direction flips a decision (identifiable SubOpt > 0) on "
            f"{int(np.sum(ident > 0))} of the {len(fails)} UD-fails draws "
            f"(share {np.mean(ident > 0) if len(fails) else float('nan'):.2f}); judged on those, "
            "the others excluded. "
            f"Optimal logging on the {len(fails)} UD-fails draws ({seeds(fails)}): "
            f"{_class_counts(fails)}; the identifiable SubOpt (what the log can ever reveal) is "
            f"positive on {int(np.sum(ident > 0))} of them"
            + (f" (median {np.median(ident[ident > 0]):.3g})" if np.any(ident > 0) else "")
            + (f"; the others: {_shape([r for r in fails if not r['test']['identifiable'] > 0], tol)}"
               if np.any(ident <= 0) else "") + "."))
    if uni:
        claims.append(rules.judge(
            "C4 uniform control", "Uniform logging gives n(eps) = O(log 1/eps) with or without "
            "UD (coverage by optimal play is what matters).",
            uniform_control([r["test"]["class"] for r in uni]),
            f"Uniform logging on all {len(uni)} draws ({seeds(uni)}): {_class_counts(uni)}; "
            f"{_shape(uni, tol)}."))
    return claims
