"""Optimism in the face of uncertainty: LinUCB (``scalar``) and GLM-UCB (``bt_*``, ``mnl``).

The learner keeps the shared ridge MLE (theta, V^-1) of learners/glm.py and plays

    y = argmax_y  theta . z(y) + alpha_t ||z(y) - z_anchor||_{V^-1}      (random ties)

where the anchor is what the feedback compares y with: nothing (z_anchor = 0) for ``scalar``,
which makes this exactly LinUCB with ridge lambda (disjoint LinUCB when z is one-hot arm ⊗ context,
see tests/test_learner_peers.py), and the reference z(y0) for ``bt_ref``, ``bt_duel`` and ``mnl``
(GLM-UCB on the comparison direction; the reference itself gets no bonus, as playing it teaches
nothing under ``bt_ref``). Under ``bt_duel`` the option ``second="optimistic"`` picks the challenger
argmax_y' theta . z(y') + alpha_t ||z(y') - z(y)||_{V^-1} (learners/duel.py); under ``mnl`` the slate
is the top S by the optimistic score.

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
from jaxpa.learners.base import Featurizer, Learner, personalized, random_argmax
from jaxpa.learners.duel import check_second, duel_action
from jaxpa.learners.glm import GLMState, glm_initializer, observe_glm

Array = jax.Array


@struct.dataclass
class UcbHParams:
    """ridge: prior precision lambda > 0; alpha: width of the confidence bonus (>= 0); growth:
    how the radius grows with the round, alpha_t = alpha sqrt(1 + growth log(1 + t)) (0: constant
    alpha, the textbook LinUCB; 1, the default: the sqrt(log t) growth of OFUL-style radii)."""

    ridge: Array
    alpha: Array
    growth: Array


def radius(hparams: UcbHParams, t: Array) -> Array:
    """alpha_t = alpha sqrt(1 + growth log(1 + t)) for the 0-based round t (alpha_0 = alpha)."""
    return hparams.alpha * jnp.sqrt(1.0 + hparams.growth * jnp.log1p(t.astype(jnp.float32)))


def widths(V_inv: Array, diffs: Array) -> Array:
    """||diff_y||_{V^-1} for each row of diffs [K, p]: [K] (clipped at 0 against rounding)."""
    quad = jnp.einsum("kp,pq,kq->k", diffs, V_inv, diffs)
    return jnp.sqrt(jnp.maximum(quad, 0.0))


def anchor(feedback: FeedbackModel, z: Array, reference: Array) -> Array:
    """The feature the bonus is measured from: 0 for ``scalar``, z(y0) otherwise: [p]."""
    return jnp.zeros_like(z[0]) if feedback.name == "scalar" else z[reference]


def ucb_scores(feedback: FeedbackModel, state: GLMState, z: Array, reference: Array,
               alpha: Array) -> Array:
    """Optimistic scores theta . z(y) + alpha ||z(y) - z_anchor||_{V^-1}: [K]."""
    return z @ state.theta + alpha * widths(state.V_inv, z - anchor(feedback, z, reference))


def ucb(feedback: FeedbackModel, featurizer: Featurizer | None = None,
        second: str = "reference") -> Learner:
    """LinUCB / GLM-UCB with the shared online ridge MLE; ``second`` for ``bt_duel``."""
    featurizer = featurizer or personalized()
    check_second("ucb", second, own=("optimistic",))

    def act(key, state: GLMState, ctx, hparams: UcbHParams) -> Array:
        k_tie, k_second = jax.random.split(key)
        z = featurizer.featurize(ctx.head, ctx.features)
        alpha = radius(hparams, ctx.t)
        scores = ucb_scores(feedback, state, z, ctx.reference, alpha)
        first = random_argmax(k_tie, scores)
        own = None
        if second == "optimistic":
            own = z @ state.theta + alpha * widths(state.V_inv, z - z[first])
        return duel_action(feedback, second, k_second, scores, first, ctx.reference, own)

    def default_hparams() -> UcbHParams:
        return UcbHParams(ridge=jnp.float32(1.0), alpha=jnp.float32(1.0), growth=jnp.float32(1.0))

    return Learner(f"ucb[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), default_hparams)
