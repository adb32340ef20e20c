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

from typing import Any, NamedTuple, Protocol

import jax
from flax import struct

from jaxpa.envs.feedback import FeedbackModel

Array = jax.Array


State = Any    # a learner's pytree state (its own NamedTuple / flax struct)
HParams = Any  # a pytree of array hyperparameters (learners/hparams.py)


class InitFn(Protocol):
    def __call__(self, key: Array, instance: Any, hparams: HParams) -> State:
        """The state before round 1.

        Args:
          key: a PRNG key (the learner's own stream of the seed).
          instance: the ``Instance`` the learner is told (features [M, K, d], heads or user
            ids [N, ...], reference [M]); a learner reads only what it is allowed to know.
          hparams: the hyperparameter pytree (``default_hparams()`` or a grid point).

        Returns:
          The initial state pytree (fixed shapes: it is a ``lax.scan`` carry).
        """


class ActFn(Protocol):
    def __call__(self, key: Array, state: State, context: Any, hparams: HParams) -> Array:
        """The action of one round.

        Args:
          key: a PRNG key of this round.
          state: the learner's state.
          context: the round's ``Context`` (user u, prompt x, candidates' features [K, d],
            reference y0(x)).
          hparams: the hyperparameter pytree.

        Returns:
          action: int32 [A], A = ``feedback.n_actions`` (one response, a duel, a slate), chosen
          with ``feedback.choose`` / ``feedback.uniform_action``.
        """


class UpdateFn(Protocol):
    def __call__(self, state: State, context: Any, action: Array, obs: Any,
                 hparams: HParams) -> State:
        """The state after seeing the answer.

        Args:
          state: the learner's state.
          context: the round's ``Context`` (as for ``act``).
          action: int32 [A], what the learner showed.
          obs: the user's answer (``feedback.sample``: a float, or an int32 index of a choice).
          hparams: the hyperparameter pytree.

        Returns:
          The new state, same structure and shapes as ``state``.
        """


class HParamsFn(Protocol):
    def __call__(self) -> HParams:
        """Scalar defaults of every hyperparameter, declared with their ranges."""


class Learner(NamedTuple):
    """A learner: pure functions ``init``, ``act``, ``update`` (module docstring), like optax's
    ``GradientTransformation``. ``name`` is its registry name; ``feedback`` the model it assumes
    (the runner checks it is the simulated one)."""

    name: str
    feedback: FeedbackModel
    init: InitFn
    act: ActFn
    update: UpdateFn
    default_hparams: HParamsFn


@struct.dataclass
class NoHParams:
    """Learners without hyperparameters still take (and ignore) an empty pytree."""


def keep_state(state, ctx, action, obs, hparams):
    """The ``update`` of a learner that does not learn."""
    return state
