"""Robust user diversity (leave-one-user-out coverage): can a user's lock be corrected by the rest
of the population? (MODEL.md §5, the paragraph on greedy locking although UD holds.)

UD asks optimal play of *all* users to identify every decision direction. Greedy can still lock a
user u for good: under bt_ref, u locked on the reference learns nothing (the comparison y0 vs y0
has a zero row), and if u's own optimal play was the only play covering one of u's decision
directions, nothing else ever corrects the lock. Robust UD asks each user's decision directions
D_u = span{z_u(x, y) - z_u(x, y*) : x in u's support, all y} to be identified by

    Sigma_{-u} + (what u's locked play reveals) = Sigma* - Sigma*_u + omega_ux w' g' g'^T

for every lock state of u: a supported cell x of u and a lockable y' (``FeedbackModel.lock_play``;
g' = the row of a round that plays y', w' its curvature weight; u's other cells reveal nothing in
the worst case, which under bt_ref is a lock on y0). A user without a lock state plays optimally
(its term is Sigma*_u). Feedback models without ``lock_play`` are judged pessimistically: u's
locked play reveals nothing.

robust constant of u = min over u's lock states of identification(S, D_u), with
identification(S, U) = 1 / lambda_max(U^T (S + eps I)^-1 U) for orthonormal columns U (the
information S carries about the functionals U^T theta when every other direction is unknown too;
O(eps) when span U leaves range(S)). Under bt_ref every cell with y* != y0 can lock on y0 (a zero
row), so the constant is identification(Sigma* - Sigma*_u, D_u): the other users' optimal play
alone (``constants.loo_coverage``).

The verdict is decided like UD's (instance_diagnostics), on the unweighted coverage matrices
(rows without their positive weights, which do not change ranges): robust UD fails for u when
some unit direction of D_u keeps a squared share above rtol outside the numerical range of
Sigma°_{-u} + g' g'^T in some lock state (``robust_user_residual``). A ridge-based threshold on the
constant would not do: an unseen direction nearly parallel to a seen one has an identification of
eps / sin^2, many times eps.

Robust UD implies UD in exact arithmetic: D_u in range(Sigma_{-u}) for every u gives D = sum_u D_u
in range(Sigma*). Method per user: one eigendecomposition of Sigma_{-u} + eps I, then each lock
state's rank-one update in whitened coordinates (Sherman-Morrison) and one [p, p] eigvalsh.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def after(x: Array, *deps: Array) -> Array:
    """x, made to depend on ``deps`` by a real data dependency (NaN only if a dep's first entry
    is NaN): orders batched eigendecompositions one after another (an optimization barrier does
    not order them). Under vmap, jaxlib's CPU LAPACK
    kernels split a batch over the intra-op thread pool and block until it is done; two such
    kernels running at once can occupy every pool thread and wait forever (jaxlib 0.10, 2 cores:
    ``diagnose`` on 60 users x 200 prompts never returned)."""
    flag = jnp.any(jnp.stack([jnp.isnan(jnp.ravel(d)[0]) for d in deps]))
    return jnp.where(flag, jnp.nan, x)


def quad_form(S: Array, U: Array, eps: Array) -> Array:
    """U^T (S + eps I)^-1 U for symmetric PSD S [p, p] and U [p, r] (or [p]): [r, r] (or scalar)."""
    e, V = jnp.linalg.eigh(0.5 * (S + S.T))
    A = (V.T @ U) / jnp.sqrt(jnp.maximum(e, 0.0) + eps).reshape((-1,) + (1,) * (U.ndim - 1))
    return jnp.tensordot(A, A, axes=[[0], [0]])


def identification(S: Array, U: Array, eps: Array) -> Array:
    """1 / lambda_max(U^T (S + eps I)^-1 U): scalar (inf when U = 0)."""
    Q = quad_form(S, U, eps)
    top = Q if U.ndim == 1 else jnp.linalg.eigvalsh(Q)[-1]
    return 1.0 / top


def user_decision_bases(z: Array, y_star: Array, mask: Array, rtol: float = 1e-5) -> Array:
    """Orthonormal bases of D_u, one per user: [N, p, p], columns outside D_u zeroed (a column is
    in D_u when its eigenvalue of u's decision Gram exceeds rtol times the largest), from the design
    z [N, M, K, p], the optimal responses y_star [N, M] and the support mask [N, M]."""
    dz = z - jnp.take_along_axis(z, y_star[..., None, None], axis=-2)  # [N, M, K, p]
    G = jnp.einsum("nm,nmkp,nmkq->npq", mask.astype(z.dtype), dz, dz)
    e, V = jnp.linalg.eigh(G)
    keep = (e > rtol * e[:, -1:]) & (e > 0)
    return V * keep[:, None, :]


def robust_user_coverage(sigma: Array, own: Array, bases: Array, lock_rows: Array,
                         lock_live: Array, eps: Array) -> Array:
    """The robust constant of every user (module docstring): [N].

    sigma [p, p]: the population's optimal-play information; own [N, p, p]: each user's term of it;
    bases [N, p, p]: D_u (``user_decision_bases``); lock_rows [N, S, p]: each lock state's row
    scaled by sqrt(omega w') (zero for a lock that reveals nothing); lock_live [N, S] bool: which
    states exist; eps: the ridge of every inverse (at least the float's smallest normal, so a
    population without information gives 0, not NaN). inf for a user without decision directions."""
    eps = jnp.maximum(eps, jnp.finfo(sigma.dtype).tiny)

    def one(own_u, U, rows, live):
        e, V = jnp.linalg.eigh(0.5 * ((sigma - own_u) + (sigma - own_u).T))
        scale = jnp.sqrt(jnp.maximum(e, 0.0) + eps)
        B = (V.T @ U) / scale[:, None]  # [p, r]: D_u whitened by Sigma_{-u} + eps I
        Q0 = B.T @ B
        gam = (rows @ V) / scale  # [S, p] the lock rows whitened
        b = gam @ B  # [S, r]
        Q = Q0 - b[:, :, None] * b[:, None, :] / (1.0 + jnp.sum(gam * gam, -1))[:, None, None]
        locked = 1.0 / jnp.linalg.eigvalsh(Q)[:, -1]
        # the fallback's batched eigvalsh after the lock states' (``after``)
        return jnp.where(live.any(), jnp.min(jnp.where(live, locked, jnp.inf)),
                         identification(after(sigma, locked), U, eps))

    return jax.vmap(one)(own, bases, lock_rows, lock_live)


def robust_user_residual(cover: Array, own: Array, bases: Array, lock_rows: Array,
                         lock_live: Array, tol: Array) -> Array:
    """The verdict's measure, per user: the largest squared share of a unit direction of D_u
    outside the numerical range of (cover - own_u + g' g'^T) over u's lock states (cover, own, the
    lock rows g': the unweighted coverage matrices; ``robust_user_coverage``'s other arguments);
    the range keeps eigenvalues above tol. [N]: 0 when every lock state identifies D_u (up to
    float rounding), up to 1 when some direction of D_u is unseen."""
    def share(S, U):
        e, V = jnp.linalg.eigh(0.5 * (S + S.T))
        R = jnp.where((e <= tol)[:, None], V.T @ U, 0.0)  # D_u's components outside the range
        return jnp.linalg.eigvalsh(R.T @ R)[-1]

    def one(own_u, U, rows, live):
        rest = cover - own_u
        locked = jax.vmap(lambda g: share(rest + jnp.outer(g, g), U))(rows)
        return jnp.where(live.any(), jnp.max(jnp.where(live, locked, 0.0)),
                         share(after(cover, locked), U))

    return jax.vmap(one)(own, bases, lock_rows, lock_live)


def lock_states(G: Array, w: Array, lockable: Array, omega: Array, mask: Array):
    """Each user's lock states from the model's ``lock_play`` per context (G [N, M, K, p],
    w [N, M, K], lockable [N, M, K]) and the cell weights omega [N, M]: (rows [N, M K, p] scaled
    by sqrt(omega w), live [N, M K])."""
    live = lockable & mask[..., None]
    rows = G * jnp.sqrt(jnp.where(live, omega[..., None] * w, 0.0))[..., None]
    N = G.shape[0]
    return rows.reshape(N, -1, G.shape[-1]), live.reshape(N, -1)
