"""A custom environment and a custom learner (a Flax model trained by an Optax optimiser), run
through jaxpa's compiled runner. The code below is the example of docs/extending.md, verbatim
(tests/test_docs_example.py checks that both agree and runs it).

Run: python examples/custom_learner.py
"""
import numpy as np
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax import struct

from jaxpa import Instance, Learner, make_feedback, make_learner, simulate
from jaxpa.learners.base import random_argmax, uniform_index

# 1. An environment: an Instance built by hand (N = 3 users, M = 4 prompts, K = 5 responses,
#    d = 3 features, k = 2 latent directions). Any family function returning one works the same.
rng = np.random.default_rng(0)
phi = rng.normal(size=(4, 5, 3))
inst = Instance.create(
    features=phi / np.linalg.norm(phi, axis=-1, keepdims=True),  # phi(x, y): [M, K, d]
    reference=np.zeros(4, np.int32),                               # y0(x) = response 0
    heads=np.array([[1.0, 0.0], [0.0, 1.0], [0.6, -0.8]]),         # h_u: [N, k]
    W=2.0 * rng.normal(size=(2, 3)),                               # W: [k, d]
    user_probs=np.array([0.5, 0.3, 0.2]))                          # nu: [N]


# 2. A learner from scratch: a Flax model of r_u(x, y), an Optax optimiser, array hyperparameters.
class Scorer(nn.Module):
    """r_u(x, y) = <e_u, A phi(x, y)>: a user embedding table and a shared linear torso."""
    n_users: int

    @nn.compact
    def __call__(self, user, features):                           # int32, [K, d] -> [K]
        torso = nn.Dense(4, use_bias=False)(features)              # [K, 4]
        return torso @ nn.Embed(self.n_users, 4)(user)


@struct.dataclass
class HParams:                     # arrays, so a sweep over them is a vmap, not a Python loop
    learning_rate: jax.Array
    epsilon: jax.Array


@struct.dataclass
class State:
    params: dict
    opt_state: optax.OptState
    n_users: int = struct.field(pytree_node=False)                 # static: sizes the model


feedback = make_feedback("bt_ref")  # the learner picks y, sees o ~ Bernoulli(sigmoid(r(y) - r(y0)))
optimizer = optax.inject_hyperparams(optax.adam)  # keeps the learning rate in the optimiser state


def init(inst, hp):
    params = Scorer(inst.n_users).init(jax.random.key(0), jnp.int32(0), inst.features[0])
    return State(params, optimizer(learning_rate=hp.learning_rate).init(params), inst.n_users)


def act(key, state, ctx, hp):           # sees ctx.user, ctx.features, ctx.reference (not ctx.head)
    k_explore, k_uniform, k_tie = jax.random.split(key, 3)
    scores = Scorer(state.n_users).apply(state.params, ctx.user, ctx.features)
    explore = jax.random.uniform(k_explore) < hp.epsilon
    y = jnp.where(explore, uniform_index(k_uniform, scores.shape[0]), random_argmax(k_tie, scores))
    return y[None]                      # int32 [A]; A = feedback.n_actions = 1 for bt_ref


def update(state, ctx, action, obs, hp):
    def loss(params):                   # the Bradley-Terry negative log-likelihood of the round
        r = Scorer(state.n_users).apply(params, ctx.user, ctx.features)
        return optax.sigmoid_binary_cross_entropy(r[action[0]] - r[ctx.reference], obs)

    grads = jax.grad(loss)(state.params)
    updates, opt_state = optimizer(learning_rate=hp.learning_rate).update(
        grads, state.opt_state, state.params)
    return state.replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state)


learner = Learner("flax_eps_greedy", feedback, init, act, update,
                  lambda: HParams(learning_rate=jnp.float32(0.05), epsilon=jnp.float32(0.05)))

# 3. Run it through the compiled runner, beside uniform play on the same users, prompts and noise.
key = jax.random.key(42)
curves = simulate(key, inst, learner, horizon=400, n_seeds=16)
baseline = simulate(key, inst, make_learner("uniform", feedback), horizon=400, n_seeds=16)
# A learning-rate sweep is one compiled, vmapped call: regret [4 rates, 16 seeds, checkpoints].
sweep = simulate(key, inst, learner, HParams(learning_rate=jnp.array([0.01, 0.03, 0.1, 0.3]),
                                             epsilon=jnp.float32(0.05)), horizon=400, n_seeds=16)
print(f"R(400): flax learner {curves.regret[:, -1].mean():.1f}, "
      f"uniform {baseline.regret[:, -1].mean():.1f}, by learning rate "
      f"{np.round(sweep.regret[:, :, -1].mean(axis=1), 1)}")
