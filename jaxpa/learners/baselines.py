"""The two ends of every plot: uniform play (no learning) and the oracle (knows W and beta)."""
from __future__ import annotations

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner, NoHParams, keep_state


def uniform(feedback: FeedbackModel) -> Learner:
    """Every round the feedback model's uniform action (independent uniform responses; an
    ``mnl`` slate of distinct responses in a uniformly random order)."""

    def act(key, state, ctx, hparams):
        return feedback.uniform_action(key, ctx.features.shape[0], ctx.reference)

    return Learner("uniform", feedback, lambda key, inst, hparams: (), act, keep_state, NoHParams)


def oracle(feedback: FeedbackModel) -> Learner:
    """Knows W and beta and plays ``feedback.oracle_action``: y*_u(x) (a duel (y*, y*) unless
    the second response is fixed; the true top slate under ``mnl``): zero regret."""

    def init(key, inst, hparams):
        return (inst.W, inst.shared)

    def act(key, state, ctx, hparams):
        W, shared = state
        r = ctx.features @ (ctx.head @ W + shared)
        return feedback.oracle_action(key, r, ctx.reference)

    return Learner("oracle", feedback, init, act, keep_state, NoHParams)
