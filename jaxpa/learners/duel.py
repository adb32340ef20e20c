"""``bt_duel``: who picks the second response, and what the duel costs.

Under ``bt_duel`` a learner shows two responses (y, y') and observes o ~ Bernoulli(sigmoid(r(y) -
r(y'))). The first response y is the learner's usual choice; the second is picked by a named,
static policy passed as the learner option ``second``:

- ``reference``: y' = y0(x), the reference (then the feedback is that of ``bt_ref``);
- ``runner_up``: the best other response by the learner's own scores (random ties);
- ``uniform``: uniform over the K candidates (may equal y, which then teaches nothing);
- ``optimistic`` (``ucb`` only): y' = argmax_y' theta.z(y') + alpha ||z(y') - z(y)||_{V^-1}, the
  most optimistic challenger *of y* (y' = y when no challenger is plausibly better: no regret and
  no information once the learner is confident);
- ``sampled`` (``ts`` only): y' = argmax of a second, independent posterior sample (may equal y).

The first three work for every estimating learner; the last two use the learner's own confidence
set or posterior. The regret of a duel is chosen on the feedback model (``make_feedback("bt_duel",
regret=...)``, envs/feedback.py): ``average`` (the default, r* - (r(y) + r(y')) / 2: a second
response chosen to explore is paid for), ``weak`` (r* - max), ``strong`` (r* - min) or ``first``
(r* - r(y): the second response explores for free; MODEL.md §2 warns about it).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import SECOND_RESPONSES, make_action, random_argmax

Array = jax.Array

OWN_SECOND = ("optimistic", "sampled")
SECOND_POLICIES = SECOND_RESPONSES + OWN_SECOND


def check_second(learner: str, second: str, own: tuple[str, ...] = ()) -> str:
    """Reject, before anything compiles, a second-response policy the learner cannot use."""
    allowed = SECOND_RESPONSES + own
    if second not in allowed:
        raise ValueError(f"{learner}: unknown or unsupported second-response policy {second!r}; "
                         f"this learner knows {allowed} (all policies: {SECOND_POLICIES})")
    return second


def duel_action(feedback: FeedbackModel, second: str, key: Array, scores: Array, first: Array,
                reference: Array, own_scores: Array | None = None) -> Array:
    """The action [A] int32: ``make_action`` for the shared policies; for the learner's own
    policies (``optimistic``, ``sampled``) under ``bt_duel``, (first, argmax own_scores [K])."""
    if feedback.name == "bt_duel" and second in OWN_SECOND:
        return jnp.stack([first, random_argmax(key, own_scores)])
    policy = "reference" if second in OWN_SECOND else second  # ignored off bt_duel
    return make_action(feedback, policy, key, scores, first, reference)
