"""C9's rules (experiments/lock/rules.py), every verdict of every part reached from data."""
import numpy as np

from experiments.lock import rules as L

UD = np.ones(4, bool)


def test_no_permanent_lock_every_verdict():
    robust = np.array([True, True, True, False])  # the last draw is not robust: excluded
    k0, n = np.zeros(4, int), np.full(4, 64)
    none = np.zeros(4, bool)
    ok = L.judge_no_permanent_lock("greedy", 300, k0, n, UD, np.ones(4, bool), none)
    assert ok.verdict == "supported" and ok.agree == 4
    k = np.array([0, 9, 0, 5])
    again = L.judge_no_permanent_lock("greedy", 0, k, n, UD, robust, np.array([0, 1, 0, 0], bool))
    assert again.verdict == "not supported" and "draw 1: 9/64 seeds (reproduced)" in again.evidence
    assert "greedy" in again.name and ", n0 = 0" in again.name
    fluke = L.judge_no_permanent_lock("greedy", 0, k, n, UD, robust, none)
    assert fluke.verdict == "inconclusive" and "not reproduced" in fluke.evidence
    assert L.robust_outcomes(k, n, UD, robust)[3] == "excluded"
    k10, det = np.zeros(10, int), np.ones(10, bool)
    k10[1], det[1] = 9, False  # a lock seen on a draw whose horizon is below its burn-in
    short = L.judge_no_permanent_lock("greedy", 0, k10, np.full(10, 64), np.ones(10, bool),
                                      np.ones(10, bool), np.ones(10, bool), determined=det)
    assert short.verdict == "supported" and "1 undetermined" in short.evidence
    assert L.judge_no_permanent_lock("greedy", 0, k10, np.full(10, 64), np.ones(10, bool),
                                     np.ones(10, bool), np.ones(10, bool)).verdict == "not supported"
    assert L.robust_outcomes(k, np.array([0, 0, 64, 64]), UD, robust)[1] == "excluded"


def test_locks_for_good_every_verdict():
    fragile = np.zeros(4, bool)
    n = np.full(4, 64)
    yes = L.judge_locks_for_good("greedy_exact", 0, np.array([0, 3, 0, 1]), n, UD, fragile)
    assert yes.verdict == "supported" and yes.agree == 2 and "greedy_exact" in yes.name
    no = L.judge_locks_for_good("greedy", 1000, np.zeros(4, int), np.full(4, 256), UD, fragile)
    assert no.verdict == "not supported"
    few = L.judge_locks_for_good("greedy", 1000, np.zeros(4, int), np.full(4, 8), UD, fragile)
    assert few.verdict == "inconclusive"  # 32 seeds cannot bound the probability below 0.05
    assert L.fragile_outcomes([0], [64], [True], [False])[0] == "undetermined"


def test_warm_start_lowers_every_verdict():
    n0s, n = [0, 100, 300], [256] * 3
    assert L.judge_warm_start_lowers("greedy", n0s, [25, 16, 7], n).verdict == "supported"
    rise = L.judge_warm_start_lowers("greedy", n0s, [2, 5, 30], n)
    assert rise.verdict == "not supported" and "0 -> 300" in rise.evidence
    assert L.judge_warm_start_lowers("greedy", n0s, [3, 2, 5], n).verdict == "inconclusive"
