"""Self-consistent locks (diagnostics/fixed_points.py): hand-worked populations, the LP against
two independent methods, and the observed-pattern helpers.

Hand-worked populations: one prompt, d = 1, the reference y0 with feature 0, k = 2, W = (1, 1),
so z_u(y) = phi(y) h_u and r_u(y) = phi(y) (h_u1 + h_u2); a lock on y0 reveals nothing, a play of
y != y0 reveals h_u."""
import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from jaxpa import Instance
from jaxpa.diagnostics import diagnose
from jaxpa.diagnostics.fixed_points import (lock_margin, lock_problem, observed_pattern,
                                            pattern_in, self_consistent_locks)
from jaxpa.runner.cells import CellTracker


def population(heads, phi=(0.0, 1.0)) -> Instance:
    f = np.asarray(phi, float)[None, :, None]
    return Instance.create(features=f, reference=[0], heads=np.asarray(heads, float),
                           W=np.ones((2, 1)))


def lock_users(s):
    """The strict locks as sets of users locked (one prompt)."""
    return {frozenset(np.flatnonzero(lock[:, 0] == 0).tolist()) for lock in s.locks}


def test_single_user_uncovered_locks_on_y0():
    """Heads e1, e2, K = 2: u0 locked on y0 leaves only e2 seen; delta = c e1 with c < -1 makes
    y0 u0's argmax. Robust UD fails (u0's direction rests on its own play)."""
    inst = population([[1.0, 0.0], [0.0, 1.0]])
    s = self_consistent_locks(inst)
    assert s.computed and s.exists and {frozenset({0}), frozenset({1})} <= lock_users(s)
    d = diagnose(inst)
    assert bool(d.ud_holds) and not bool(d.robust_ud_holds)


