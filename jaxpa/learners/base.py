"""The learner protocol.

A ``Learner`` is a NamedTuple of pure functions, like an optax transformation:

    state  = learner.init(key, instance, hparams)
    action = learner.act(key, state, context, hparams)            # int32 [A]
    state  = learner.update(state, context, action, obs, hparams)

Hyperparameters are a pytree of arrays passed at call time (never closed over), so a sweep over
16 values is a ``vmap`` over ``hparams``, not a Python loop; ``default_hparams()`` gives scalar
defaults, declared with their ranges (learners/hparams.py). ``feedback`` is the feedback model the
learner assumes; the runner checks that it is the model the environment simulates. A learner
turns its scores into an action with ``feedback.choose`` (the model knows what an action is: one
response, a duel, a slate) and explores with ``feedback.uniform_action``; exploration schedules
are wrappers around any learner (learners/explore.py).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
from flax import struct

from jaxpa.envs.feedback import FeedbackModel

Array = jax.Array


class Learner(NamedTuple):
    name: str
    feedback: FeedbackModel
    init: Callable[..., Any]
    act: Callable[..., Array]
    update: Callable[..., Any]
    default_hparams: Callable[[], Any]


@struct.dataclass
class NoHParams:
    """Learners without hyperparameters still take (and ignore) an empty pytree."""


def keep_state(state, ctx, action, obs, hparams):
    """The ``update`` of a learner that does not learn."""
    return state
