"""Unknown heads (MODEL.md §3-4): learn the shared map W and every user's head h_u from feedback.

The learner sees only the user's id ``ctx.user`` (never ``ctx.head``). Its reward estimate is
r̂_u(x, y) = ĥ_u^T Ŵ phi(x, y) = <θ_u, phi(x, y)> with θ_u = Ŵ^T ĥ_u ∈ R^d, bilinear in (Ŵ, ĥ_u).

Statistics (memory independent of T). Each round folds the datum's log-likelihood, expanded to
second order at the current estimate θ̂_u (``feedback.newton_terms`` with z = phi), into the user's
quadratic  Q_u(θ) = -θ^T A_u θ / 2 + θ^T b_u:  A_u += F^T F,  b_u += grad + F^T F θ̂_u.
For ``scalar`` feedback Q_u is exactly the user's Gaussian log-likelihood; for ``bt_*`` each datum's
curvature is frozen at the estimate it was seen with, as in learners/glm.py.

Bounded data (``datum_terms``). A datum's Newton quadratic in its margin m peaks a / h away and
promises a² / (2h) nats there; after a surprise at a confident margin (bt_*: p(obs) ~ 1e-4 or
less) that is a pull of ~1 / p(obs) with almost no curvature. The ridge below acts on (Ŵ, ĥ_u), and
λ_W ||Ŵ||² / 2 + λ_h ||ĥ_u||² / 2 >= sqrt(λ_W λ_h) ||Ŵ^T ĥ_u|| grows only linearly in the scale of
θ_u, so it cannot hold such a pull: the sweeps walked the margins out geometrically until float32
overflowed. So a datum never promises more than its likelihood can still give: for a model with a
rank-one likelihood its curvature is raised to h' = max(h, a² / (2 L)), L = ``feedback.headroom``
(-log p(obs) for bt_*; for the Gaussian a² / (2L) = h, so scalar data stay exact), and otherwise
(mnl) its gain is capped softly at GAIN_CAP nats by adding grad grad^T / (2 GAIN_CAP) to its
curvature. A_u keeps only its positive semidefinite part after each addition (``psd_part``):
float32 rounding of ~10^5 additions along one direction (greedy replaying one response) otherwise
leaves it indefinite by more than its true small eigenvalues.

Fit. The estimate maximises  Σ_u Q_u(Ŵ^T ĥ_u) - ridge ||Ŵ||² / 2 - head_ridge Σ_u ||ĥ_u - m_u||² / 2
by alternating ridge solves, one sweep per round warm-started from the last round:

* heads (all users, batched k×k solves):  (Ŵ A_u Ŵ^T + head_ridge I) ĥ_u = Ŵ b_u + head_ridge m_u;
* W (one kd×kd solve, row-major vec as in envs/instance.py):
  (Σ_u ĥ_u ĥ_u^T ⊗ A_u + ridge I) vec Ŵ = Σ_u ĥ_u ⊗ b_u.

Both systems are P + ridge I with P positive semidefinite; ``spd_solve`` solves them by Cholesky with
the shift raised, where it is smaller, to float32's resolution next to P's largest entries (ridges
below eps ||P||, as with feature norms of 10^4, would otherwise divide rounding noise).

For scalar feedback this is alternating least squares on the exact ridge objective. (W, H) are
identified only up to an invertible k×k map A: (A Ŵ, Ĥ A^-1) gives the same rewards, so compare
learners through rewards (``reward_estimates``) or regret, never through parameters.

Symmetry and cold start. Ŵ = 0, Ĥ = 0 is a fixed point of the sweep, so Ŵ and the head prior means
m_u start at a small random draw (``init_scale``, from the key ``init`` gets: each seed of a run
starts from its own draw; float32 draws, so float64 runs meet the same stream). A user never seen acts
with the population head, the mean of the seen users' heads. When a user is first seen, its prior
mean m_u is set to the mean of the other seen users' heads at that moment (so it cold-starts from
the population and stays anchored there), except the very first user, who keeps its random draw.
``cold_start="prior"`` keeps every user's random prior mean and acts with it before its first round.

Cost per round: N batched k×k solves, one kd×kd solve and one d×d eigendecomposition
(O(N k² d² + k³ d³)), memory O(N d²).
The shared term beta is not modelled (heads carry all of the reward).

Known weakness (bt_ref, measured with ``jaxpa heads``): greedy on unknown heads needs each user's
own optimal play to pin down that user's head (the experiment's "head identifiability"), and a user
whose head estimate makes the reference look best at its prompts plays y0, which under bt_ref
teaches nothing, so a few runs stay stuck; a uniform warm start (the ``warm_start`` wrapper,
learners/explore.py) makes this rarer.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax.scipy.linalg import cho_solve

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.hparams import hparam

Array = jax.Array

COLD_STARTS = ("population", "prior")
# Feedback without a rank-one likelihood (mnl): the most log-likelihood (nats) one datum's
# quadratic may promise above its value at the estimate it was expanded at, about what a bt_* datum
# can give at its clipped margin.
GAIN_CAP = 30.0


@struct.dataclass
class UnknownHeadsState:
    """W: [k, d] Ŵ; heads: [N, k] Ĥ; prior: [N, k] head prior means m_u; A: [N, d, d] and
    b: [N, d] each user's quadratic log-likelihood statistics; counts: [N] rounds seen (float32,
    like every leaf of the state; exact up to 2^24 rounds per user, and only compared with 0)."""

    W: Array
    heads: Array
    prior: Array
    A: Array
    b: Array
    counts: Array

    @property
    def theta(self) -> Array:
        """Every parameter estimate, flattened: vec Ŵ then Ĥ by rows, [..., kd + Nk] (leading
        axes of a batched state kept). Identified only up to (A Ŵ, Ĥ A^-1)."""
        batch = self.W.shape[:-2]
        return jnp.concatenate([self.W.reshape(batch + (-1,)), self.heads.reshape(batch + (-1,))],
                               axis=-1)


@struct.dataclass
class UnknownHeadsHParams:
    """ridge: prior precision of vec W; head_ridge: prior precision of each head around m_u;
    init_scale: std of the random starting draw."""

    ridge: Array = hparam("float", low=0.0, low_open=True)
    head_ridge: Array = hparam("float", low=0.0, low_open=True)
    init_scale: Array = hparam("float", low=0.0, low_open=True)


def population_head(state: UnknownHeadsState, exclude: Array | None = None) -> Array:
    """Mean head estimate of the users seen so far (leaving out user ``exclude``): [k];
    zeros when there is none."""
    seen = state.counts > 0
    if exclude is not None:
        seen = seen & (jnp.arange(seen.shape[0]) != exclude)
    w = seen.astype(state.heads.dtype)
    return w @ state.heads / jnp.maximum(w.sum(), 1.0)


def current_head(state: UnknownHeadsState, user: Array, cold_start: str = "population") -> Array:
    """The head estimate the learner uses for ``user`` now: [k]. Before the user's first round
    (and after some other user's) that is the population head."""
    own = state.heads[user]
    if cold_start == "prior":
        return own
    use_pop = (state.counts[user] == 0) & jnp.any(state.counts > 0)
    return jnp.where(use_pop, population_head(state), own)


def reward_estimates(state: UnknownHeadsState, features: Array) -> Array:
    """r̂_u(x, y) = ĥ_u^T Ŵ phi(x, y) for every user and the given features [M, K, d]: [N, M, K].
    Invariant under (Ŵ, Ĥ) -> (A Ŵ, Ĥ A^-1): the quantity to compare with ``rewards(inst)``."""
    return jnp.einsum("nk,kd,mjd->nmj", state.heads, state.W, features)


def datum_terms(feedback: FeedbackModel, theta: Array, features: Array, action: Array,
                reference: Array, obs) -> tuple[Array, Array]:
    """One datum's (info [d, d], lin [d]) for (A_u, b_u): the quadratic -θ^T info θ / 2 + θ^T lin
    expanded at θ̂ = ``theta``, bounded as in the module docstring. Rank-one likelihood (gradient
    a g, curvature h g g^T, margin m = θ̂·g): info = h' g g^T, lin = (a + h' m) g; otherwise the
    Newton terms with grad grad^T / (2 GAIN_CAP) added to the curvature."""
    if feedback.has_rank_one:
        g, a, h = feedback.rank_one(theta, features, action, reference, obs)
        m = theta @ g
        L = feedback.headroom(obs, m)
        tiny = jnp.finfo(g.dtype).tiny
        h = jnp.maximum(h, jnp.where(a != 0, a * a / (2.0 * jnp.maximum(L, tiny)), 0.0))
        return h * jnp.outer(g, g), (a + h * m) * g
    grad, factors = feedback.newton_terms(theta, features, action, reference, obs)
    info = factors.T @ factors + jnp.outer(grad, grad) / (2.0 * GAIN_CAP)
    return info, grad + info @ theta


def psd_part(M: Array) -> Array:
    """The symmetric part of M [d, d] with its negative eigenvalues removed (exactly M's symmetric
    part when it has none)."""
    S = 0.5 * (M + M.T)
    w, V = jnp.linalg.eigh(S)
    return S - (V * jnp.minimum(w, 0.0)) @ V.T


def spd_solve(G: Array, rhs: Array, ridge: Array) -> Array:
    """x [..., n] with G x = rhs for G [..., n, n] = P + ridge I, P positive semidefinite in exact
    arithmetic: a Cholesky solve of the symmetrised G with the shift ridge raised, where it is
    smaller, to 4 n eps max_i G_ii (P's rounding next to its largest entries)."""
    n = G.shape[-1]
    S = 0.5 * (G + jnp.swapaxes(G, -1, -2))
    floor = 4 * n * jnp.finfo(S.dtype).eps * jnp.max(jnp.diagonal(S, axis1=-2, axis2=-1), -1)
    shift = jnp.maximum(floor - ridge, 0.0).astype(S.dtype)
    factor = jnp.linalg.cholesky(S + shift[..., None, None] * jnp.eye(n, dtype=S.dtype))
    return cho_solve((factor, True), rhs[..., None])[..., 0]


def observe(feedback: FeedbackModel, state: UnknownHeadsState, user: Array, theta: Array,
            features: Array, action: Array, reference: Array, obs) -> UnknownHeadsState:
    """Fold one datum, expanded at θ̂ = ``theta`` [d], into the user's (A_u, b_u) (``datum_terms``),
    keeping A_u positive semidefinite (``psd_part``)."""
    info, lin = datum_terms(feedback, theta, features, action, reference, obs)
    return state.replace(A=state.A.at[user].set(psd_part(state.A[user] + info)),
                         b=state.b.at[user].add(lin))


def solve_heads(state: UnknownHeadsState, head_ridge: Array) -> Array:
    """Ridge solve of every head for fixed Ŵ: [N, k]."""
    G = jnp.einsum("id,nde,je->nij", state.W, state.A, state.W)
    G = G + head_ridge * jnp.eye(G.shape[-1], dtype=G.dtype)
    rhs = jnp.einsum("id,nd->ni", state.W, state.b) + head_ridge * state.prior
    return spd_solve(G, rhs, head_ridge)


def solve_W(state: UnknownHeadsState, ridge: Array) -> Array:
    """Ridge solve of vec Ŵ for fixed Ĥ: [k, d]."""
    k, d = state.heads.shape[1], state.A.shape[-1]
    hh = jnp.einsum("ni,nj->nij", state.heads, state.heads)
    G = jnp.einsum("nij,nde->idje", hh, state.A).reshape(k * d, k * d)
    G = G + ridge * jnp.eye(k * d, dtype=G.dtype)
    rhs = jnp.einsum("ni,nd->id", state.heads, state.b).reshape(k * d)
    return spd_solve(G, rhs, ridge).reshape(k, d)


def unknown_heads(feedback: FeedbackModel, cold_start: str = "population") -> Learner:
    """Greedy on r̂_u = ĥ_u^T Ŵ phi, fitting (Ŵ, Ĥ) by one alternating ridge sweep per round."""
    if cold_start not in COLD_STARTS:
        raise ValueError(f"unknown_heads: cold_start must be one of {COLD_STARTS}, got "
                         f"{cold_start!r}")

    def init(key, inst, hparams: UnknownHeadsHParams) -> UnknownHeadsState:
        N, k, d, dtype = inst.n_users, inst.k, inst.d, inst.features.dtype
        kw, kh = jax.random.split(key)
        draw = lambda key, shape: jax.random.normal(key, shape, jnp.float32).astype(dtype)
        H0 = hparams.init_scale.astype(dtype) * draw(kh, (N, k))
        return UnknownHeadsState(W=hparams.init_scale.astype(dtype) * draw(kw, (k, d)),
                                 heads=H0, prior=H0, A=jnp.zeros((N, d, d), dtype),
                                 b=jnp.zeros((N, d), dtype), counts=jnp.zeros((N,), dtype))

    def act(key, state: UnknownHeadsState, ctx, hparams: UnknownHeadsHParams) -> Array:
        scores = ctx.features @ (current_head(state, ctx.user, cold_start) @ state.W)
        return feedback.choose(key, scores, ctx.reference)

    def update(state: UnknownHeadsState, ctx, action, obs, hparams) -> UnknownHeadsState:
        u = ctx.user
        if cold_start == "population":
            first = (state.counts[u] == 0) & jnp.any(state.counts > 0)
            m = jnp.where(first, population_head(state, exclude=u), state.prior[u])
            state = state.replace(prior=state.prior.at[u].set(m),
                                  heads=state.heads.at[u].set(jnp.where(first, m, state.heads[u])))
        theta = state.W.T @ state.heads[u]
        state = observe(feedback, state, u, theta, ctx.features, action, ctx.reference, obs)
        state = state.replace(counts=state.counts.at[u].add(1.0))
        state = state.replace(heads=solve_heads(state, hparams.head_ridge))
        return state.replace(W=solve_W(state, hparams.ridge))

    def default_hparams() -> UnknownHeadsHParams:
        return UnknownHeadsHParams(ridge=jnp.float32(1.0), head_ridge=jnp.float32(1.0),
                                   init_scale=jnp.float32(0.5))

    return Learner(f"unknown_heads[{cold_start}]", feedback, init, act, update, default_hparams)
