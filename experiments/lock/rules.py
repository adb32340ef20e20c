"""The rules of claim C9 (robust UD and permanent lock-in), judged draw by draw on the robust pair
(envs/matched.py ``robust_pair``) from ``diagnostics.permanent_lock`` counts: per draw, k of n
healthy seeds locked some (user, prompt) cell over [T/2, T] and were still locked on the same
response at factor * T.

C9 has three parts, each judged per learner (its verdict names the learner) and per warm start n0:

- (a) robust UD => no permanent lock: universal. A draw whose diagnostics say UD and robust UD
  hold agrees when no healthy seed locks for good and contradicts when one does (one locked
  seed is a failure: the claim is about every seed); a draw whose horizon T is below
  BURN_IN_MULTIPLE times its unlock time (``Diagnostics.unlock_time``) is undetermined (a lock
  seen there may still break); every contradicting draw is listed. It is
  "not supported" when a contradiction reproduces (the draw rerun with fresh seeds locks for good
  again), "supported" when no draw contradicts and the agreeing share's Wilson interval lies above
  1/2, "inconclusive" otherwise (an unreproduced contradiction among them).
- (b) UD without robust UD => greedy locks for good with positive probability: existential. A draw
  (UD holds, robust UD fails) agrees when some seed locks for good; no lock is "undetermined"
  (finitely many seeds cannot show a zero probability). Supported when some draw agrees and the
  pooled share's Wilson interval lies above 0; "not supported" when no seed of any draw locks
  for good and the pooled share's upper bound is below ``small`` (0.05): the probability, if
  positive, is too small to matter at this n0; inconclusive otherwise.
- (c) a warm start only lowers that probability: over the n0 grid, the pooled share at a larger
  n0 must not be significantly higher (one-sided Fisher exact test, p < 0.05) than at a smaller
  one: a significant rise contradicts ("not supported"); supported when the share at the largest
  n0 is at most the share at n0 = 0; inconclusive otherwise.

Unhealthy runs are dropped by ``permanent_lock`` (n counts healthy seeds) and their number stated;
a draw with no healthy seed is excluded.
"""
from __future__ import annotations

import numpy as np
import scipy.stats

from jaxpa.diagnostics.lock_persistence import wilson_interval
from jaxpa.experiment.claims import Claim

SMALL = 0.05
BURN_IN_MULTIPLE = 4.0


def robust_outcomes(k, n, ud, robust, determined=None) -> np.ndarray:
    """(a) per draw: agree (no permanent lock), contradict (some), undetermined where
    ``determined`` is False (a horizon below a stated multiple of the draw's burn-in: a lock seen
    there may still break), excluded (diagnostics say UD or robust UD fails, or no healthy
    seed)."""
    k, n = np.asarray(k), np.asarray(n)
    test = np.asarray(ud, bool) & np.asarray(robust, bool) & (n > 0)
    det = np.ones(k.shape, bool) if determined is None else np.asarray(determined, bool)
    return np.where(test, np.where(~det, "undetermined", np.where(k > 0, "contradict", "agree")),
                    "excluded")


def fragile_outcomes(k, n, ud, robust) -> np.ndarray:
    """(b) per draw: agree (some permanent lock), undetermined (none), excluded (diagnostics say
    UD fails or robust UD holds, or no healthy seed)."""
    k, n = np.asarray(k), np.asarray(n)
    test = np.asarray(ud, bool) & ~np.asarray(robust, bool) & (n > 0)
    return np.where(test, np.where(k > 0, "agree", "undetermined"), "excluded")


def _counts(outcomes) -> tuple[int, int, int]:
    o = list(np.ravel(outcomes))
    n = sum(x != "excluded" for x in o)
    return n, o.count("agree"), o.count("contradict")


