"""Span-rank diagnostics of one instance (MODEL.md §5): does user diversity (UD) hold, and how
strongly?

Everything is a pure function of the instance's arrays; ``diagnose`` is jit-compiled once per
instance shape, design and feedback model (its options included), and vmaps: ``jax.vmap(lambda i: diagnose(i, "bt_ref"))(batch)`` diagnoses a
whole batch in one call (``diagnose_checked`` validates, then does that).

Notation (z: the learner's design, by default z_u(x, y) = h_u ⊗ phi(x, y) in the row-major layout
of ``learners.base.personalized()``, p = k d; omega_ux = nu(u) rho(x|u)):

- head rank: numerical rank of the heads of users with nu(u) > 0.
- D = span{ z_u(x, y) - z_u(x, y*_u(x)) : (u, x) in the support, all y }: the directions of the
  parameter that can change some decision (errors outside D are harmless). Basis: eigenvectors of
  the Gram matrix G_D = sum over the support of the differences' outer products.
- Sigma* = sum_ux omega_ux F_ux^T F_ux, the information of optimal play, F the likelihood's Hessian
  factors at the true parameter when the learner plays y* (``optimal_play_factors``).
- lambda_D: the information Sigma* carries about the D-component of the parameter when the
  component outside D is unknown too: the smallest eigenvalue on D of the Schur complement
  S = A - B C^+ B^T of Sigma* in the blocks (D, D-perp).
- lambda_D_restricted: MODEL.md's literal formula, the smallest eigenvalue of P_D Sigma* P_D on D.
  For bt_ref, bt_duel and mnl every factor lies in D, so B = 0 and the two coincide. For scalar
  feedback f = z(y*)/s need not lie in D: lambda_D_restricted can be positive while D is not
  covered (a direction outside D confounds one inside D); lambda_D is then 0.
- verdict: UD holds iff D ⊆ range(Sigma*) (every decision-relevant functional is identified by
  optimal play; equivalently lambda_D > 0 in exact arithmetic). It is decided on the *unweighted*
  coverage matrix Sigma° = sum over the support of g g^T (g the factors' directions without the
  curvature and probability weights, which are all positive and so do not change the range):
  coverage = (the Schur constant of Sigma° on D) / lambda_max(Sigma°) > rtol. The verdict is then
  scale-free: large rewards make BT comparisons near-deterministic and Sigma*'s weights tiny, but
  do not change which directions optimal play sees.
- residual: ||(I - P_R) P_D||_2 with R = range(Sigma°) = range(Sigma*): the sine of the largest
  angle between D and range(Sigma*) (0 iff D ⊆ R, up to the tolerance).

Tolerance (``rtol``, default 1e-5) applies to eigenvalues of Gram and information matrices, i.e. to
squared singular values: a direction is in D (the head span, range(Sigma°)) when its eigenvalue
exceeds rtol times the largest one of G_D (H^T H, Sigma°); UD holds when coverage > rtol; lambda_D
is called resolved when it exceeds tol = rtol * lambda_max(Sigma*). In float32, eigenvalues below
about p * 1.2e-7 of the largest are rounding noise: keep rtol >= 1e-6 there.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.diagnostics.lock import lock_constants, lock_play
from jaxpa.diagnostics.robust import (after as _after, lock_states, robust_user_coverage,
                                     robust_user_residual, user_decision_bases)
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, InstanceError, gaps, min_gap, rewards, support_mask, validate
from jaxpa.envs.one_shot import one_shot_jit
from jaxpa.learners.design import design, make_featurizer

Array = jax.Array
# reason codes of the verdict (``explain`` in diagnostics/report.py turns them into sentences)
HOLDS, HOLDS_VACUOUS, HOLDS_WEAK, FAILS_NO_INFORMATION, FAILS_UNCOVERED = 0, 1, 2, 3, 4


@struct.dataclass
class Diagnostics:
    """Diagnostics of one instance (leading batch axes when vmapped). p: the design's dimension.

    head_rank, dim_D, rank_sigma: int32 numerical ranks (heads, D, Sigma*).
    D_basis: [p, p] orthonormal columns; the first dim_D span D (D_mask marks them).
    sigma_star: [p, p] optimal-play information. lambda_max: its largest eigenvalue.
    lambda_D, lambda_D_restricted: see the module docstring (inf when D = {0}).
    coverage: scale-free strength of UD in [0, 1]; ud_holds = coverage > rtol (or D = {0}).
    tol = rtol * lambda_max: lambda_D below it is numerically unresolved (reason HOLDS_WEAK).
    reason: int32 (HOLDS, HOLDS_VACUOUS, HOLDS_WEAK, FAILS_NO_INFORMATION, FAILS_UNCOVERED).
    residual: sine of the largest angle between D and range(Sigma*).
    worst_direction: [p] unit vector of D attaining lambda_D (the least identified decision).
    min_gap, max_gap: Delta_min, Delta_max over the support (inf / 0 if no positive gap).
    kappa: smallest optimal-play curvature weight over informative (u, x) (1/s^2 for scalar).
    plateau_scale: 1 / (kappa lambda_D Delta_min^2), the working hypothesis of MODEL.md §6 for the
        scale of greedy's plateau (inf unless lambda_D is resolved). To be tested, not trusted.
    unlock_time: rounds of optimal play, with one cell locked on a wrong response, needed to pin
        the decision that the lock gets wrong to within its gap: the max over informative cells c
        and lockable responses y' (y0, or y' != y* with r(y') > r(y0)) of
        |z* - z'|^2_{Sigma_pi^-1} / Delta(y')^2, Sigma_pi = Sigma* without c's optimal play plus
        c's play of y' (diagnostics/lock.py, ``lock_constants``); inf when no amount does (a
        permanent lock is possible), 0 when no cell can lock. Larger should mean a larger plateau
        of greedy, where it is finite; how well it predicts the plateau (rank correlation and
        log-log slope with CIs, beyond the gap-only control 1/(kappa Delta_min^2), across F1
        draws and controlled dials) is measured by the dial experiment (``jaxpa dial``,
        experiments/dial/experiment.py; its report.md). NaN for feedback models without ``lock_play``
        (only bt_ref has one).
    """

    head_rank: Array
    dim_D: Array
    D_basis: Array
    D_mask: Array
    sigma_star: Array
    rank_sigma: Array
    lambda_max: Array
    lambda_D: Array
    lambda_D_restricted: Array
    coverage: Array
    tol: Array
    rtol: Array
    ud_holds: Array
    reason: Array
    residual: Array
    worst_direction: Array
    min_gap: Array
    max_gap: Array
    kappa: Array
    plateau_scale: Array
    unlock_time: Array
    robust_user_coverage: Array
    robust_coverage: Array
    robust_ud_holds: Array
    fragile_user: Array
    feedback: str = struct.field(pytree_node=False, default="bt_ref")
    featurizer: str = struct.field(pytree_node=False, default="personalized")

    @property
    def D_projector(self) -> Array:
        """P_D: [p, p] orthogonal projector onto D (basis-free, so comparable across runs)."""
        U = self.D_basis * self.D_mask[..., None, :]
        return U @ jnp.swapaxes(U, -1, -2)


def optimal_play_factors(inst: Instance, z: Array, feedback) -> tuple[Array, Array, Array]:
    """What greedy observes at its fixed point in every context, from the feedback model
    (``FeedbackModel.optimal_play``): F [N, M, R, p] weighted Hessian factors, G [N, M, R, p]
    their directions without the positive weights, kappa [N, M] the curvature weights. E.g.

    scalar:  f = z(y*) / s;   bt_ref: f = sqrt(w) (z(y*) - z(y0)),  w = sigma'(r(y*) - r(y0));
    bt_duel: f = sqrt(w) (z(y*) - z(y')), y' the second response of the model's rule at the fixed
             point (the true runner-up for the learner's own rule and ``runner_up``);
    mnl:     f_j = sqrt(p_j) (z(s_j) - zbar) over the true top slate.
    """
    feedback = make_feedback(feedback)
    r = rewards(inst)
    ref = jnp.broadcast_to(inst.reference, r.shape[:-1])
    per_context = jax.vmap(jax.vmap(feedback.optimal_play))
    return per_context(z, r, ref)


def optimal_play_information(inst: Instance, feedback="bt_ref", *,
                             featurizer: str = "personalized") -> Array:
    """Sigma* = sum_ux nu(u) rho(x|u) F_ux^T F_ux: [p, p]."""
    F = optimal_play_factors(inst, design(inst, featurizer), feedback)[0]
    return _gram(F, jnp.where(support_mask(inst), inst.user_probs[:, None] * inst.prompt_probs, 0.0))


def _gram(rows: Array, weight: Array) -> Array:
    """sum_ux weight_ux sum_r rows_uxr rows_uxr^T: [p, p]."""
    return jnp.einsum("nm,nmrp,nmrq->pq", weight, rows, rows)


def decision_gram(inst: Instance, z: Array) -> Array:
    """G_D = sum over supported (u, x) and all y of dz dz^T, dz = z(y) - z(y*): [p, p]."""
    y_star = jnp.argmax(rewards(inst), axis=-1)
    dz = z - jnp.take_along_axis(z, y_star[..., None, None], axis=-2)
    return _gram(dz, support_mask(inst).astype(z.dtype))


def _eigh_desc(A: Array) -> tuple[Array, Array]:
    """Eigenvalues in decreasing order and eigenvectors (columns) of symmetric matrices [..., p, p]."""
    e, V = jnp.linalg.eigh(0.5 * (A + jnp.swapaxes(A, -1, -2)))
    return e[..., ::-1], V[..., ::-1]


def _schur_on(mats: Array, tols: Array, Q: Array, mask: Array, after: Array):
    """For each matrix A of ``mats`` [2, p, p] (the coverage matrix and Sigma*): the smallest
    eigenvalue on D (the columns of Q in ``mask``) of the Schur complement of A onto D (the
    eigenvalues of the nuisance block C at or below ``tols`` count as 0 in C^+), with its unit
    eigenvector; and the smallest eigenvalue of the last matrix restricted to D. Static shapes:
    coordinates outside D get a diagonal larger than lambda_max(A). Returns (lam [2], v [2, p],
    lam_restricted, the last eigenvalues, for ordering)."""
    rot = jnp.swapaxes(Q, -1, -2) @ mats @ Q
    out, keep = ~mask, mask[:, None] & mask[None, :]
    B = jnp.where(mask[:, None] & out[None, :], rot, 0.0)
    e, V = jnp.linalg.eigh(_after(jnp.where(out[:, None] & out[None, :], rot, 0.0), after))
    ok = e > tols[:, None]
    C_pinv = (V * jnp.where(ok, 1.0 / jnp.where(ok, e, 1.0), 0.0)[:, None, :]) @ jnp.swapaxes(V, -1, -2)
    big = jax.vmap(jnp.diag)(jnp.where(mask, 0.0, 2.0 * jnp.trace(mats, axis1=-2, axis2=-1)[:, None] + 1.0))
    schur = rot - B @ C_pinv @ jnp.swapaxes(B, -1, -2)
    stack = jnp.concatenate([jnp.where(keep, schur, 0.0) + big, jnp.where(keep, rot[-1:], 0.0) + big[-1:]])
    e_s, V_s = jnp.linalg.eigh(stack)
    return e_s[:2, 0], (Q @ V_s[:2, :, 0, None])[..., 0], e_s[2, 0], e_s


def _rank(e: Array, threshold: Array) -> Array:
    return jnp.sum((e > threshold) & (e > 0)).astype(jnp.int32)


@one_shot_jit(static_argnames=("feedback", "featurizer"))
def _diagnose(inst, rtol, feedback, featurizer) -> Diagnostics:
    """The compiled program. Matrix products at full float precision: GPUs otherwise use TF32
    for float32 products (about 1e-3 relative error), too coarse for the eigenvalue tolerances."""
    with jax.default_matmul_precision("highest"):
        return _diagnose_body(inst, rtol, feedback, featurizer)


def _diagnose_body(inst, rtol, feedback, featurizer) -> Diagnostics:
    dtype = inst.features.dtype
    rtol = jnp.asarray(rtol, dtype)
    mask = support_mask(inst)
    z = design(inst, featurizer)
    F, G, kap = optimal_play_factors(inst, z, feedback)
    sigma = _gram(F, jnp.where(mask, inst.user_probs[:, None] * inst.prompt_probs, 0.0))
    cover = _gram(G, mask.astype(dtype))  # the verdict's unweighted coverage matrix
    # one batched eigendecomposition of G_D, Sigma° and Sigma*, then the others in sequence
    e, V = _eigh_desc(jnp.stack([decision_gram(inst, z), cover, sigma]))
    (e_d, e_c, e_s), (Q, V_c) = e, V[:2]
    heads = jnp.einsum("n,ni,nj->ij", (inst.user_probs > 0).astype(dtype), inst.heads, inst.heads)
    e_h = jnp.linalg.eigvalsh(_after(heads, e))
    D_mask = (e_d > rtol * e_d[0]) & (e_d > 0)
    dim_D = jnp.sum(D_mask).astype(jnp.int32)
    lambda_max = jnp.maximum(e_s[0], 0.0)
    tol, tol_c = rtol * lambda_max, rtol * jnp.maximum(e_c[0], 0.0)
    lams, vs, lam_r, last = _schur_on(jnp.stack([cover, sigma]), jnp.stack([tol_c, tol]), Q,
                                      D_mask, e_h)
    coverage = jnp.where(e_c[0] > 0, jnp.maximum(lams[0], 0.0) / jnp.where(e_c[0] > 0, e_c[0], 1.0), 0.0)
    vacuous = dim_D == 0
    ud_holds = vacuous | (coverage > rtol)
    lambda_D = jnp.where(vacuous, jnp.inf, jnp.maximum(lams[1], 0.0))
    resolved = ~vacuous & (lambda_D > tol)
    reason = jnp.select([vacuous, ud_holds & resolved, ud_holds, e_c[0] > 0],
                        [HOLDS_VACUOUS, HOLDS, HOLDS_WEAK, FAILS_UNCOVERED], FAILS_NO_INFORMATION)
    P_out = jnp.eye(Q.shape[0], dtype=dtype) - (V_c * ((e_c > tol_c) & (e_c > 0))) @ V_c.T
    residual = jnp.linalg.norm(_after(P_out @ (Q * D_mask), last), ord=2)
    informative = mask & (jnp.sum(jnp.square(G), axis=(-2, -1)) > 0)
    kappa = jnp.where(informative.any(), jnp.min(jnp.where(informative, kap, jnp.inf)), 0.0)
    d_min = min_gap(inst)
    weight = jnp.where(mask, inst.user_probs[:, None] * inst.prompt_probs, 0.0)
    r = rewards(inst)
    locks = lock_play(feedback, z, r, inst.reference) if feedback.has_lock_play else None
    done = [last]  # the batched eigendecompositions so far (_after: one after another)
    if locks is not None and F.shape[-2] == 1:  # one optimal-play row per context
        unlock = lock_constants(z, F[..., 0, :], weight, sigma, tol, *locks, r, mask,
                                eig=(e_s, V[2]))[2]
        unlock_time = jnp.max(unlock).astype(dtype)
        done.append(jnp.nan_to_num(unlock))
    else:
        unlock_time = jnp.asarray(jnp.nan, dtype)
    robust_w, robust_c = _robust(inst, _after(z, *done), r, F, G, weight, mask, locks,
                                 _after(sigma, last), cover, tol, tol_c, rtol)
    fragile = (robust_c > rtol) & (inst.user_probs > 0)
    robust_holds = ud_holds & ~fragile.any()
    return Diagnostics(
        head_rank=_rank(e_h, rtol * e_h.max()), dim_D=dim_D, D_basis=Q, D_mask=D_mask,
        sigma_star=sigma, rank_sigma=_rank(e_c, tol_c), lambda_max=lambda_max,
        lambda_D=lambda_D.astype(dtype),
        lambda_D_restricted=jnp.where(vacuous, jnp.inf, jnp.maximum(lam_r, 0.0)).astype(dtype),
        coverage=jnp.where(vacuous, 1.0, coverage).astype(dtype), tol=tol, rtol=rtol,
        ud_holds=ud_holds, reason=reason.astype(jnp.int32), residual=residual,
        worst_direction=jnp.where(vacuous, 0.0, vs[1]),
        min_gap=d_min, max_gap=jnp.where(mask[..., None], gaps(inst), 0.0).max(), kappa=kappa,
        plateau_scale=jnp.where(resolved, 1.0 / (kappa * lambda_D * d_min**2), jnp.inf).astype(dtype),
        unlock_time=unlock_time, robust_user_coverage=robust_w.astype(dtype),
        robust_coverage=jnp.min(robust_w).astype(dtype), robust_ud_holds=robust_holds,
        fragile_user=jnp.where(robust_holds, -1, jnp.argmax(robust_c)).astype(jnp.int32))


def _robust(inst, z, r, F, G, weight, mask, locks, sigma, cover, tol, tol_c, rtol):
    """Each user's robust constant (diagnostics/robust.py: Sigma*, the lock rows' curvature,
    ridge tol; 0 where the verdict finds D_u unseen, inf outside the support) and the verdict's
    residual share (the unweighted coverage matrices, range cut at tol_c): ([N], [N])."""
    bases = user_decision_bases(z, jnp.argmax(r, axis=-1), mask, rtol)
    if locks is None:  # no lock_play: u's locked play is taken to reveal nothing
        N, p = z.shape[0], z.shape[-1]
        rows, live = jnp.zeros((N, 1, p), z.dtype), mask.any(-1)[:, None]
        rows_c = rows
    else:
        Gl, wl, lockable = locks
        rows, live = lock_states(Gl, wl, lockable, weight, mask)
        rows_c = lock_states(Gl, jnp.ones_like(wl), lockable, mask.astype(z.dtype), mask)[0]
    own = jnp.einsum("nm,nmrp,nmrq->npq", weight, F, F)
    own_c = jnp.einsum("nm,nmrp,nmrq->npq", mask.astype(z.dtype), G, G)
    w = robust_user_coverage(_after(sigma, bases), own, bases, rows, live, tol)
    c = robust_user_residual(_after(cover, w), own_c, bases, rows_c, live, tol_c)
    support = inst.user_probs > 0
    w = jnp.where(support, jnp.where(c > rtol, 0.0, w), jnp.inf)
    return w, jnp.where(support, c, 0.0)


def diagnose(inst: Instance, feedback: str | FeedbackModel = "bt_ref", rtol=1e-5,
             featurizer: str = "personalized") -> Diagnostics:
    """Diagnostics of one instance for a feedback model (a ``FeedbackModel`` or its name, its
    options included: the scalar noise, the duel's second-response rule, the slate size) and a
    learner design (pure; jitted inside, one compiled program per instance shape, model and
    design). rtol: the relative eigenvalue tolerance (module doc); featurizer: "personalized"
    (z = h ⊗ phi), "personalized+shared" (z = [h ⊗ phi, phi]) or "population" (z = phi, the
    non-personalized learner). vmap it over a batch of instances; ``diagnose_checked`` validates
    and does that."""
    feedback = make_feedback(feedback)
    make_featurizer(featurizer)
    out = _diagnose(inst, rtol, feedback, featurizer)
    return out.replace(feedback=feedback.label, featurizer=featurizer)


def diagnose_checked(inst: Instance, feedback: str | FeedbackModel = "bt_ref", *, rtol=1e-5,
                     featurizer: str = "personalized") -> Diagnostics:
    """Validate the instance (or batch [B]) and the options on the host, then diagnose it (a batch
    in one vmapped call). Returns Diagnostics with a leading [B] axis for a batch."""
    validate(inst)
    feedback = make_feedback(feedback)
    feedback.check(inst.n_responses)
    try:
        rtol_ok = 0 < float(rtol) < 1
    except (TypeError, ValueError):
        rtol_ok = False
    if not rtol_ok:
        raise InstanceError(f"diagnose: need 0 < rtol < 1, got {rtol!r}")
    fn = functools.partial(diagnose, feedback=feedback, rtol=rtol, featurizer=featurizer)
    return jax.vmap(fn)(inst) if inst.batch_shape else fn(inst)
