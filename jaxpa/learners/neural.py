"""A neural learner: a Flax model of every user's reward, trained online with an Optax optimiser.

Model (``PersonalizedReward``, flax.linen): a shared torso MLP maps each response's features
phi(x, y) [d] to an embedding f(phi) ∈ R^m, a table holds one embedding e_u ∈ R^m per user, and
r̂_u(x, y) = <e_u, f(phi(x, y))>. With a linear torso this is the bilinear model h_u^T W phi of
MODEL.md §1 with unknown heads; the learner sees only the user's id (``ctx.user``).

Training: each round the datum is written into a ring buffer of the last ``buffer_size`` rounds
(memory independent of T), then ``n_steps`` optimiser steps are taken on the mean negative
log-likelihood of the buffered data under the learner's feedback model. That log-likelihood is
linear-in-reward (the feedback model's ``newton_terms`` with z = I_K gives its exact gradient with
respect to the K predicted rewards, for ``scalar``, ``bt_ref``, ``bt_duel`` and ``mnl`` alike), so
the loss used is the surrogate -<stop_gradient(dℓ/dr̂), r̂>, whose gradient in the parameters is
that of the negative log-likelihood (logistic for BT, squared error / s² for scalar).

Hyperparameters are arrays (``NeuralHParams``): the learning rate (decaying with t) reaches the
optimiser through ``optax.inject_hyperparams``, so a learning-rate sweep is a vmap like any other.
The defaults (Adam, 3e-3, decay exponent 0.5) were picked by a small sweep on F1 with bt_ref.
Actions: greedy on r̂ (random ties) through ``feedback.choose``; exploration (warm start,
epsilon) comes from the wrappers of learners/explore.py. The parameters start from the key
``init`` gets (each seed its own draw).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.hparams import hparam

Array = jax.Array


class PersonalizedReward(nn.Module):
    """r̂_u(phi) = <e_u, torso(phi)>: user id (int32 scalar), features [K, d] -> rewards [K]."""

    n_users: int
    embed_dim: int = 8
    hidden: Sequence[int] = (32,)

    @nn.compact
    def __call__(self, user: Array, features: Array) -> Array:
        x = features
        for width in self.hidden:
            x = nn.gelu(nn.Dense(width)(x))
        x = nn.Dense(self.embed_dim, use_bias=False)(x)  # a bias would add b.e_u to every y
        return x @ nn.Embed(self.n_users, self.embed_dim, name="users")(user)


@struct.dataclass
class Replay:
    """The last B rounds: user [B], features [B, K, d], reference [B], action [B, A], obs [B].
    Slot t % B holds round t."""

    user: Array
    features: Array
    reference: Array
    action: Array
    obs: Array


@struct.dataclass
class NeuralState:
    """params: the Flax variables; opt_state: the optax state; replay: the buffer;
    n_users: static, sizes the model."""

    params: Any
    opt_state: Any
    replay: Replay
    n_users: int = struct.field(pytree_node=False)

    @property
    def theta(self) -> Array:
        """The model's parameters flattened: [..., P] (leading axes of a batched state kept)."""
        batch = self.replay.user.shape[:-1]
        return jnp.concatenate([x.reshape(batch + (-1,)) for x in jax.tree.leaves(self.params)],
                               axis=-1)


@struct.dataclass
class NeuralHParams:
    """learning_rate: the optimiser's step size at t = 0, decaying as
    (1 + t / buffer_size)^-lr_decay (``learning_rate()``: a constant step tracks the recent buffer
    and forgets, a decaying one lets the estimate settle)."""

    learning_rate: Array = hparam("float", low=0.0, low_open=True)
    lr_decay: Array = hparam("float", low=0.0)


def nll_reward_gradient(feedback: FeedbackModel, r_hat: Array, action: Array, reference: Array,
                        obs) -> Array:
    """d(log-likelihood)/d(r̂) [K] of one datum: the feedback model with z = I_K, theta = r̂."""
    K = r_hat.shape[0]
    return feedback.newton_terms(r_hat, jnp.eye(K, dtype=r_hat.dtype), action, reference, obs)[0]


def surrogate_loss(model: nn.Module, feedback: FeedbackModel, params, replay: Replay,
                   valid: Array) -> Array:
    """Mean over valid buffer slots of -<stop_gradient(dℓ/dr̂), r̂>: its parameter gradient is the
    mean negative log-likelihood's. valid: [B] bool."""
    r_hat = jax.vmap(model.apply, in_axes=(None, 0, 0))(params, replay.user, replay.features)
    g = jax.vmap(nll_reward_gradient, in_axes=(None, 0, 0, 0, 0))(
        feedback, jax.lax.stop_gradient(r_hat), replay.action, replay.reference, replay.obs)
    per_datum = -jnp.sum(g * r_hat, axis=-1)
    w = valid.astype(r_hat.dtype)
    return jnp.sum(w * per_datum) / jnp.maximum(jnp.sum(w), 1.0)


