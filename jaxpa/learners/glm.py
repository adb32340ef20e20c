"""Ridge maximum likelihood by online Newton steps, and the greedy learner built on it.

Every estimating learner keeps ``GLMState``: the estimate theta [p] and the inverse of the
regularised information V = ridge * I + sum_t F_t^T F_t, where F_t are the round's Hessian factors
(``feedback.newton_terms``). One round updates

    V_inv <- V_inv - V_inv f (1 + f^T V_inv f)^-1 f^T V_inv     (Sherman-Morrison, per factor f)
    theta <- theta + V_inv grad_t(theta)                         (one Newton step on the new datum)

When the datum's likelihood depends on theta through one direction g (single-index feedback:
grad = a g, negative Hessian h g g^T, ``feedback.rank_one``), the same update needs one product
with V_inv: with w = V_inv g and c = 1 + h g.w, the new V_inv g is w / c, so

    V_inv <- V_inv - (h / c) w w^T,      theta <- theta + (a / c) w          (glm_update_rank_one)

For Gaussian (``scalar``) feedback this is recursive least squares: exactly the ridge estimate
argmin ||y - Z theta||^2 / s^2 + ridge ||theta||^2 at every t. For logistic (``bt_*``) feedback the
curvature of each datum is frozen at the estimate it was seen with (an online Newton / extended
Kalman approximation of the ridge MLE, O(p^2) a round instead of a full Newton solve over all
data); tests/offline/test_mle.py bounds its distance to the exact ridge MLE on the logged data. V_inv is
kept exactly symmetric (the correction is symmetrised) to stop float32 drift.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.design import Featurizer, personalized
from jaxpa.learners.hparams import hparam

Array = jax.Array


@struct.dataclass
class GLMState:
    """theta: [p] ridge-MLE estimate; V_inv: [p, p] inverse regularised information."""

    theta: Array
    V_inv: Array


@struct.dataclass
class GLMHParams:
    """ridge: prior precision lambda > 0."""

    ridge: Array = hparam("float", low=0.0, low_open=True)


def glm_init(p: int, ridge: Array, dtype=jnp.float32) -> GLMState:
    return GLMState(theta=jnp.zeros((p,), dtype), V_inv=jnp.eye(p, dtype=dtype) / ridge)


def sherman_morrison(V_inv: Array, f: Array) -> Array:
    """(V + f f^T)^-1 from V^-1: [p, p].

    The rank-one correction is symmetrised from the vector u (0.5 (X + X^T), X = u u^T / c), not
    by transposing the updated [p, p] matrix: V_inv stays exactly symmetric (no float32 drift)
    and the update reads V_inv once, in memory order.
    """
    u = V_inv @ f
    X = jnp.outer(u, u) / (1.0 + f @ u)
    return V_inv - 0.5 * (X + X.T)


def glm_initializer(featurizer: Featurizer):
    """The ``init`` of every learner that keeps a ``GLMState`` (hparams need a ``ridge``)."""

    def init(key, inst, hparams) -> GLMState:
        return glm_init(featurizer.dim(inst.k, inst.d), hparams.ridge, inst.features.dtype)

    return init


def glm_update_rank_one(state: GLMState, g: Array, a: Array, h: Array) -> GLMState:
    """``glm_update`` for grad = a g and factors [sqrt(h) g], with one V_inv product instead of
    two (module docstring); equal to it up to float rounding (tests/offline/test_mle.py)."""
    w = state.V_inv @ g
    c = 1.0 + h * (g @ w)
    X = jnp.outer(w, w) * (h / c)
    return GLMState(theta=state.theta + (a / c) * w, V_inv=state.V_inv - 0.5 * (X + X.T))


def glm_update(state: GLMState, grad: Array, factors: Array) -> GLMState:
    """Fold one round's likelihood terms (grad [p], factors [R, p]) into the estimate."""
    V_inv = state.V_inv
    for i in range(factors.shape[0]):  # R is static and small (1 for single-index feedback)
        V_inv = sherman_morrison(V_inv, factors[i])
    return GLMState(theta=state.theta + V_inv @ grad, V_inv=V_inv)


def observe_glm(feedback: FeedbackModel, featurizer: Featurizer):
    """The shared ``update``: featurize the round and take one online Newton step."""

    def update(state: GLMState, ctx, action, obs, hparams) -> GLMState:
        z = featurizer.featurize(ctx.head, ctx.features)
        if feedback.has_rank_one:
            return glm_update_rank_one(
                state, *feedback.rank_one(state.theta, z, action, ctx.reference, obs))
        grad, factors = feedback.newton_terms(state.theta, z, action, ctx.reference, obs)
        return glm_update(state, grad, factors)

    return update


def greedy(feedback: FeedbackModel, featurizer: Featurizer | None = None) -> Learner:
    """Greedy ridge MLE: play argmax_y <theta, z(y)> (random ties), the second response of a duel
    being its runner-up. Warm starts and other exploration are wrappers (learners/explore.py)."""
    featurizer = featurizer or personalized()

    def act(key, state: GLMState, ctx, hparams) -> Array:
        scores = featurizer.scores(ctx.head, ctx.features, state.theta)
        return feedback.choose(key, scores, ctx.reference)

    return Learner(f"greedy[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), lambda: GLMHParams(ridge=jnp.float32(1.0)))
