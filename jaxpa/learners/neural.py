"""A neural learner: a reward model of every user, trained online with an Optax optimiser.

Bring your own reward model. The learner trains any model given as pure functions of a parameter
pytree (``RewardModel``):

    params  = model.init(key, n_users, features)     # features [K, d] (one prompt's candidates)
    rewards = model.apply(params, user, features)     # user: int32 scalar id -> rewards [K]

``reward_model`` builds one from what you have: a Flax NNX module or a factory
``(n_users, rngs) -> nnx.Module`` (``from_nnx``: ``nnx.split`` into a static graph and an
``nnx.State`` of its ``nnx.Param`` variables, the trained pytree, merged back inside ``apply``), a
Flax linen module or a factory ``n_users -> nn.Module`` (``from_linen``), or a pure
``(init, apply)`` pair. A factory gets the run's n_users and, for NNX, ``nnx.Rngs`` of the seed's
init key, so each seed starts from its own draw; a module instance starts every seed from the
instance's own parameters. ``apply`` must work on one round (the learner vmaps it over its
buffer) and be traceable; the learner checks its output shape before anything compiles.

Default model (``PersonalizedReward``, flax.linen): a shared torso MLP maps each response's
features phi(x, y) [d] to an embedding f(phi) ∈ R^m, a table holds one embedding e_u ∈ R^m per
user, and r̂_u(x, y) = <e_u, f(phi(x, y))>. With a linear torso this is the bilinear model
h_u^T W phi of MODEL.md §1 with unknown heads; the learner sees only the user's id (``ctx.user``).

Training: each round the datum is written into a ring buffer of the last ``buffer_size`` rounds
(memory independent of T), then ``n_steps`` optimiser steps are taken on the mean negative
log-likelihood of the buffered data under the learner's feedback model. That log-likelihood is
linear-in-reward (the feedback model's ``newton_terms`` with z = I_K gives its exact gradient with
respect to the K predicted rewards, for ``scalar``, ``bt_ref``, ``bt_duel`` and ``mnl`` alike), so
the loss used is the surrogate -<stop_gradient(dℓ/dr̂), r̂>, whose gradient in the parameters is
that of the negative log-likelihood (logistic for BT, squared error / s² for scalar).

The optimiser is any Optax factory taking ``learning_rate`` (``optax.adam``, ``optax.adamw``,
``lambda learning_rate: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(learning_rate))``)
or the name of one. It is wrapped in ``optax.inject_hyperparams``, so the learning rate (decaying
with t) lives in the optimiser state and is an array hyperparameter (``NeuralHParams``): a
learning-rate sweep is a vmap like any other. The defaults (Adam, 3e-3, decay exponent 0.5) were
picked by a small sweep on F1 with bt_ref. Actions: greedy on r̂ (random ties) through
``feedback.choose``; exploration (warm start, epsilon) comes from the wrappers of
learners/explore.py. The parameters start from the key ``init`` gets (each seed its own draw).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.hparams import hparam
# the reward models live in reward_models.py; re-exported here, where users look for them
from jaxpa.learners.reward_models import (ModelParams, PersonalizedReward, RewardModel,  # noqa: F401
                                          _factory_name, check_output, from_linen, from_nnx,
                                          reward_model)

Array = jax.Array



# ----- the learner -------------------------------------------------------------------------------
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
    """params: the model's parameters (``RewardModel.init``); opt_state: the optax state;
    replay: the buffer."""

    params: Any
    opt_state: Any
    replay: Replay

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


def surrogate_loss(apply: Callable, feedback: FeedbackModel, params, replay: Replay,
                   valid: Array) -> Array:
    """Mean over valid buffer slots of -<stop_gradient(dℓ/dr̂), r̂>: its parameter gradient is the
    mean negative log-likelihood's. apply: ``RewardModel.apply``; valid: [B] bool."""
    r_hat = jax.vmap(apply, in_axes=(None, 0, 0))(params, replay.user, replay.features)
    g = jax.vmap(nll_reward_gradient, in_axes=(None, 0, 0, 0, 0))(
        feedback, jax.lax.stop_gradient(r_hat), replay.action, replay.reference, replay.obs)
    per_datum = -jnp.sum(g * r_hat, axis=-1)
    w = valid.astype(r_hat.dtype)
    return jnp.sum(w * per_datum) / jnp.maximum(jnp.sum(w), 1.0)


def learning_rate(hparams: NeuralHParams, t: Array, buffer_size: int) -> Array:
    """Step size of round t: learning_rate * (1 + t / buffer_size)^-lr_decay (a scalar)."""
    t = jnp.asarray(t, hparams.learning_rate.dtype)
    return hparams.learning_rate * (1.0 + t / buffer_size) ** (-hparams.lr_decay)


