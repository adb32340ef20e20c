"""Optimism in the face of uncertainty: LinUCB (``scalar``) and GLM-UCB (``bt_*``, ``mnl``).

The learner keeps the shared ridge MLE (theta, V^-1) of learners/glm.py and plays

    y = argmax_y  theta . z(y) + alpha_t ||z(y) - z_anchor||_{V^-1}      (random ties)

where the anchor is what the feedback compares y with: nothing (z_anchor = 0) for ``scalar``,
which makes this exactly LinUCB with ridge lambda (disjoint LinUCB when z is one-hot arm ⊗ context,
see tests/learners/test_learner_peers.py), and the reference z(y0) for ``bt_ref``, ``bt_duel`` and ``mnl``
(GLM-UCB on the comparison direction; the reference itself gets no bonus, as playing it teaches
nothing under ``bt_ref``): the anchor is the feedback model's (``feedback.anchor``). Under
``bt_duel`` with the learner's own second response, the challenger is
argmax_y' theta . z(y') + alpha_t ||z(y') - z(y)||_{V^-1}, the most optimistic challenger of y
(y' = y once no challenger is plausibly better); under ``mnl`` the slate is the top S by the
optimistic score.

The radius alpha_t = alpha sqrt(1 + growth log(1 + t)) grows like sqrt(log t) by default: with a
constant radius (growth = 0, textbook LinUCB) a response whose estimate is too low and that is
never played keeps its width, so the learner can stay on a suboptimal response forever (seen on
F2); the growing radius makes it revisit such responses at a log t rate. alpha and growth are
hyperparameter arrays: a sweep over 16 values is one vmapped call (examples/sweep_ucb_alpha.py).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.design import Featurizer, personalized
from jaxpa.learners.glm import GLMState, glm_initializer, observe_glm
from jaxpa.learners.hparams import hparam

Array = jax.Array


@struct.dataclass
class UcbHParams:
    """ridge: prior precision lambda > 0; alpha: width of the confidence bonus (>= 0); growth:
    how the radius grows with the round, alpha_t = alpha sqrt(1 + growth log(1 + t)) (0: constant
    alpha, the textbook LinUCB; 1, the default: the sqrt(log t) growth of OFUL-style radii)."""

    ridge: Array = hparam("float", low=0.0, low_open=True)
    alpha: Array = hparam("float", low=0.0)
    growth: Array = hparam("float", low=0.0)


def radius(hparams: UcbHParams, t: Array) -> Array:
    """alpha_t = alpha sqrt(1 + growth log(1 + t)) for the 0-based round t (alpha_0 = alpha)."""
    return hparams.alpha * jnp.sqrt(1.0 + hparams.growth * jnp.log1p(t.astype(jnp.float32)))


def widths(V_inv: Array, diffs: Array) -> Array:
    """||diff_y||_{V^-1} for each row of diffs [K, p]: [K] (clipped at 0 against rounding)."""
    quad = jnp.einsum("kp,pq,kq->k", diffs, V_inv, diffs)
    return jnp.sqrt(jnp.maximum(quad, 0.0))


def ucb_scores(feedback: FeedbackModel, state: GLMState, z: Array, reference: Array,
               alpha: Array) -> Array:
    """Optimistic scores theta . z(y) + alpha ||z(y) - anchor||_{V^-1}: [K]."""
    return z @ state.theta + alpha * widths(state.V_inv, z - feedback.anchor(z, reference))


def ucb(feedback: FeedbackModel, featurizer: Featurizer | None = None) -> Learner:
    """LinUCB / GLM-UCB with the shared online ridge MLE."""
    featurizer = featurizer or personalized()

    def act(key, state: GLMState, ctx, hparams: UcbHParams) -> Array:
        z = featurizer.featurize(ctx.head, ctx.features)
        alpha = radius(hparams, ctx.t)
        scores = ucb_scores(feedback, state, z, ctx.reference, alpha)

        def challenger(first):
            return z @ state.theta + alpha * widths(state.V_inv, z - z[first])

        return feedback.choose(key, scores, ctx.reference, challenger)

    def default_hparams() -> UcbHParams:
        return UcbHParams(ridge=jnp.float32(1.0), alpha=jnp.float32(1.0), growth=jnp.float32(1.0))

    return Learner(f"ucb[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), default_hparams)
