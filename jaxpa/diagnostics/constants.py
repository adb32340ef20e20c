"""Candidate diversity constants of an instance: which one sets the size of greedy's plateau and its
probability of locking a user onto a wrong response (MODEL.md §6, the open question)?

Pure functions of an ``Instance`` under ``bt_ref`` feedback (the protocol of the question), each
jit- and vmap-able; ``candidates`` computes all of them. They reuse the optimal-play factors of
``instance_diagnostics`` (f_ux = sqrt(w_ux) g_ux, g = z(y*) - z(y0), w = sigma'(r(y*) - r(y0))).

Notation: omega_ux = nu(u) rho(x|u) on the support; Sigma* = sum_ux omega_ux f f^T [p, p];
Sigma*_u = user u's own term, Sigma*_{-u} = Sigma* - Sigma*_u; Sigma*_{-c} = Sigma* without cell
c = (u, x). D_u = span{z_u(x, y) - z_u(x, y*) : x in u's support, all y} (u's decision directions).
eps = rtol * lambda_max(Sigma*), the ridge that makes every inverse below finite.

identification(S, U) = 1 / lambda_max(U^T (S + eps I)^-1 U) for orthonormal columns U: the
information S carries about the functionals U^T theta when every other direction is unknown too
(the Schur-complement constant of instance_diagnostics; lambda_D = identification(Sigma*, D)). It
is O(eps) when span U leaves range(S), and 1 / (u^T S^+ u) for one unit vector u.

Information constants (larger = more diverse):
- lambda_D, plateau_scale: from ``diagnose`` (plateau_scale is a time, 1/(kappa lambda_D Delta^2)).
- loo_coverage: min_u identification(Sigma*_{-u}, D_u): how well the *other* users' optimal play
  identifies u's decisions (``Diagnostics.robust_coverage``, diagnostics/robust.py: under bt_ref
  a user's own locked play can reveal nothing, so it is this).
- own_identifiability: min_u identification(Sigma*_u, D_u): u's own optimal play alone.
- user_lambda: min_u identification(Sigma*, D_u): lambda_D taken over each user's decisions only.
- loo_optimal: min over informative cells c of identification(Sigma*_{-c}, g_c / |g_c|): whether
  the rest of optimal play pins c's optimal-vs-reference value. Under bt_ref this is the only
  error greedy cannot correct by itself: if c plays y' != y*, r(y') - r(y0) is learned from that
  play, but an underestimate of r(y*) - r(y0) is only corrected by other cells' play.
- deviation_coverage (after Bastani, Bayati & Khosravi's covariate diversity, restricted to the
  finite set of policies that deviate from optimal play in one cell): min over cells c and
  lockable y' (y0, or y' != y* with r(y') > r(y0)) of identification(Sigma_pi, unit(z* - z')),
  Sigma_pi = Sigma*_{-c} + omega_c sigma'(r(y') - r(y0)) g' g'^T, g' = z(y') - z(y0): the
  information that the locked policy itself carries about the decision it gets wrong.
- head_sine: min over pairs of users who share a prompt, its y* and its runner-up of
  sin(angle(h_u, h_v)) (1 when no two users share both).
Time constants (rounds; larger = less diverse):
- unlock_time: max over the same (c, y') of |z* - z'|^2_{Sigma_pi^-1} / Delta(y')^2: the rounds
  of the locked policy's play needed to pin the decision the lock gets wrong to within its gap
  (inf: a permanent lock is possible). ``diagnose`` reports it (``Diagnostics.unlock_time``),
  through ``diagnostics.lock.lock_constants``, from its own Sigma* and eigendecomposition.
- hls_time (after Hao, Lattimore & Szepesvari's allocation constraints): max over supported
  (u, x) and y != y* of 2 |z_y - z*|^2_{Sigma*^-1} / Delta_y^2, the number of rounds of optimal
  play after which every HLS constraint |dz|^2_{H^-1} <= Delta^2 / 2 holds with H = t Sigma*.
- gaussian_plateau: sum over (u, x) and y != y* of omega_ux |dz|^2_{Sigma*^-1} / (2 Delta_y):
  the regret greedy would pay if its estimate were Gaussian with covariance (t Sigma*)^-1 at round
  t (sum_t omega Delta P(N(0, s / t) > Delta) ~ omega s / (2 Delta)), a reward, not a time.
- greedy_plateau: the same sum with each term capped at (1/w* + 1/w_y) / (2 Delta_y), w_y =
  sigma'(r(y) - r(y0)) (no 1/w_y for y = y0): under bt_ref a mistake on y is informative about
  r(y) - r(y0), so mistakes on y stop once y's own plays pin that value and u's own optimal play
  (rate omega w*) pins r(y*) - r(y0), whether or not other users cover y's direction.
- gap_only: 1 / (kappa Delta_min^2), plateau_scale without lambda_D: a control with no diversity
  in it (a diversity constant earns its place only by predicting beyond it).
- inverse_gap2: 1 / Delta_min^2, the gap alone (gap_only without the BT slope kappa, which varies
  between draws): a second control.
CONTROLS (gap_only, inverse_gap2, hls_time) are the constants a diversity constant must predict
beyond: the gaps, and the HLS time (the gaps weighted by optimal play's information, the classical
regret constant). They are reported beside the candidates, never named the best of them.
Identification at or below SLACK * eps counts as none: information constants are then 0 and the
times (and plateau sums) inf.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.diagnostics.instance_diagnostics import diagnose, optimal_play_factors
from jaxpa.diagnostics.lock import SLACK, lock_constants, lock_play
from jaxpa.diagnostics.robust import identification, quad_form, user_decision_bases
from jaxpa.envs.feedback import make_feedback
from jaxpa.envs.instance import Instance, gaps, rewards, support_mask
from jaxpa.learners.design import design

Array = jax.Array

MODEL = make_feedback("bt_ref")  # the protocol of the question (module docstring)
INFORMATION = ("lambda_D", "loo_coverage", "own_identifiability", "user_lambda", "loo_optimal",
               "deviation_coverage", "head_sine")
TIMES = ("plateau_scale", "unlock_time", "hls_time", "gaussian_plateau", "greedy_plateau",
         "gap_only", "inverse_gap2")
CONTROLS = ("gap_only", "inverse_gap2", "hls_time")  # module docstring: never a candidate


@struct.dataclass
class Candidates:
    """All candidate constants of one instance (float32 scalars; leading axes when vmapped).
    eps: the ridge used by every inverse (values at or below ~eps are 'not identified')."""

    lambda_D: Array
    plateau_scale: Array
    loo_coverage: Array
    own_identifiability: Array
    user_lambda: Array
    loo_optimal: Array
    deviation_coverage: Array
    head_sine: Array
    unlock_time: Array
    hls_time: Array
    gaussian_plateau: Array
    greedy_plateau: Array
    gap_only: Array
    inverse_gap2: Array
    eps: Array


def optimal_play(inst: Instance, rtol: float = 1e-5):
    """(z [N, M, K, p], f [N, M, p], omega [N, M], Sigma* [p, p], eps) under bt_ref."""
    z = design(inst)
    f = optimal_play_factors(inst, z, MODEL)[0][..., 0, :]  # F [N, M, 1, p]
    omega = jnp.where(support_mask(inst), inst.user_probs[:, None] * inst.prompt_probs, 0.0)
    sigma = jnp.einsum("nm,nmp,nmq->pq", omega, f, f)
    return z, f, omega, sigma, rtol * jnp.linalg.eigvalsh(sigma)[-1]


def user_constants(inst: Instance, rtol: float = 1e-5) -> tuple[Array, Array]:
    """(own_identifiability, user_lambda) per user: two [N] arrays (inf for users outside the
    support or without decisions). loo_coverage is ``Diagnostics.robust_coverage``."""
    z, f, omega, sigma, eps = optimal_play(inst, rtol)
    own = jnp.einsum("nm,nmp,nmq->npq", omega, f, f)
    U = user_decision_bases(z, jnp.argmax(rewards(inst), axis=-1), support_mask(inst), rtol)
    per = jax.vmap(lambda S, B: jnp.stack([identification(S, B, eps),
                                           identification(sigma, B, eps)]))(own, U)
    per = jnp.where(per > SLACK * eps, per, 0.0)
    per = jnp.where((inst.user_probs > 0)[:, None], per, jnp.inf)
    return per[:, 0], per[:, 1]


def cell_constants(inst: Instance, rtol: float = 1e-5) -> tuple[Array, Array, Array]:
    """(loo_optimal [N, M], deviation_coverage [N, M, K], unlock_time [N, M, K]) of an instance
    (``lock_constants``); +inf / 0 where a cell is not informative or y' is not a lockable
    deviation."""
    z, f, omega, sigma, eps = optimal_play(inst, rtol)
    r = rewards(inst)
    return lock_constants(z, f, omega, sigma, eps, *lock_play(MODEL, z, r, inst.reference), r,
                          support_mask(inst))


def gap_constants(inst: Instance, rtol: float = 1e-5) -> tuple[Array, Array, Array]:
    """(hls_time, gaussian_plateau, greedy_plateau): scalars from s = |dz|^2_{Sigma*^-1} over
    supported (u, x) and y != y*, dz = z(y) - z(y*) (module docstring); inf when some dz is not
    identified (|dz|^2 / s <= SLACK eps)."""
    z, f, omega, sigma, eps = optimal_play(inst, rtol)
    r, delta = rewards(inst), gaps(inst)
    y_star = jnp.argmax(r, axis=-1)
    dz = z - jnp.take_along_axis(z, y_star[..., None, None], axis=-2)
    s = jax.vmap(jax.vmap(jax.vmap(lambda v: quad_form(sigma, v, eps))))(dz)  # [N, M, K]
    wrong = support_mask(inst)[..., None] & (delta > 0)
    s = jnp.where(jnp.sum(dz * dz, -1) > SLACK * eps * s, s, jnp.inf)
    safe = jnp.where(wrong, delta, 1.0)
    hls = jnp.max(jnp.where(wrong, 2.0 * s / safe**2, 0.0))
    plateau = jnp.sum(jnp.where(wrong, omega[..., None] * s / (2.0 * safe), 0.0))
    G, w, _ = lock_play(MODEL, z, r, inst.reference)  # w [N, M, K]: curvature of playing y
    w_star = jnp.take_along_axis(w, y_star[..., None], axis=-1)
    self_fix = 1.0 / w_star + jnp.where(jnp.sum(G * G, -1) > 0, 1.0 / w, 0.0)  # y0 teaches nothing
    greedy = jnp.sum(jnp.where(wrong, jnp.minimum(omega[..., None] * s, self_fix) / (2.0 * safe), 0.0))
    return hls, plateau, greedy


def head_sine(inst: Instance) -> Array:
    """min sin(angle(h_u, h_v)) over pairs u != v sharing a supported prompt, its y* and its
    runner-up (true rewards; ties to the lower index): scalar, 1 when there is no such pair."""
    r = rewards(inst)
    top = jax.lax.top_k(r, 2)[1]  # [N, M, 2]: y*, runner-up
    same = jnp.all(top[:, None] == top[None, :], axis=-1)  # [N, N, M]
    mask = support_mask(inst)
    pair = same & mask[:, None] & mask[None, :] & ~jnp.eye(r.shape[0], dtype=bool)[..., None]
    h = inst.heads / jnp.linalg.norm(inst.heads, axis=-1, keepdims=True)
    cos = jnp.clip(jnp.abs(h @ h.T), 0.0, 1.0)
    sine = jnp.sqrt(1.0 - cos**2)
    return jnp.min(jnp.where(pair.any(-1), sine, 1.0))


def candidates(inst: Instance, rtol: float = 1e-5) -> Candidates:
    """Every candidate constant of one instance (bt_ref). vmap or ``jax.lax.map`` it over a batch
    (lax.map keeps LAPACK batches small on CPU, see diagnostics.robust.after). Products run at
    full float precision (GPUs otherwise use TF32, too coarse for the tolerances)."""
    with jax.default_matmul_precision("highest"):
        diag = diagnose(inst, MODEL, rtol=rtol)
        own, user = user_constants(inst, rtol)
        loo_opt, dev, unlock = cell_constants(inst, rtol)
        hls, gp, greedy = gap_constants(inst, rtol)
        eps = optimal_play(inst, rtol)[-1]
    return Candidates(lambda_D=diag.lambda_D, plateau_scale=diag.plateau_scale,
                      loo_coverage=diag.robust_coverage, own_identifiability=jnp.min(own),
                      user_lambda=jnp.min(user), loo_optimal=jnp.min(loo_opt),
                      deviation_coverage=jnp.min(dev), head_sine=head_sine(inst),
                      unlock_time=jnp.max(unlock), hls_time=hls, gaussian_plateau=gp,
                      greedy_plateau=greedy, gap_only=1.0 / (diag.kappa * diag.min_gap**2),
                      inverse_gap2=1.0 / diag.min_gap**2, eps=eps)
