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


def test_fixed_point_every_verdict():
    """C9d: both parts (no lock => no permanent lock; patterns inside the set) each seen agreeing
    and contradicting, from hand-built lock sets and observed patterns (N = 2 users, M = 1)."""
    locks = [np.zeros((0, 2, 1), int), np.array([[[0], [2]]]), np.zeros((0, 2, 1), int)]
    healthy = np.ones((3, 2), bool)
    pats = np.array([[[[1], [2]], [[1], [2]]],      # draw 0: lock-free, y* = (1, 2) played
                     [[[0], [2]], [[0], [-1]]],     # draw 1: u0 locked on y0, inside the set
                     [[[1], [2]], [[1], [2]]]])
    inside = np.array([[False, False], [True, True], [False, False]])
    out = L.pattern_outside(inside, healthy, pats, locks).sum(1)
    assert out.tolist() == [0, 0, 0]
    exists, n = np.array([0.0, 1.0, 0.0]), np.full(3, 2)
    k = inside.sum(1)
    rep = lambda x: np.tile(x, 3)  # the three draws three times: 9 agreeing draws
    ok = L.judge_fixed_point("greedy", 0, rep(k), rep(n), rep(exists), rep(out),
                             np.zeros(9, bool))
    assert ok.verdict == "supported"
    assert "6 draws without a strict self-consistent lock" in ok.evidence
    assert "6 permanent locks on draws with one checked" in ok.evidence
    assert L.judge_fixed_point("greedy", 0, k, n, exists, out, np.zeros(3, bool)).verdict == \
        "inconclusive"  # 3 of 3: the Wilson interval reaches below 1/2
    # part 1 contradicted: a permanent lock on the lock-free draw 0 (reproduced / not)
    perm = inside.copy()
    perm[0, 1], pats[0, 1] = True, [[0], [2]]
    out = L.pattern_outside(perm, healthy, pats, locks).sum(1)
    assert out.tolist() == [1, 0, 0]
    again = L.judge_fixed_point("greedy", 0, perm.sum(1), n, exists, out, np.array([1, 0, 0], bool),
                                labels=["robust 0", "robust 1", "fragile 0"])
    assert again.verdict == "not supported"
    assert ("robust 0: 1/2 seeds locked for good, 1 outside the set, no self-consistent lock "
            "(reproduced)") in again.evidence
    assert L.judge_fixed_point("greedy", 0, perm.sum(1), n, exists, out,
                               np.zeros(3, bool)).verdict == "inconclusive"
    # part 2 contradicted: on draw 1 a permanent lock whose pattern the set does not hold
    pats2 = pats.copy()
    pats2[1, 0] = [[1], [0]]
    out2 = L.pattern_outside(inside, healthy, pats2, locks).sum(1)
    assert out2.tolist() == [0, 1, 0]
    bad = L.judge_fixed_point("greedy_exact", 100, k, n, exists, out2, np.array([0, 1, 0], bool))
    assert bad.verdict == "not supported" and "locks exist (reproduced)" in bad.evidence
    # unhealthy seeds and uncomputed sets are left out; nothing informative: inconclusive
    assert not L.pattern_outside(perm, np.zeros((3, 2), bool), pats, locks).any()
    # a lock outside the set kept for less than 4 escape times: undetermined, never support
    slow = L.judge_fixed_point("greedy", 0, rep(perm.sum(1)), rep(n), rep(exists), np.zeros(9, int),
                               np.zeros(9, bool), slow=rep(out), slow_times=np.full(9, 5e4))
    assert slow.verdict == "inconclusive" and "3 undetermined" in slow.evidence
    assert "escape time >= 50,000 rounds" in slow.evidence
    assert L.fixed_point_outcomes(n, [np.nan, 1.0, 0.0], out)[0] == "excluded"
    vacuous = L.judge_fixed_point("greedy", 0, np.zeros(9, int), np.full(9, 2), np.ones(9),
                                  np.zeros(9, int), np.zeros(9, bool))
    assert vacuous.verdict == "inconclusive"
    assert L.judge_fixed_point("greedy", 0, k, n, np.full(3, np.nan), out,
                               np.zeros(3, bool)).verdict == "inconclusive"
