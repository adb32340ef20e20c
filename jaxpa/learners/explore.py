"""Learners that explore uniformly on purpose: epsilon-greedy and explore-then-commit (MODEL.md §4).

Both estimate vec W with the shared ridge MLE (learners/glm.py) and, when not exploring, act like
greedy: argmax_y <theta, z(y)> with random ties (and the ``second`` policy under ``bt_duel``, the
top-S slate under ``mnl``). An exploring round plays ``uniform_action`` (learners/base.py).

- epsilon-greedy: explore with probability eps_t = min(1, epsilon + c / t), t = 1, 2, ... the
  1-based round (ctx.t + 1). Constant eps: c = 0 (``eps_greedy``); the decaying schedule
  eps_t = min(1, c / t): epsilon = 0 (``eps_decay``), which explores about c log T rounds in all.
- explore-then-commit: explore in the first n = m + ceil(c log T) rounds, then commit to greedy.
  Fixed m: c = 0 (``etc``); m = c log T: m = 0 (``etc_log``). The horizon T is the hyperparameter
  ``horizon`` (an array like the others, so a sweep over T or c is a vmap); set it to the run's
  horizon, e.g. with ``registry.for_horizon(hparams, T)``, which ``jaxpa compare`` does.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Featurizer, Learner, personalized, random_argmax, uniform_action
from jaxpa.learners.duel import check_second, duel_action
from jaxpa.learners.glm import GLMState, glm_initializer, observe_glm

Array = jax.Array


@struct.dataclass
class EpsGreedyHParams:
    """ridge: prior precision; epsilon: constant exploration rate; c: decaying rate c / t."""

    ridge: Array
    epsilon: Array
    c: Array


@struct.dataclass
class EtcHParams:
    """ridge: prior precision; m: fixed exploration rounds; c, horizon: c log(horizon) more."""

    ridge: Array
    m: Array
    c: Array
    horizon: Array


def greedy_action(feedback: FeedbackModel, featurizer: Featurizer, second: str, key: Array,
                  state: GLMState, ctx) -> Array:
    """Greedy's action [A] on the current estimate (random ties)."""
    k_tie, k_second = jax.random.split(key)
    scores = featurizer.scores(ctx.head, ctx.features, state.theta)
    first = random_argmax(k_tie, scores)
    return duel_action(feedback, second, k_second, scores, first, ctx.reference)


def explore_or_greedy(feedback, featurizer, second, key, state, ctx, explore: Array) -> Array:
    """``uniform_action`` where ``explore`` (a bool scalar) holds, else ``greedy_action``."""
    k_unif, k_greedy = jax.random.split(key)
    return jnp.where(explore, uniform_action(feedback, k_unif, ctx.features.shape[0]),
                     greedy_action(feedback, featurizer, second, k_greedy, state, ctx))


def exploration_rate(hparams: EpsGreedyHParams, t: Array) -> Array:
    """eps_t = min(1, epsilon + c / (t + 1)) for the 0-based round index t: float scalar."""
    return jnp.minimum(1.0, hparams.epsilon + hparams.c / (t + 1.0))


def exploration_rounds(hparams: EtcHParams) -> Array:
    """n = m + ceil(c log T): the number of uniform rounds before committing (float scalar)."""
    return hparams.m + jnp.ceil(hparams.c * jnp.log(jnp.maximum(hparams.horizon, 1.0)))


def eps_greedy(feedback: FeedbackModel, featurizer: Featurizer | None = None,
               second: str = "reference", schedule: str = "constant") -> Learner:
    """epsilon-greedy; ``schedule`` ("constant" or "decay") only sets the name and the defaults
    (epsilon = 0.05, c = 0, or epsilon = 0, c = 10); the rule is always eps_t above."""
    featurizer = featurizer or personalized()
    check_second("eps_greedy", second)
    defaults = {"constant": (0.05, 0.0), "decay": (0.0, 10.0)}
    if schedule not in defaults:
        raise ValueError(f"eps_greedy: unknown schedule {schedule!r}; known: {sorted(defaults)}")
    epsilon, c = defaults[schedule]

    def act(key, state, ctx, hparams: EpsGreedyHParams) -> Array:
        k_coin, k_act = jax.random.split(key)
        explore = jax.random.uniform(k_coin) < exploration_rate(hparams, ctx.t)
        return explore_or_greedy(feedback, featurizer, second, k_act, state, ctx, explore)

    def default_hparams() -> EpsGreedyHParams:
        return EpsGreedyHParams(ridge=jnp.float32(1.0), epsilon=jnp.float32(epsilon),
                                c=jnp.float32(c))

    name = "eps_greedy" if schedule == "constant" else "eps_decay"
    return Learner(f"{name}[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), default_hparams)


def explore_then_commit(feedback: FeedbackModel, featurizer: Featurizer | None = None,
                        second: str = "reference", schedule: str = "fixed") -> Learner:
    """Explore-then-commit; ``schedule`` ("fixed" or "log") only sets the name and the defaults
    (m = 100, c = 0, or m = 0, c = 20, both with horizon = 1000: set it to the run's horizon)."""
    featurizer = featurizer or personalized()
    check_second("etc", second)
    defaults = {"fixed": (100.0, 0.0), "log": (0.0, 20.0)}
    if schedule not in defaults:
        raise ValueError(f"etc: unknown schedule {schedule!r}; known: {sorted(defaults)}")
    m, c = defaults[schedule]

    def act(key, state, ctx, hparams: EtcHParams) -> Array:
        explore = ctx.t < exploration_rounds(hparams)
        return explore_or_greedy(feedback, featurizer, second, key, state, ctx, explore)

    def default_hparams() -> EtcHParams:
        return EtcHParams(ridge=jnp.float32(1.0), m=jnp.float32(m), c=jnp.float32(c),
                          horizon=jnp.float32(1000.0))

    name = "etc" if schedule == "fixed" else "etc_log"
    return Learner(f"{name}[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), default_hparams)