def test_group_of_two_locks_although_robust_ud_holds():
    """Heads (1, 0), (0.8, 0.6), (0, 1), all preferring y1: any two heads span R^2 (robust UD
    holds), but u0 and u1 on y0 leave delta = c (1, 0) free, which pushes both below 0 (same side
    of h2's line); u0 and u2 cannot lock together (opposite sides of h1's line), nor one alone."""
    inst = population([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    d = diagnose(inst)
    assert bool(d.ud_holds) and bool(d.robust_ud_holds)
    assert lock_users(self_consistent_locks(inst)) == {frozenset({0, 1}), frozenset({1, 2}),
                                                       frozenset({0, 1, 2})}


def test_every_lock_corrected():
    """phi = (0, 1, -1): y0 is never a user's argmax (y1 and y2 have opposite scores), and a play
    of y2 reveals h_u, which sets u's score of y1 right: no lock, although robust UD fails."""
    inst = population([[1.0, 0.0], [0.0, 1.0]], phi=(0.0, 1.0, -1.0))
    s = self_consistent_locks(inst)
    assert s.computed and s.exists is False and s.n_configs == 9
    assert not bool(diagnose(inst).robust_ud_holds)


def test_enumeration_cap():
    inst = population([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    s = self_consistent_locks(inst, max_configs=7)
    assert not s.computed and s.exists is None and s.n_configs == 8


def grid_margin(z, ref, theta, pi, bound, n=401):
    """max over a grid of w of min_{c, y != pi(c)} <theta + N w, z(pi) - z(y)> (capped at 1), N
    SciPy's null_space of the played rows (at most 2 columns here)."""
    c = np.arange(len(pi))
    null = scipy.linalg.null_space(z[c, pi] - z[c, ref])
    d = np.concatenate([z[i, pi[i]] - np.delete(z[i], pi[i], 0) for i in c])
    if null.shape[1] == 0:
        return min((d @ theta).min(), 1.0)
    axes = np.meshgrid(*[np.linspace(-bound, bound, n)] * null.shape[1])
    w = np.stack([a.ravel() for a in axes], -1).reshape(-1, null.shape[1])
    return min(np.max(np.min(d @ theta + w @ (d @ null).T, axis=1)), 1.0)


def equality_margin(z, ref, theta, pi, bound):
    """The same LP with delta free in R^p and the played rows as equality constraints, by HiGHS'
    interior-point method."""
    c = np.arange(len(pi))
    p = z.shape[-1]
    d = np.concatenate([z[i, pi[i]] - np.delete(z[i], pi[i], 0) for i in c])
    res = scipy.optimize.linprog(np.r_[np.zeros(p), -1.0], A_ub=np.c_[-d, np.ones(len(d))],
                                 b_ub=d @ theta, A_eq=np.c_[z[c, pi] - z[c, ref], np.zeros(len(c))],
                                 b_eq=np.zeros(len(c)), bounds=[(-bound, bound)] * p + [(None, 1)],
                                 method="highs-ipm")
    return res.x[-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_against_grid_and_equality_form(seed):
    rng = np.random.default_rng(seed)
    heads = rng.normal(size=(3, 2))
    inst = population(heads / np.linalg.norm(heads, axis=1, keepdims=True),
                      phi=np.r_[0.0, rng.normal(size=2)])
    z, ref, theta, y, _ = lock_problem(inst)
    bound = 2.0
    strict = set()
    for pi in itertools.product(range(3), repeat=3):
        pi = np.array(pi)
        t = lock_margin(z, ref, theta, pi, bound_factor=bound)
        assert t == pytest.approx(grid_margin(z, ref, theta, pi, bound), abs=5e-2)
        assert t == pytest.approx(equality_margin(z, ref, theta, pi, bound), abs=1e-6)
        if t > 1e-6 and np.any(pi != y):
            strict.add(tuple(pi))
    s = self_consistent_locks(inst, bound_factor=bound)
    assert {tuple(lock[:, 0]) for lock in s.locks} == strict  # the screen drops none of them


def test_observed_pattern_and_membership():
    cells = CellTracker(plays=np.array([[[9], [9], [2]]]), first=np.array([[[0], [1], [0]]]),
                        mixed=np.array([[[False], [True], [False]]]))
    pat = observed_pattern(cells)
    assert pat.tolist() == [[[0], [-1], [-1]]]  # mixed and rarely visited cells are unknown
    locks = np.array([[[1], [0], [0]], [[0], [1], [1]]])
    assert pattern_in(locks, pat[0])
    assert not pattern_in(locks[:1], pat[0])


def test_escape_time_hand_worked():
    """Heads e1, e2, h = (0.6, 0.8), phi = (0, 1): u0 on y0 while u1, u2 play y1 shows e2 and h
    (Sigma = sum over u1, u2 of sigma'(r) g g^T / 3, full rank), so u0's wrong decision e1
    (gap 1) is pinned after e1^T Sigma^-1 e1 rounds; with heads e1, e2 only, e1 is never seen
    (inf: the lock is self-consistent); a pattern that gets nothing wrong never escapes (inf)."""
    from jaxpa.diagnostics.fixed_points import escape_time
    h = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    w = lambda r: 1.0 / (2.0 + np.exp(r) + np.exp(-r))
    sigma = (w(1.0) * np.outer(h[1], h[1]) + w(1.4) * np.outer(h[2], h[2])) / 3
    tau = escape_time(population(h), np.array([[0], [1], [1]]))
    assert tau == pytest.approx(np.linalg.inv(sigma)[0, 0], rel=1e-6)
    assert escape_time(population(h), np.array([[0], [1], [-1]])) >= tau  # unknown: max
    assert escape_time(population(h[:2]), np.array([[0], [1]])) == np.inf
    assert escape_time(population(h), np.array([[1], [1], [1]])) == np.inf


@pytest.mark.slow
def test_engine_locks_only_where_a_self_consistent_lock_exists():
    """(slow) greedy run by the engine on two hand-worked populations, continued to 4T: with
    heads e1, e2 and phi = (0, 1) some seeds lock for good, each on one of the set's locks; with
    phi = (0, 1, -1) (no self-consistent lock) none does."""
    import jax

    from jaxpa import make_learner, simulate
    from jaxpa.diagnostics import permanent_lock

    learner = make_learner("greedy", "bt_ref")
    for phi, expect in (((0.0, 1.0), True), ((0.0, 1.0, -1.0), False)):
        inst = population([[1.0, 0.0], [0.0, 1.0]], phi=phi)
        s = self_consistent_locks(inst)
        assert s.exists == expect
        curves = simulate(jax.random.key(3), inst, "bt_ref", learner, horizon=400, n_seeds=64,
                          track_cells=True, continue_factor=4)
        perm = permanent_lock(curves, inst, 400)["permanent_run"]
        assert perm.any() == expect
        pats = observed_pattern(curves.cells)
        assert all(pattern_in(s.locks, pats[i]) for i in np.flatnonzero(perm))