def judge_no_permanent_lock(learner: str, n0: int, k, n, ud, robust, reproduced,
                            n_unhealthy: int = 0, determined=None) -> Claim:
    """C9(a) for one learner and warm start (module docstring). reproduced: [B] bool, whether
    the draw locked for good again when rerun with fresh seeds (read on contradicting draws);
    determined: [B] bool, whether the draw's horizon reaches the stated multiple of its burn-in
    (default: every draw)."""
    out = robust_outcomes(k, n, ud, robust, determined)
    draws, a, c = _counts(out)
    bad = [int(i) for i in np.flatnonzero(out == "contradict")]
    again = [i for i in bad if bool(np.asarray(reproduced)[i])]
    listing = ", ".join(f"draw {i}: {int(k[i])}/{int(n[i])} seeds"
                        + (" (reproduced)" if i in again else " (not reproduced)") for i in bad)
    name = f"C9a robust UD => no permanent lock [{learner}, n0 = {n0}]"
    statement = (f"Where UD and robust UD hold, {learner} with warm start {n0} never locks a "
                 "(user, prompt) cell for good.")
    u = int((out == "undetermined").sum())
    evidence = (f"{a} of {draws} robust draws without a permanent lock, {c} contradicting"
                + (f" ({listing})" if bad else "") + f", {u} undetermined (horizon below the "
                f"burn-in multiple); {n_unhealthy} unhealthy runs dropped.")
    if draws == 0:
        return Claim(name, statement, "inconclusive", "no draw can test it. " + evidence)
    low = wilson_interval(a, draws)[0]
    if again:
        verdict = "not supported"
    elif c == 0 and low > 0.5:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence, a, draws,
                 tuple(float(x) for x in wilson_interval(a, draws)))


def judge_locks_for_good(learner: str, n0: int, k, n, ud, robust, n_unhealthy: int = 0,
                         small: float = SMALL) -> Claim:
    """C9(b) for one learner and warm start (module docstring)."""
    out = fragile_outcomes(k, n, ud, robust)
    draws, a, _ = _counts(out)
    test = out != "excluded"
    kk, nn = int(np.asarray(k)[test].sum()), int(np.asarray(n)[test].sum())
    name = f"C9b no robust UD => permanent lock [{learner}, n0 = {n0}]"
    statement = (f"Where UD holds but robust UD fails, {learner} with warm start {n0} locks some "
                 "cell for good with positive probability.")
    if draws == 0 or nn == 0:
        return Claim(name, statement, "inconclusive", "no draw can test it")
    lo, hi = wilson_interval(kk, nn)
    evidence = (f"{a} of {draws} draws lock some seed for good; pooled P(permanent lock) "
                f"{kk}/{nn} = {kk / nn:.3f} [{lo:.3f}, {hi:.3f}]; {n_unhealthy} unhealthy runs "
                "dropped.")
    if a > 0 and lo > 0:
        verdict = "supported"
    elif kk == 0 and hi < small:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence, a, draws,
                 tuple(float(x) for x in wilson_interval(a, draws)))


def judge_warm_start_lowers(learner: str, n0s, k_by_n0, n_by_n0, alpha: float = 0.05) -> Claim:
    """C9(c): pooled permanent-lock counts per warm start (k_by_n0, n_by_n0: [len(n0s)] over the
    draws where robust UD fails) must not rise significantly with n0 (module docstring)."""
    k, n = np.asarray(k_by_n0, int), np.asarray(n_by_n0, int)
    name = f"C9c a warm start lowers P(permanent lock) [{learner}]"
    statement = f"A longer warm start never makes {learner} lock for good more often."
    shares = ", ".join(f"n0 = {a}: {b}/{c}" for a, b, c in zip(n0s, k, n))
    rises = []
    for i in range(len(n0s)):
        for j in range(i + 1, len(n0s)):
            table = [[k[j], n[j] - k[j]], [k[i], n[i] - k[i]]]
            if n[i] and n[j] and scipy.stats.fisher_exact(table, "greater").pvalue < alpha:
                rises.append(f"{n0s[i]} -> {n0s[j]}")
    evidence = f"P(permanent lock) by n0: {shares}" + (f"; significant rises: {rises}" if rises
                                                         else "")
    if rises:
        verdict = "not supported"
    elif n[-1] and n[0] and k[-1] / n[-1] <= k[0] / n[0]:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence)
