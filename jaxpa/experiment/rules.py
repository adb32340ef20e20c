"""The claim rules: each claim is judged draw by draw on many instances, and every branch of every
rule ("supported", "not supported", "inconclusive") is reachable from data.

A rule turns each instance draw into an outcome: ``agree`` (the draw behaves as the claim says),
``contradict`` (it behaves as the claim says it cannot), ``undetermined`` (the run cannot tell),
or ``excluded`` (the draw cannot test the claim: e.g. its diagnostics say UD holds where the claim
is about UD failing, or the learner is not consistent on it). The UD status always comes from the
diagnostics of the instances actually run, never from a family's name. Then, with n the draws
not excluded and a 95% Wilson interval on each share:

    not supported  if the contradicting share's interval lies above 1/2;
    supported      if the agreeing share's interval lies above 1/2 and the claim's control holds;
    inconclusive   otherwise (and when no draw can test the claim).

Curve outcomes come from ``diagnostics.curve_stats.growth`` (dies out / persists / linear /
undetermined, per-doubling increments against a stated slope floor).
"""
from __future__ import annotations

import numpy as np
import scipy.stats

from jaxpa.experiment.claims import Claim

OUTCOMES = ("agree", "contradict", "undetermined", "excluded")


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (n > 0)."""
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def judge(name: str, statement: str, outcomes, evidence: str, control: bool = True,
          control_note: str = "") -> Claim:
    """The claim's verdict from per-draw outcomes (module docstring)."""
    outcomes = [str(o) for o in np.ravel(outcomes)]
    bad = set(outcomes) - set(OUTCOMES)
    if bad:
        raise ValueError(f"unknown outcomes {sorted(bad)}")
    n = sum(o != "excluded" for o in outcomes)
    a, c = outcomes.count("agree"), outcomes.count("contradict")
    if n == 0:
        note = f" Control: {control_note}." if control_note else ""
        return Claim(name, statement, "inconclusive",
                     f"no draw can test it ({len(outcomes)} excluded). {evidence}{note}")
    ci_a, ci_c = wilson(a, n), wilson(c, n)
    counts = (f"{a} of {n} draws agree [{ci_a[0]:.2f}, {ci_a[1]:.2f}], {c} contradict, "
              f"{outcomes.count('undetermined')} undetermined, {outcomes.count('excluded')} "
              "excluded")
    if ci_c[0] > 0.5:
        verdict, why = "not supported", "most draws contradict it"
    elif ci_a[0] > 0.5 and control:
        verdict, why = "supported", "most draws agree"
    elif ci_a[0] > 0.5:
        verdict, why = "inconclusive", f"most draws agree but the control fails: {control_note}"
    else:
        verdict, why = "inconclusive", "neither share is clearly above one half"
    text = f"{why}: {counts}. {evidence}" + (f" Control: {control_note}." if control_note else "")
    return Claim(name, statement, verdict, text, a, n, ci_a)


def growth_outcome(cls, good: str, bad: tuple[str, ...], excluded=()) -> np.ndarray:
    """Per-draw outcomes from growth classes: ``good`` agrees, ``bad`` contradict, classes in
    ``excluded`` exclude the draw, the rest are undetermined."""
    cls = np.asarray(cls)
    return np.select([np.isin(cls, list(excluded)), cls == good, np.isin(cls, list(bad))],
                     ["excluded", "agree", "contradict"], "undetermined")


def greedy_bounded_under_ud(cls, ud) -> np.ndarray:
    """C1 per draw: where UD holds, greedy's regret after a warm start must die out; log growth
    that persists (or linear growth) contradicts; draws where UD fails are excluded."""
    out = growth_outcome(cls, "dies out", ("persists", "linear"))
    return np.where(np.asarray(ud, bool), out, "excluded")


def consistent_pay_log_t(cls, ud) -> np.ndarray:
    """C2 per (learner, draw): where UD fails, a consistent learner's growth must persist
    (log T); dying out contradicts; a linear curve is not consistent (excluded: no evidence for
    or against); draws where UD holds are excluded."""
    out = growth_outcome(cls, "persists", ("dies out",), excluded=("linear",))
    return np.where(~np.asarray(ud, bool), out, "excluded")


def flatter_control(slopes_fails, slopes_holds, factor: float = 0.5) -> tuple[bool, str]:
    """C2's control: the same learner is much flatter on the matched UD-holds draws: its median
    late log-slope there is at most ``factor`` times the median on the UD-fails draws."""
    sf, sh = float(np.median(slopes_fails)), float(np.median(slopes_holds))
    ok = sh <= factor * sf
    return ok, (f"median late slope {sh:.2f} with UD vs {sf:.2f} without "
                f"({'flatter' if ok else 'NOT flatter'} by the factor {factor})")


