"""A custom environment and a learner written from scratch (one reward vector per user, trained
by an Optax optimiser on the feedback model's own log-likelihood gradient, epsilon-greedy as a
wrapper), run through jaxpa's compiled runner. The code below is the example of
docs/extending.md, verbatim (tests/test_docs_example.py checks that both agree and runs it).

Run: python examples/custom_learner.py
"""
import numpy as np
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpa import Instance, Learner, make_feedback, make_learner, set_hparams, simulate
from jaxpa.learners import epsilon_greedy
from jaxpa.learners.hparams import hparam

# 1. An environment: an Instance (data) and a feedback model (a component).
#    N = 3 users, M = 4 prompts, K = 5 responses, d = 3 features, k = 2 latent directions.
rng = np.random.default_rng(0)
phi = rng.normal(size=(4, 5, 3))
inst = Instance.create(
    features=phi / np.linalg.norm(phi, axis=-1, keepdims=True),  # phi(x, y): [M, K, d]
    reference=np.zeros(4, np.int32),                               # y0(x) = response 0
    heads=np.array([[1.0, 0.0], [0.0, 1.0], [0.6, -0.8]]),         # h_u: [N, k]
    W=2.0 * rng.normal(size=(2, 3)),                               # W: [k, d]
    user_probs=np.array([0.5, 0.3, 0.2]))                          # nu: [N]
feedback = make_feedback("bt_ref")  # shows y, observes o ~ Bernoulli(sigmoid(r(y) - r(y0)))


# 2. A learner from scratch: one reward vector per user (r_u = phi . theta_u), trained by an
#    Optax optimiser on the feedback model's own log-likelihood gradient.
@struct.dataclass
class HParams:                      # arrays with declared ranges: a sweep is a vmap
    learning_rate: jax.Array = hparam("float", low=0.0, low_open=True)


@struct.dataclass
class State:
    theta: jax.Array                # [N, d]: each user's estimated reward vector
    opt_state: optax.OptState


def init(key, inst, hp):            # shapes come from inst; each seed gets its own key
    theta = 0.01 * jax.random.normal(key, (inst.n_users, inst.d), inst.features.dtype)
    return State(theta, optax.adagrad(hp.learning_rate).init(theta))


def act(key, state, ctx, hp):       # sees ctx.user, ctx.features, ctx.reference (not ctx.head)
    scores = ctx.features @ state.theta[ctx.user]                  # [K]
    return feedback.choose(key, scores, ctx.reference)             # int32 [A], random ties


def update(state, ctx, action, obs, hp):
    # the gradient of the round's log-likelihood in theta_u, whatever the feedback model
    grad_u, _ = feedback.newton_terms(state.theta[ctx.user], ctx.features, action,
                                      ctx.reference, obs)
    grads = jnp.zeros_like(state.theta).at[ctx.user].set(-grad_u)  # optax minimises
    updates, opt_state = optax.adagrad(hp.learning_rate).update(grads, state.opt_state)
    return State(optax.apply_updates(state.theta, updates), opt_state)


core = Learner("per_user", feedback, init, act, update,
               lambda: HParams(learning_rate=jnp.float32(0.5)))
learner = epsilon_greedy(core, epsilon=0.05)  # exploration is a wrapper around any learner

# 3. Run it through the compiled runner, beside uniform play on the same users, prompts and noise.
key = jax.random.key(42)
curves = simulate(key, inst, feedback, learner, horizon=400, n_seeds=16)
baseline = simulate(key, inst, feedback, make_learner("uniform", feedback), horizon=400,
                    n_seeds=16)
# A learning-rate sweep is one compiled, vmapped call: regret [4 rates, 16 seeds, checkpoints].
rates = set_hparams(learner.default_hparams(), learning_rate=jnp.array([0.1, 0.3, 1.0, 3.0]))
sweep = simulate(key, inst, feedback, learner, rates, horizon=400, n_seeds=16)
print(f"R(400): per-user learner {curves.regret[:, -1].mean():.1f}, "
      f"uniform {baseline.regret[:, -1].mean():.1f}, by learning rate "
      f"{np.round(sweep.regret[:, :, -1].mean(axis=1), 1)}")
