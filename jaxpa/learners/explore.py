"""Exploration as wrappers around any learner, optax-style (MODEL.md §4).

``warm_start(learner)`` plays the feedback model's uniform action in the first
n0 = warm_start + ceil(warm_start_c log T) rounds, then the wrapped learner; with warm_start_c = 0
it is a warm start of n0 rounds, and explore-then-commit with a fixed m is exactly that (m = n0);
with warm_start = 0 it is explore-then-commit with m = c log T, the horizon T read from the round's
context (``ctx.horizon``), so no caller has to set it. ``epsilon_greedy(learner)`` plays the uniform
action with probability eps_t = min(1, epsilon + epsilon_c / t) (t = 1, 2, ...: the 1-based round)
and the wrapped learner otherwise: constant eps with epsilon_c = 0, the decaying eps_t = c / t with
epsilon = 0. Wrappers compose (``epsilon_greedy(warm_start(greedy(fb)))``); their hyperparameters
nest the wrapped learner's in ``inner`` (``learners.set_hparams`` addresses leaves by name).

The wrapped learner always updates on the round, whoever chose the action. Both actions are
computed and one is selected (``jnp.where``): a ``lax.cond`` would copy the learner's state into
its branches every round, which costs more than the wrapped learner's act; the epsilon coin is
per seed.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.draws import uniform01
from jaxpa.learners.base import Learner
from jaxpa.learners.hparams import hparam

Array = jax.Array


@struct.dataclass
class WarmStartHParams:
    """inner: the wrapped learner's hyperparameters; warm_start: uniform rounds m (n0);
    warm_start_c: c of c log T more uniform rounds (explore-then-commit with m = c log T)."""

    inner: Any
    warm_start: Array = hparam("int", low=0, max_horizon=True)
    warm_start_c: Array = hparam("float", low=0.0)


@struct.dataclass
class EpsilonHParams:
    """inner: the wrapped learner's hyperparameters; epsilon: constant exploration rate;
    epsilon_c: c of the decaying rate c / t."""

    inner: Any
    epsilon: Array = hparam("float", low=0.0, high=1.0)
    epsilon_c: Array = hparam("float", low=0.0)


def exploration_rounds(hparams: WarmStartHParams, horizon: Array) -> Array:
    """n0 = warm_start + ceil(warm_start_c log T) (int32 scalar)."""
    log_t = jnp.log(jnp.maximum(horizon, 1).astype(jnp.float32))
    extra = jnp.ceil(hparams.warm_start_c.astype(jnp.float32) * log_t)
    return hparams.warm_start + jnp.minimum(extra, 2.0**30).astype(jnp.int32)


def exploration_rate(hparams: EpsilonHParams, t: Array) -> Array:
    """eps_t = min(1, epsilon + epsilon_c / (t + 1)) for the 0-based round index t (float32)."""
    return jnp.minimum(1.0, hparams.epsilon + hparams.epsilon_c / (t + 1.0))


def _wrap(learner: Learner, name: str, explore_when, default_hparams) -> Learner:
    """A learner that plays the uniform action where ``explore_when(key, ctx, hparams)`` holds
    and the wrapped learner's action otherwise."""
    feedback = learner.feedback

    def init(key, inst, hparams):
        return learner.init(key, inst, hparams.inner)

    def act(key, state, ctx, hparams):
        k_rule, k_unif, k_inner = jax.random.split(key, 3)
        # a select, not a lax.cond: a cond hands the learner's whole state (V^-1: [seeds, p, p])
        # to its branches, which XLA copies every round; the uniform action costs next to nothing
        return jnp.where(explore_when(k_rule, ctx, hparams),
                         feedback.uniform_action(k_unif, ctx.features.shape[0], ctx.reference),
                         learner.act(k_inner, state, ctx, hparams.inner))

    def update(state, ctx, action, obs, hparams):
        return learner.update(state, ctx, action, obs, hparams.inner)

    return Learner(f"{name}({learner.name})", feedback, init, act, update, default_hparams)


def warm_start(learner: Learner, n0: int = 0, c: float = 0.0) -> Learner:
    """Uniform actions for the first warm_start + ceil(warm_start_c log T) rounds (defaults n0,
    c), then ``learner``."""
    def explore_when(key, ctx, hp):
        return ctx.t < exploration_rounds(hp, ctx.horizon)

    return _wrap(learner, "warm_start", explore_when, lambda: WarmStartHParams(
        inner=learner.default_hparams(), warm_start=jnp.int32(n0),
        warm_start_c=jnp.float32(c)))


def epsilon_greedy(learner: Learner, epsilon: float = 0.05, c: float = 0.0) -> Learner:
    """Uniform actions with probability min(1, epsilon + c / t) (defaults epsilon, c), else
    ``learner``; the coin is one float32 uniform (the same stream in float64 runs)."""
    def explore_when(key, ctx, hp):
        return uniform01(key) < exploration_rate(hp, ctx.t)

    return _wrap(learner, "epsilon_greedy", explore_when, lambda: EpsilonHParams(
        inner=learner.default_hparams(), epsilon=jnp.float32(epsilon),
        epsilon_c=jnp.float32(c)))
