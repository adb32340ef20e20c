"""How many users does it take before optimal play covers the decision-relevant subspace D?

For an instance (typically a calibrated one, jaxpa.data.calibrate) with N users, draw random
subsets of m users (m on a grid, ``n_draws`` subsets each; every draw is a random permutation of
the users whose first m are kept, so the whole grid is one vmapped program). The subset's
optimal-play information is

    Sigma*_m = (1/m) sum_{u in subset} sum_x rho(x|u) F_ux^T F_ux      (the factors of diagnose)

i.e. the information of a population made of those m users only. Coverage of the *whole*
population's D (from ``diagnose`` on the full instance) is measured by

    lambda_D(m) = smallest eigenvalue of Q_D^T Sigma*_m Q_D     (Q_D: orthonormal basis of D)

which is diagnose's lambda_D of the subset when the subset's factors lie in D (true for bt_ref,
bt_duel, mnl). The subset covers D when lambda_D(m) > tol, the full instance's tolerance
(rtol * lambda_max of the full Sigma*). Errors outside D are harmless, so this asks: can m users'
optimal play identify every direction that changes some decision of *any* of the N users?
"""
from __future__ import annotations


import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.diagnostics.instance_diagnostics import Diagnostics, design, optimal_play_factors
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, InstanceError
from jaxpa.envs.one_shot import one_shot_jit

Array = jax.Array


@one_shot_jit(static_argnames=("feedback", "featurizer"))
def _coverage(inst: Instance, D_basis: Array, D_mask: Array, sizes: Array, keys: Array,
              feedback: FeedbackModel, featurizer: str) -> tuple[Array, Array]:
    F = optimal_play_factors(inst, design(inst, featurizer), feedback)[0]  # [N, M, R, p]
    per_user = jnp.einsum("nm,nmrp,nmrq->npq", inst.prompt_probs, F, F)  # [N, p, p]
    rot = jnp.einsum("pi,npq,qj->nij", D_basis, per_user, D_basis)  # in the basis [D | D-perp]
    keep = D_mask[:, None] & D_mask[None, :]
    big = 2.0 * jnp.max(jnp.trace(per_user, axis1=1, axis2=2)) + 1.0
    N = inst.n_users

    def one(m, key):
        rank = jnp.argsort(jax.random.permutation(key, N))  # position of each user in the draw
        w = (rank < m).astype(F.dtype) / m
        sigma = jnp.einsum("n,nij->ij", w, rot)
        A = jnp.where(keep, sigma, 0.0) + jnp.diag(jnp.where(D_mask, 0.0, big))
        heads = inst.heads * (rank < m)[:, None]
        # singular values from the k x k Gram matrix: an SVD of the tall [N, k] matrix has an
        # N x N workspace (10^4 users: 400 MB a subset, 150 GB for the vmapped grid)
        gram = jnp.einsum("nk,nl->kl", heads, heads)
        s = jnp.sqrt(jnp.maximum(jnp.linalg.eigvalsh(gram)[::-1], 0.0))
        return jnp.linalg.eigvalsh(A)[0], s

    grid = jax.vmap(lambda m: jax.vmap(lambda k: one(m, k))(keys))
    return grid(sizes)


def user_coverage(inst: Instance, diag: Diagnostics, sizes, n_draws: int = 64,
                  key: Array | None = None, rtol: float | None = None,
                  feedback: str | FeedbackModel | None = None) -> dict:
    """Coverage of D by random subsets of users (module docstring).

    inst: one unbatched instance; diag: ``diagnose(inst, feedback)`` of it (gives D, tol and the
    design); feedback: the model ``diag`` was computed for (default: the one its label names);
    sizes: subset sizes m (1 <= m <= N). Returns a dict of NumPy
    arrays: sizes [G]; lambda_D [G, n_draws]; covered_fraction [G] (lambda_D > tol);
    head_rank [G, n_draws] (numerical rank of the subset's heads, rtol as in diagnose); tol.
    """
    sizes = np.asarray(sizes, np.int64)
    if sizes.ndim != 1 or sizes.size == 0 or sizes.min() < 1 or sizes.max() > inst.n_users:
        raise InstanceError(f"sizes: expected subset sizes in [1, {inst.n_users}], got {sizes}")
    if not int(n_draws) >= 1:
        raise InstanceError(f"n_draws: expected a positive integer, got {n_draws!r}")
    if not bool(jnp.all(inst.user_probs > 0)):
        raise InstanceError("user_coverage: every user must have nu(u) > 0")
    key = jax.random.key(0) if key is None else key
    keys = jax.random.split(key, int(n_draws))
    feedback = make_feedback(diag.feedback if feedback is None else feedback)
    if feedback.label != diag.feedback:
        raise InstanceError(f"user_coverage: diagnostics for {diag.feedback!r}, feedback model "
                            f"{feedback.label!r}")
    lam, s = _coverage(inst, diag.D_basis, diag.D_mask, jnp.asarray(sizes, jnp.int32), keys,
                       feedback, diag.featurizer)
    lam, s = np.asarray(lam, np.float64), np.asarray(s, np.float64)
    tol = float(diag.tol)
    rtol = float(diag.rtol) if rtol is None else rtol
    head_rank = np.sum(s**2 > rtol * s[..., :1] ** 2, axis=-1)
    return {"sizes": sizes, "lambda_D": np.maximum(lam, 0.0), "tol": tol,
            "covered_fraction": np.mean(lam > tol, axis=1), "head_rank": head_rank,
            "lambda_D_full": float(diag.lambda_D)}


def users_needed(coverage: dict, level: float = 0.9) -> int | None:
    """Smallest grid size m whose subsets cover D with frequency >= level (None if none does)."""
    ok = np.flatnonzero(coverage["covered_fraction"] >= level)
    return int(coverage["sizes"][ok[0]]) if ok.size else None


def log_grid(low: int, high: int, n: int) -> np.ndarray:
    """About n integers spread geometrically over [low, high], unique, both ends included."""
    return np.unique(np.round(np.geomspace(low, high, n)).astype(np.int64))
