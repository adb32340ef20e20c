"""Self-consistent locks of greedy under bt_ref: the fixed-point condition ("no self-consistent
lock"), a sharper candidate than robust UD for when greedy locks for good (MODEL.md §6, the
robust pair).

A permanent lock of greedy is a self-consistent wrong estimate. A lock configuration pi gives every
supported cell c = (u, x) a response pi(c) (pi(c) = y*_c: c is not locked). Playing y in c reveals
the bt_ref row g_c(y) = z_c(y) - z_c(y0) (zero for y = y0: a lock on the reference reveals
nothing). At a fixed point greedy's estimate theta + delta is exact on everything played,

    delta ⊥ g_c(pi(c)) for every cell c                       (delta in the null space N_pi),

and greedy keeps playing pi: <theta + delta, z_c(pi(c)) - z_c(y)> >= t for every cell c and
y != pi(c). pi != y* is a *strict self-consistent lock* when the LP

    maximize t over (w, t), delta = N_pi w, |w|_inf <= bound_factor * |theta|_inf, t <= 1

(N_pi an orthonormal basis of the null space, numerical range cut at rtol of the largest
eigenvalue of the played rows' Gram, as the UD verdicts cut it) has t* > MARGIN_TOL times the
largest |true reward difference|. A draw with no strict self-consistent lock cannot keep greedy
(with its estimate converged on what it plays) away from y* for good; the converse is what
experiments/lock (C9d) tests against the engine.

Cost: K^C configurations for C supported cells (exponential). Each is first screened by one
vmapped JAX check (``_admissible``: a decision z_c(pi(c)) - z_c(y) inside the played rows' span
has delta-free value <theta, .>, which must be > 0; with the rows spanning R^p this rejects every
pi != y*), costing O(C p^2 + p^3 + C K p^2) per configuration; the survivors each solve one HiGHS
LP (scipy.optimize.linprog) with p + 1 variables and C (K - 1) inequalities, on the host. Beyond
``max_configs`` (default 2^16) nothing is enumerated: ``LockSet.computed`` is False and
``exists`` None. The robust pair (C = 6 cells, K = 4): 4096 configurations a draw, about 70
LPs after the screen: 10.5 s for the lock experiment's 32 draws (compile included) on a 2-core CPU
at load average 7.6.

``escape_time`` is the other side: for a pattern outside the set, the rounds of its own play that
pin a decision it gets wrong, so a run that keeps a pattern for many escape times shows a lock no
fixed point explains, and one that keeps it for fewer may show a slow lock.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.optimize
import jax
import jax.numpy as jnp

from jaxpa.envs.instance import optimal_responses, support_mask
from jaxpa.learners.design import design, make_featurizer

MAX_CONFIGS = 2**16
MARGIN_TOL = 1e-6  # a margin t* at or below this times the largest reward difference: not strict


class LockSet(NamedTuple):
    """locks [L, N, M] int32: the strict self-consistent locks (y* at the cells a lock leaves
    alone, -1 at unsupported cells); margins [L]: their LP optimum t*; computed: False when
    K^C > max_configs (then locks is empty); n_configs: K^C; n_lp: LPs solved (the screen's
    survivors)."""

    locks: np.ndarray
    margins: np.ndarray
    computed: bool
    n_configs: int
    n_lp: int

    @property
    def exists(self) -> bool | None:
        """Some strict self-consistent lock exists (None when not computed)."""
        return bool(len(self.locks)) if self.computed else None


def lock_problem(inst, featurizer="personalized"):
    """The host arrays of one unbatched instance: (z [C, K, p], reference [C], theta [p], y* [C],
    cells [C, 2] (user, prompt) of the supported cells), float64. theta is vec W (plus beta for a
    featurizer with a shared part); a nonzero beta without one is refused (greedy's model would be
    misspecified, and then no theta reproduces the rewards)."""
    f = make_featurizer(featurizer)
    shared = np.asarray(inst.shared, np.float64)
    has_shared = f.dim(inst.k, inst.d) == inst.k * inst.d + inst.d
    if f.dim(inst.k, inst.d) not in (inst.k * inst.d, inst.k * inst.d + inst.d) or (
            np.any(shared != 0) and not has_shared):
        raise ValueError(f"self_consistent_locks: featurizer {f.name!r} cannot represent the "
                         "instance's rewards (needs theta = vec W, plus beta when shared != 0)")
    theta = np.asarray(inst.W, np.float64).reshape(-1)
    if has_shared:
        theta = np.concatenate([theta, shared])
    cells = np.argwhere(np.asarray(support_mask(inst)))
    z = np.asarray(design(inst, f), np.float64)[cells[:, 0], cells[:, 1]]
    ref = np.asarray(inst.reference)[cells[:, 1]]
    y = np.asarray(optimal_responses(inst))[cells[:, 0], cells[:, 1]]
    return z, ref, theta, y, cells


@jax.jit
def _admissible(z, ref, theta, configs, rtol):
    """[L] bool: configurations [L, C] not ruled out by the span screen (module docstring); z
    [C, K, p], ref [C], theta [p]."""
    C, K, _ = z.shape
    z_ref = z[jnp.arange(C), ref]

    def one(pi):
        zp = z[jnp.arange(C), pi]                                           # [C, p]
        rows = zp - z_ref
        e, V = jnp.linalg.eigh(rows.T @ rows)
        B = V * (e > rtol * jnp.maximum(e[-1], jnp.finfo(z.dtype).tiny))
        d = zp[:, None, :] - z                                              # [C, K, p]
        out = d - (d @ B) @ B.T
        seen = jnp.sum(out**2, -1) <= rtol * jnp.sum(d**2, -1)
        bad = seen & (d @ theta <= 0) & (jnp.arange(K)[None] != pi[:, None])
        return ~jnp.any(bad)

    return jax.vmap(one)(configs)


def lock_margin(z, ref, theta, pi, bound_factor: float = 1e3, rtol: float = 1e-6) -> float:
    """The LP optimum t* of configuration pi [C] (module docstring), float64 NumPy + HiGHS."""
    C, K, p = z.shape
    c = np.arange(C)
    rows = z[c, pi] - z[c, ref]
    e, V = np.linalg.eigh(rows.T @ rows)
    null = V[:, e <= rtol * max(e[-1], np.finfo(float).tiny)]               # [p, q]
    other = np.arange(K)[None] != pi[:, None]
    d = (z[c, pi][:, None, :] - z)[other]                                   # [C (K - 1), p]
    value = d @ theta
    if null.shape[1] == 0:
        return float(min(value.min(), 1.0))
    q = null.shape[1]
    bound = bound_factor * max(np.abs(theta).max(), 1.0)
    res = scipy.optimize.linprog(np.r_[np.zeros(q), -1.0],
                                 A_ub=np.c_[-(d @ null), np.ones(len(d))], b_ub=value,
                                 bounds=[(-bound, bound)] * q + [(None, 1.0)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"lock_margin: HiGHS failed ({res.message})")
    return float(res.x[-1])


def self_consistent_locks(inst, featurizer="personalized", max_configs: int = MAX_CONFIGS,
                          bound_factor: float = 1e3, rtol: float = 1e-6) -> LockSet:
    """Every strict self-consistent lock of one unbatched instance under bt_ref (module
    docstring), by enumeration: screen, then one LP per survivor."""
    z, ref, theta, y, cells = lock_problem(inst, featurizer)
    C, K, _ = z.shape
    N, M = inst.n_users, inst.n_prompts
    n_configs = K**C
    if n_configs > max_configs:
        return LockSet(np.zeros((0, N, M), np.int32), np.zeros(0), False, n_configs, 0)
    configs = (np.arange(n_configs)[:, None] // K ** np.arange(C)[None]) % K
    configs = configs[np.any(configs != y[None], -1)]                        # pi != y*
    keep = np.asarray(_admissible(jnp.asarray(z, inst.features.dtype), jnp.asarray(ref),
                                  jnp.asarray(theta, inst.features.dtype),
                                  jnp.asarray(configs, jnp.int32), rtol))
    survivors = configs[keep]
    margins = np.array([lock_margin(z, ref, theta, pi, bound_factor, rtol) for pi in survivors])
    scale = np.abs(np.einsum("ckp,p->ck", z, theta)).max() * 2
    strict = margins > MARGIN_TOL * max(scale, 1e-30) if len(survivors) else np.zeros(0, bool)
    locks = np.full((int(strict.sum()), N, M), -1, np.int32)
    locks[:, cells[:, 0], cells[:, 1]] = survivors[strict]
    return LockSet(locks, margins[strict] if len(survivors) else np.zeros(0), True, n_configs,
                   len(survivors))


def escape_time(inst, pattern, featurizer="personalized", rtol: float = 1e-6,
                max_completions: int = 4096) -> float:
    """Rounds of a pattern's own play needed to pin a decision it gets wrong to within its gap:
    for pi [N, M] (-1 at unsupported cells), min over supported cells c and responses y the truth
    prefers to pi(c) (v = r_c(y) - r_c(pi(c)) > 0) of |z_c(y) - z_c(pi(c))|^2 in the
    pseudo-inverse of Sigma_pi = sum_c omega_c sigma'(m_c) g_c(pi(c)) g_c(pi(c))^T, divided by
    v^2 (m_c = r_c(pi(c)) - r_c(y0): bt_ref's curvature; omega_c = nu_u rho(x|u)), as
    ``lock.lock_constants``' unlock_time is for one locked cell. A decision with a share above
    rtol outside range(Sigma_pi) is never pinned (inf); inf when pi gets nothing wrong. Cells
    of ``pattern`` marked -1 although supported are unknown: the max over their completions
    (at most ``max_completions``). A pattern played for many times its escape time without
    breaking is a lock its own play does not correct; one played for less may be slow."""
    z, ref, theta, y, cells = lock_problem(inst, featurizer)
    C, K, _ = z.shape
    pat = np.asarray(pattern)[cells[:, 0], cells[:, 1]]
    unknown = np.flatnonzero(pat < 0)
    if K ** len(unknown) > max_completions:
        return float("inf")
    omega = (np.asarray(inst.user_probs, np.float64)[:, None]
             * np.asarray(inst.prompt_probs, np.float64))[cells[:, 0], cells[:, 1]]
    c = np.arange(C)
    worst = 0.0
    for fill in np.ndindex(*([K] * len(unknown))):
        pi = pat.copy()
        pi[unknown] = fill
        rows = z[c, pi] - z[c, ref]
        m = rows @ theta
        S = (rows * (omega / (2.0 + np.exp(m) + np.exp(-m)))[:, None]).T @ rows
        e, V = np.linalg.eigh(S)
        keep = e > rtol * max(e[-1], np.finfo(float).tiny)
        d = (z - z[c, pi][:, None, :]).reshape(C * K, -1)
        v = d @ theta
        a = d @ V
        outside = np.sum(a[:, ~keep] ** 2, -1) > rtol * np.sum(d**2, -1)
        q = np.sum(a[:, keep] ** 2 / e[keep], -1)
        t = np.where((v > 0) & ~outside, q / np.where(v > 0, v, 1.0) ** 2, np.inf)
        worst = max(worst, float(t.min()))
    return worst


def observed_pattern(cells, min_plays: int = 5) -> np.ndarray:
    """The responses a cell tracker's cells played (``runner.cells.CellTracker``, leaves
    [..., N, M]): the one response served when the cell was visited at least min_plays times and
    never mixed, else -1 (unknown): [..., N, M] int."""
    plays, first, mixed = (np.asarray(x) for x in (cells.plays, cells.first, cells.mixed))
    return np.where((plays >= min_plays) & ~mixed & (first >= 0), first, -1)


def pattern_in(locks: np.ndarray, pattern: np.ndarray) -> bool:
    """Whether some lock of ``locks`` [L, N, M] agrees with ``pattern`` [N, M] at every cell the
    pattern knows (>= 0)."""
    known = pattern >= 0
    return bool(np.any(np.all((locks == pattern[None]) | ~known[None], axis=(-2, -1))))
