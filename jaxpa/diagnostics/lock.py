"""Lock constants of one instance: what the rest of optimal play teaches about a cell's decision
when that cell stays locked on a wrong response (the candidates of ``diagnostics.constants``;
``diagnose`` reports the max of unlock_time as ``Diagnostics.unlock_time``).

Notation as in ``constants``: cell c = (u, x) with weight omega_c = nu(u) rho(x|u), f_c its
optimal-play factor, Sigma* = sum_c omega_c f_c f_c^T [p, p], eps the ridge. A lock of c on y'
(``FeedbackModel.lock_play``: row g', curvature weight w', whether y' is lockable) replaces c's
optimal play by its play of y': Sigma_pi = Sigma* - omega_c f_c f_c^T + omega_c w' g' g'^T. The
decision the lock gets wrong is t = z(y*) - z(y'), of value Delta(y') = r(y*) - r(y').

- loo_optimal [N, M]: 1 / (u^T (Sigma*_{-c} + eps I)^-1 u), u = f_c / |f_c|.
- deviation_coverage [N, M, K]: |t|^2 / |t|^2_{(Sigma_pi + eps I)^-1}.
- unlock_time [N, M, K]: |t|^2_{(Sigma_pi + eps I)^-1} / Delta(y')^2, the rounds of the locked
  policy's play needed to pin t to within its gap (inf when t is unseen: a permanent lock).
Identification at or below SLACK * eps counts as none (0, and the time inf).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

SLACK = 10.0  # identification at or below SLACK * eps counts as none (0; times become inf)


def lock_constants(z: Array, f: Array, omega: Array, sigma: Array, eps: Array, G: Array,
                   w: Array, lockable: Array, r: Array, support: Array,
                   eig: tuple | None = None) -> tuple[Array, Array, Array]:
    """The cell constants of the module docstring from arrays: z [N, M, K, p] design, f [N, M, p]
    optimal-play factors, omega [N, M], Sigma* [p, p], eps the ridge, (G [N, M, K, p], w [N, M, K],
    lockable [N, M, K]) the feedback model's ``lock_play`` per context, r [N, M, K] rewards,
    support [N, M] bool; eig: Sigma*'s eigendecomposition (eigenvalues [p], eigenvectors as
    columns [p, p]) when already computed.

    Returns (loo_optimal [N, M], deviation_coverage [N, M, K], unlock_time [N, M, K]), +inf / 0
    where a cell is not informative or y' is not a lockable deviation.

    Method: one eigendecomposition of A = Sigma* + eps I for the instance; in whitened coordinates
    (A = I) a cell c leaves phi = sqrt(omega_c) f_c (alpha = |phi|^2 <= 1) and a lock on y' adds
    gamma = sqrt(omega_c w') g', so Sigma_pi + eps I = I - phi phi^T + gamma gamma^T: the identity
    outside span{phi, gamma} and a 2 x 2 matrix inside it. For tau = the whitened t:
    |t|^2_{(Sigma_pi + eps I)^-1} = |tau_perp|^2 + (tau_1^2 + (1 - alpha) tau_2^2 +
    (b tau_1 - gamma_1 tau_2)^2) / ((1 - alpha)(1 + b^2) + gamma_1^2), with (e1, e2) the
    orthonormal basis of the span (e1 along phi; gamma = gamma_1 e1 + b e2) and every term
    non-negative (no cancellation but 1 - alpha's, relative error ~ float eps / rtol)."""
    delta = jnp.max(r, axis=-1, keepdims=True) - r
    y_star = jnp.argmax(r, axis=-1)
    z_star = jnp.take_along_axis(z, y_star[..., None, None], axis=-2)  # [N, M, 1, p]
    t = z_star - z  # [N, M, K, p]: the decision a lock on y' gets wrong
    informative = support & (jnp.sum(f * f, -1) > 0)
    lockable = lockable & informative[..., None] & (delta > 0)

    e, V = jnp.linalg.eigh(0.5 * (sigma + sigma.T)) if eig is None else eig
    white = lambda v: (v @ V) / jnp.sqrt(jnp.maximum(e, 0.0) + eps)
    dot = lambda a, b: jnp.sum(a * b, -1)
    phi = white(f) * jnp.sqrt(omega)[..., None]  # [N, M, p]
    alpha = dot(phi, phi)
    rest = jnp.maximum(1.0 - alpha, 0.0)  # [N, M]: 1 - alpha, what the rest of optimal play keeps
    e1 = (phi / jnp.sqrt(jnp.where(alpha > 0, alpha, 1.0))[..., None])[..., None, :]  # [N, M, 1, p]
    loo = dot(f, f) * omega * rest / jnp.where(alpha > 0, alpha, 1.0)
    gamma = white(G) * jnp.sqrt(omega[..., None] * w)[..., None]  # [N, M, K, p]
    tau = white(t)
    g1 = dot(gamma, e1)
    perp = gamma - g1[..., None] * e1
    b = jnp.sqrt(dot(perp, perp))
    span2 = b > 1e-6 * jnp.sqrt(dot(gamma, gamma) + 1.0)
    e2 = jnp.where(span2[..., None], perp / jnp.where(span2, b, 1.0)[..., None], 0.0)
    b = jnp.where(span2, b, 0.0)
    t1, t2 = dot(tau, e1), dot(tau, e2)
    tau_perp = tau - t1[..., None] * e1 - t2[..., None] * e2
    rest_k = rest[..., None]
    det = rest_k * (1.0 + b * b) + g1 * g1
    inner = t1 * t1 + rest_k * t2 * t2 + jnp.square(b * t1 - g1 * t2)
    q = dot(tau_perp, tau_perp) + jnp.where(det > 0, inner / jnp.where(det > 0, det, 1.0), jnp.inf)
    cov = dot(t, t) / q
    loo = jnp.where(informative, jnp.where(loo > SLACK * eps, loo, 0.0), jnp.inf)
    seen = cov > SLACK * eps
    unlock = jnp.where(lockable, jnp.where(seen, q, jnp.inf) / jnp.where(lockable, delta, 1.0) ** 2,
                       0.0)
    cov = jnp.where(lockable, jnp.where(seen, cov, 0.0), jnp.inf)
    return loo, cov, unlock


def lock_play(feedback, z: Array, r: Array, reference: Array) -> tuple[Array, Array, Array]:
    """The model's ``lock_play`` in every context: (G [N, M, K, p], w [N, M, K], lockable
    [N, M, K]) from z [N, M, K, p], r [N, M, K], reference [M]."""
    ref = jnp.broadcast_to(reference, r.shape[:-1])
    return jax.vmap(jax.vmap(feedback.lock_play))(z, r, ref)