def make_optimizer(optimizer: str | Callable[..., optax.GradientTransformation]):
    """``optax.inject_hyperparams`` of an optax factory taking ``learning_rate`` (or its name),
    checked on a dummy parameter (nothing compiles). Raises ValueError otherwise."""
    if isinstance(optimizer, optax.GradientTransformation):
        raise ValueError("neural: optimizer must be a factory taking learning_rate (optax.adam, "
                         "or lambda learning_rate: optax.chain(...)), not a built "
                         "GradientTransformation: the learning rate is a hyperparameter")
    if isinstance(optimizer, str):
        if not callable(getattr(optax, optimizer, None)):
            raise ValueError(f"neural: unknown optax optimiser {optimizer!r}")
        optimizer = getattr(optax, optimizer)
    if not callable(optimizer):
        raise ValueError(f"neural: optimizer must be an optax factory or its name, got "
                         f"{optimizer!r}")
    injected = optax.inject_hyperparams(optimizer)
    try:
        jax.eval_shape(lambda: injected(learning_rate=1e-3).init({"w": jnp.zeros(2)}))
    except TypeError as err:
        raise ValueError(f"neural: the optimiser {_factory_name(optimizer)} must be an optax "
                         f"factory taking learning_rate ({err})") from None
    return injected


def neural(feedback: FeedbackModel, model=None,
           optimizer: str | Callable[..., optax.GradientTransformation] = "adam",
           buffer_size: int = 64, n_steps: int = 1, *, hidden: Sequence[int] | None = None,
           embed_dim: int | None = None) -> Learner:
    """Greedy on a reward model trained online (see the module docstring).

    model: your reward model (``reward_model``: a RewardModel, an (init, apply) pair, a linen or
    NNX module, or ``from_linen``/``from_nnx`` of a factory); None: ``PersonalizedReward`` with
    torso widths ``hidden`` (default (32,); () for a linear torso) and embedding size
    ``embed_dim`` (default 8), options of the default model only. optimizer: an optax factory
    taking ``learning_rate`` (or its name); buffer_size, n_steps: replay size and optimiser steps
    per round.
    """
    if buffer_size < 1 or n_steps < 1:
        raise ValueError(f"neural: buffer_size and n_steps must be >= 1, got {buffer_size}, "
                         f"{n_steps}")
    if model is None:
        hidden = (32,) if hidden is None else tuple(int(h) for h in hidden)
        embed_dim = 8 if embed_dim is None else int(embed_dim)
        if embed_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"neural: embed_dim and hidden widths must be >= 1, got "
                             f"{embed_dim}, {hidden}")
        model = from_linen(lambda n_users: PersonalizedReward(n_users, embed_dim, hidden),
                           f"{'x'.join(map(str, hidden)) or 'linear'},m={embed_dim}")
    elif hidden is not None or embed_dim is not None:
        raise ValueError("neural: hidden and embed_dim size the default model; with model=... "
                         "size your own model instead")
    model = reward_model(model)
    make_opt = make_optimizer(optimizer)

    def init(key, inst, hparams: NeuralHParams) -> NeuralState:
        N, K, d, dtype = inst.n_users, inst.n_responses, inst.d, inst.features.dtype
        A = feedback.n_actions
        features = jnp.zeros((K, d), dtype)
        params = model.init(key, N, features)
        check_output(model, params, features)
        obs = jax.eval_shape(feedback.sample, jax.random.key(0), jnp.zeros((K,), dtype),
                             jnp.arange(A, dtype=jnp.int32) % K, jnp.int32(0))
        B = buffer_size
        replay = Replay(user=jnp.zeros((B,), jnp.int32), features=jnp.zeros((B, K, d), dtype),
                        reference=jnp.zeros((B,), jnp.int32),
                        action=jnp.zeros((B, A), jnp.int32) + jnp.arange(A, dtype=jnp.int32) % K,
                        obs=jnp.zeros((B,) + obs.shape, obs.dtype))
        opt_state = make_opt(learning_rate=hparams.learning_rate).init(params)
        return NeuralState(params=params, opt_state=opt_state, replay=replay)

    def act(key, state: NeuralState, ctx, hparams: NeuralHParams) -> Array:
        scores = model.apply(state.params, ctx.user, ctx.features)
        return feedback.choose(key, scores, ctx.reference)

    def update(state: NeuralState, ctx, action, obs, hparams: NeuralHParams) -> NeuralState:
        slot = ctx.t % buffer_size
        rp = state.replay
        replay = Replay(user=rp.user.at[slot].set(ctx.user),
                        features=rp.features.at[slot].set(ctx.features),
                        reference=rp.reference.at[slot].set(ctx.reference),
                        action=rp.action.at[slot].set(action), obs=rp.obs.at[slot].set(obs))
        valid = jnp.arange(buffer_size) <= ctx.t
        lr = learning_rate(hparams, ctx.t, buffer_size)
        opt = make_opt(learning_rate=lr)
        opt_state = state.opt_state._replace(hyperparams={
            **state.opt_state.hyperparams, "learning_rate": lr})

        def step(carry, _):
            params, opt_state = carry
            grads = jax.grad(lambda p: surrogate_loss(model.apply, feedback, p, replay,
                                                      valid))(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, opt_state), _ = jax.lax.scan(step, (state.params, opt_state), None,
                                              length=n_steps)
        return NeuralState(params=params, opt_state=opt_state, replay=replay)

    def default_hparams() -> NeuralHParams:
        return NeuralHParams(learning_rate=jnp.float32(3e-3), lr_decay=jnp.float32(0.5))

    return Learner(f"neural[{model.name}]", feedback, init, act, update, default_hparams)