def learning_rate(hparams: NeuralHParams, t: Array, buffer_size: int) -> Array:
    """Step size of round t: learning_rate * (1 + t / buffer_size)^-lr_decay (a scalar)."""
    t = jnp.asarray(t, hparams.learning_rate.dtype)
    return hparams.learning_rate * (1.0 + t / buffer_size) ** (-hparams.lr_decay)


def _optimizer(optimizer: str | Callable[..., optax.GradientTransformation]):
    if isinstance(optimizer, str):
        if not callable(getattr(optax, optimizer, None)):
            raise ValueError(f"neural: unknown optax optimiser {optimizer!r}")
        optimizer = getattr(optax, optimizer)
    return optax.inject_hyperparams(optimizer)


def neural(feedback: FeedbackModel, hidden: Sequence[int] = (32,), embed_dim: int = 8,
           optimizer: str | Callable[..., optax.GradientTransformation] = "adam",
           buffer_size: int = 64, n_steps: int = 1) -> Learner:
    """ε-greedy on a ``PersonalizedReward`` trained online (see the module docstring).

    hidden: torso widths (() for a linear torso); embed_dim: m; optimizer: an optax optimiser
    factory taking ``learning_rate`` (or its name); buffer_size, n_steps: replay size and optimiser
    steps per round.
    """
    hidden = tuple(int(h) for h in hidden)
    if embed_dim < 1 or buffer_size < 1 or n_steps < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"neural: embed_dim, buffer_size, n_steps and hidden widths must be "
                         f">= 1, got {embed_dim}, {buffer_size}, {n_steps}, {hidden}")
    make_opt = _optimizer(optimizer)
    model_for = lambda n_users: PersonalizedReward(n_users, embed_dim, hidden)

    def init(key, inst, hparams: NeuralHParams) -> NeuralState:
        N, K, d, dtype = inst.n_users, inst.n_responses, inst.d, inst.features.dtype
        A = feedback.n_actions
        params = model_for(N).init(key, jnp.int32(0),
                                   jnp.zeros((K, d), dtype))
        obs = jax.eval_shape(feedback.sample, jax.random.key(0), jnp.zeros((K,), dtype),
                             jnp.arange(A, dtype=jnp.int32) % K, jnp.int32(0))
        B = buffer_size
        replay = Replay(user=jnp.zeros((B,), jnp.int32), features=jnp.zeros((B, K, d), dtype),
                        reference=jnp.zeros((B,), jnp.int32),
                        action=jnp.zeros((B, A), jnp.int32) + jnp.arange(A, dtype=jnp.int32) % K,
                        obs=jnp.zeros((B,) + obs.shape, obs.dtype))
        opt_state = make_opt(learning_rate=hparams.learning_rate).init(params)
        return NeuralState(params=params, opt_state=opt_state, replay=replay, n_users=N)

    def act(key, state: NeuralState, ctx, hparams: NeuralHParams) -> Array:
        scores = model_for(state.n_users).apply(state.params, ctx.user, ctx.features)
        return feedback.choose(key, scores, ctx.reference)

    def update(state: NeuralState, ctx, action, obs, hparams: NeuralHParams) -> NeuralState:
        slot = ctx.t % buffer_size
        rp = state.replay
        replay = Replay(user=rp.user.at[slot].set(ctx.user),
                        features=rp.features.at[slot].set(ctx.features),
                        reference=rp.reference.at[slot].set(ctx.reference),
                        action=rp.action.at[slot].set(action), obs=rp.obs.at[slot].set(obs))
        valid = jnp.arange(buffer_size) <= ctx.t
        model = model_for(state.n_users)
        lr = learning_rate(hparams, ctx.t, buffer_size)
        opt = make_opt(learning_rate=lr)
        opt_state = state.opt_state._replace(hyperparams={
            **state.opt_state.hyperparams, "learning_rate": lr})

        def step(carry, _):
            params, opt_state = carry
            grads = jax.grad(lambda p: surrogate_loss(model, feedback, p, replay, valid))(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, opt_state), _ = jax.lax.scan(step, (state.params, opt_state), None,
                                              length=n_steps)
        return NeuralState(params=params, opt_state=opt_state, replay=replay,
                           n_users=state.n_users)

    def default_hparams() -> NeuralHParams:
        return NeuralHParams(learning_rate=jnp.float32(3e-3), lr_decay=jnp.float32(0.5))

    return Learner(f"neural[{'x'.join(map(str, hidden)) or 'linear'},m={embed_dim}]", feedback,
                   init, act, update, default_hparams)