def lock_in_contrast(lock_fails, lock_holds, n_boot: int = 2000, seed: int = 0):
    """C3: the mean over draws of P(seed has a locked cell), UD failing minus UD holding, with a
    percentile-bootstrap CI over draws: (difference, low, high)."""
    a, b = np.asarray(lock_fails, float), np.asarray(lock_holds, float)
    rng = np.random.default_rng(seed)
    boots = (rng.choice(a, (n_boot, a.size)).mean(1) - rng.choice(b, (n_boot, b.size)).mean(1))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def greedy_locks_without_ud(lock_fails, ud_fails, lock_holds, ud_holds) -> Claim:
    """C3: without UD greedy locks a (user, prompt) cell with positive probability, more often
    than on the matched UD-holds draws. Supported: the difference's CI above 0 and some fails
    draw locks; not supported: the CI below 0, or no lock anywhere on the fails side; draws whose
    diagnostics disagree with their side are excluded."""
    lf = np.asarray(lock_fails, float)[~np.asarray(ud_fails, bool)]
    lh = np.asarray(lock_holds, float)[np.asarray(ud_holds, bool)]
    name = "C3 greedy locks without UD"
    statement = ("Without UD, greedy (no warm start) locks some user onto a suboptimal response "
                 "with positive probability, more often than with UD.")
    if lf.size == 0 or lh.size == 0:
        return Claim(name, statement, "inconclusive",
                     f"needs draws of both sides ({lf.size} fail UD, {lh.size} hold it)")
    diff, lo, hi = lock_in_contrast(lf, lh)
    k = int((lf > 0).sum())
    evidence = (f"P(a seed locks some cell) {lf.mean():.2f} without UD ({lf.size} draws, {k} with "
                f"a lock) vs {lh.mean():.2f} with UD ({lh.size} draws): difference {diff:.2f} "
                f"[{lo:.2f}, {hi:.2f}]")
    if hi < 0 or k == 0:
        verdict = "not supported"
    elif lo > 0:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence, k, int(lf.size), wilson(k, lf.size))


def span_not_enough(head_rank, k: int, ud, majority_cls) -> np.ndarray:
    """C5 per draw: heads spanning R^k (head rank k) while UD fails, and the consistent learners'
    majority growth persists (agree) or dies out (contradict); other draws are excluded."""
    out = growth_outcome(majority_cls, "persists", ("dies out",), excluded=("linear",))
    test = (np.asarray(head_rank) == k) & ~np.asarray(ud, bool)
    return np.where(test, out, "excluded")


def majority_class(classes: np.ndarray) -> np.ndarray:
    """The most frequent growth class over the first axis (learners) of [L, B] classes; ties go
    to 'undetermined'."""
    classes = np.asarray(classes)
    out = []
    for col in classes.T:
        kinds, counts = np.unique(col, return_counts=True)
        best = kinds[counts == counts.max()]
        out.append(best[0] if best.size == 1 else "undetermined")
    return np.asarray(out)


def no_margin_log_t(cls, ud) -> np.ndarray:
    """C6 per draw: without a margin (UD holding), even greedy after a warm start pays log T:
    growth that persists agrees, dying out contradicts."""
    out = growth_outcome(cls, "persists", ("dies out",))
    return np.where(np.asarray(ud, bool), out, "excluded")


def personalization_pays(ratio, eta, n_boot: int = 2000, seed: int = 0) -> tuple[Claim, list]:
    """C8: one shared reward model does as well as the personalized one on a homogeneous
    population (eta = 0) and worse as heads spread. ratio: R_pop(T) / R_personalized(T) per draw
    [B]; eta: the dial value of each draw [B]. Per draw at the largest eta: a ratio above 1.05
    agrees, below 0.95 contradicts; the control: at eta = 0 the ratio's bootstrap CI over draws
    includes 1 (or its mean is within 5% of 1). Returns (claim, rows per eta value)."""
    ratio, eta = np.asarray(ratio, float), np.asarray(eta, float)
    rng = np.random.default_rng(seed)
    rows = []
    for v in np.unique(eta):
        r = ratio[eta == v]
        lo, hi = np.percentile(rng.choice(r, (n_boot, r.size)).mean(1), [2.5, 97.5])
        rows.append({"eta": float(v), "ratio_mean": float(r.mean()), "ci": [float(lo), float(hi)],
                     "draws": int(r.size)})
    top = ratio[eta == eta.max()]
    outcomes = np.select([top > 1.05, top < 0.95], ["agree", "contradict"], "undetermined")
    flat = rows[0]
    equal = flat["ci"][0] <= 1.0 <= flat["ci"][1] or abs(flat["ratio_mean"] - 1) < 0.05
    claim = judge("C8 personalization pays", "A single shared reward model does as well as the "
                  "personalized one on a homogeneous population (eta = 0) and worse as heads "
                  "spread.", outcomes,
                  f"Per draw at eta = {eta.max():.2f}: R_pop(T) / R_pers(T) above 1.05 agrees, "
                  "below 0.95 contradicts.", control=equal,
                  control_note=f"at eta = {flat['eta']:.2f} the ratio is {flat['ratio_mean']:.2f} "
                               f"[{flat['ci'][0]:.2f}, {flat['ci'][1]:.2f}] (must include 1)")
    return claim, rows
