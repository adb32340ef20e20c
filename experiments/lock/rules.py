"""The rules of claim C9 (robust UD and permanent lock-in), judged draw by draw on the robust pair
(envs/matched.py ``robust_pair``) from ``diagnostics.permanent_lock`` counts: per draw, k of n
healthy seeds locked some (user, prompt) cell over [T/2, T] and were still locked on the same
response at factor * T.

C9 has four parts, each judged per learner (its verdict names the learner) and per warm start n0:

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

- (d) no strict self-consistent lock => no permanent lock, and every permanent lock is one of the
  draw's self-consistent locks: universal, over the draws of both populations
  (diagnostics.fixed_points: a draw's set of strict self-consistent locks). A draw contradicts
  when some healthy seed locks for good with an observed pattern (the responses its cells played
  over the continued run's last half, ``observed_pattern``; mixed cells unknown) that no lock of
  the set matches (on a draw without a lock, every permanent lock) and whose pattern the run kept
  for at least BURN_IN_MULTIPLE times its escape time (``fixed_points.escape_time``: the rounds
  of the pattern's own play that pin a decision it gets wrong; the run keeps it for the
  continued horizon c T); a draw whose only such locks are slower is undetermined (a slow lock the
  continuation cannot tell from a permanent one); it agrees otherwise; a draw whose set was not
  computed (too many configurations) or without a healthy seed is excluded.
  Verdicts as in (a): "not supported" when a contradiction reproduces on fresh seeds, "supported"
  when none contradicts, the agreeing share's Wilson interval lies above 1/2 and some draw tests
  the claim beyond a vacuous agreement (a lock-free draw, or a permanent lock whose pattern was
  checked), "inconclusive" otherwise.

Unhealthy runs are dropped by ``permanent_lock`` (n counts healthy seeds) and their number stated;
a draw with no healthy seed is excluded.
"""
from __future__ import annotations

import numpy as np
import scipy.stats

from jaxpa.diagnostics.fixed_points import pattern_in
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


def pattern_outside(permanent, healthy, patterns, locks) -> np.ndarray:
    """(d) the healthy seeds that locked for good with an observed pattern outside the draw's set
    of strict self-consistent locks: permanent, healthy [B, S] bool; patterns [B, S, N, M]
    (``fixed_points.observed_pattern``, -1 unknown); locks: per draw [L_b, N, M] (an empty set:
    every permanent lock is outside). [B, S] bool."""
    out = np.zeros(np.shape(permanent), bool)
    for b, draw_locks in enumerate(locks):
        for s in np.flatnonzero(np.asarray(permanent[b]) & np.asarray(healthy[b])):
            out[b, s] = not pattern_in(np.asarray(draw_locks), np.asarray(patterns[b][s]))
    return out


def fixed_point_outcomes(n, exists, outside, slow=None) -> np.ndarray:
    """(d) per draw: excluded (lock set not computed: ``exists`` NaN; no healthy seed), contradict
    (a permanent lock outside the set, played for at least BURN_IN_MULTIPLE times its escape
    time: ``outside`` > 0), undetermined (the only such locks are slower: ``slow`` > 0), agree."""
    n, exists = np.asarray(n), np.asarray(exists, float)
    slow = np.zeros(np.shape(n), int) if slow is None else np.asarray(slow)
    test = np.isfinite(exists) & (n > 0)
    return np.where(test, np.where(np.asarray(outside) > 0, "contradict",
                                   np.where(slow > 0, "undetermined", "agree")), "excluded")


def judge_fixed_point(learner: str, n0: int, k, n, exists, outside, reproduced, labels=None,
                      n_unhealthy: int = 0, slow=None, slow_times=None) -> Claim:
    """C9(d) for one learner and warm start over the draws of both populations (module
    docstring): k, n [B] seeds locked for good / healthy; exists [B] 1.0 / 0.0 / NaN (some strict
    self-consistent lock; not computed); outside [B] seeds whose permanent lock lies outside the
    set and was played for at least BURN_IN_MULTIPLE times its escape time
    (``fixed_points.escape_time``); slow [B] such seeds played for less (default none);
    slow_times [B] the smallest escape time among a draw's slow seeds (for the listing);
    reproduced [B] bool (a contradicting draw's rerun with fresh seeds has such a lock again);
    labels: a name per draw for the listing."""
    k, n, exists = np.asarray(k), np.asarray(n), np.asarray(exists, float)
    slow = np.zeros(len(k), int) if slow is None else np.asarray(slow)
    labels = [f"draw {i}" for i in range(len(k))] if labels is None else list(labels)
    out = fixed_point_outcomes(n, exists, outside, slow)
    draws, a, c = _counts(out)
    test = out != "excluded"
    free = test & (exists == 0)
    checked = int((np.asarray(k)[test & (exists == 1)]).sum())
    bad = [int(i) for i in np.flatnonzero(out == "contradict")]
    again = [i for i in bad if bool(np.asarray(reproduced)[i])]
    listing = "; ".join(f"{labels[i]}: {int(k[i])}/{int(n[i])} seeds locked for good, "
                        f"{int(outside[i])} outside the set, "
                        + ("no self-consistent lock" if exists[i] == 0 else "locks exist")
                        + (" (reproduced)" if i in again else " (not reproduced)") for i in bad)
    name = f"C9d no self-consistent lock => no permanent lock [{learner}, n0 = {n0}]"
    statement = (f"On a draw without a strict self-consistent lock {learner} with warm start {n0} "
                 "never locks for good, and every permanent lock it shows is one of the draw's "
                 "self-consistent locks.")
    und = [int(i) for i in np.flatnonzero(out == "undetermined")]
    slow_list = ", ".join(f"{labels[i]}: {int(slow[i])} seeds" + (
        f", escape time >= {float(slow_times[i]):,.0f} rounds" if slow_times is not None else "")
        for i in und)
    evidence = (f"{a} of {draws} draws agree, {c} contradict" + (f" ({listing})" if bad else "")
                + f", {len(und)} undetermined (permanent locks outside the set but slower than "
                f"the run: {slow_list or 'none'})"
                + f"; {int(free.sum())} draws without a strict self-consistent lock "
                f"({int((free & (k == 0)).sum())} without a permanent lock); {checked} permanent "
                f"locks on draws with one checked against the set; {int((~test).sum())} draws "
                f"excluded (set not computed or no healthy seed); {n_unhealthy} unhealthy runs "
                "dropped.")
    if draws == 0:
        return Claim(name, statement, "inconclusive", "no draw can test it. " + evidence)
    ci = tuple(float(x) for x in wilson_interval(a, draws))
    if again:
        verdict = "not supported"
    elif c == 0 and ci[0] > 0.5 and (free.any() or checked > 0):
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence, a, draws, ci)


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
