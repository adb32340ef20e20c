"""The online protocol's environment side (MODEL.md §3): draw a round's context, answer an action.

The environment is an ``Instance`` (data) and a ``FeedbackModel`` (a static component), passed
explicitly to pure functions of an explicit key, like gymnax's ``reset``/``step`` with their
params. The runner folds the round index into the key, so every learner run with the same key
meets the same users, prompts and feedback noise.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.draws import inverse_cdf
from jaxpa.envs.feedback import FeedbackModel
from jaxpa.envs.instance import Instance

Array = jax.Array


@struct.dataclass
class Context:
    """What the learner sees before it acts in round t (unbatched shapes).

    t: int32 round index (0-based); horizon: int32 T, the run's number of rounds (what a
    schedule like explore-then-commit's c log T needs); user: int32 id u_t; head: [k] h_{u_t}
    (known heads; a learner of unknown heads must not read it); prompt: int32 x_t;
    features: [K, d] phi(x_t, .); reference: int32 y0(x_t).
    """

    t: Array
    horizon: Array
    user: Array
    head: Array
    prompt: Array
    features: Array
    reference: Array


def draw_context(key: Array, inst: Instance, t: Array, horizon: Array) -> Context:
    """u_t ~ nu, x_t ~ rho(.|u_t); zero-probability users and prompts are never drawn.

    Each draw costs one uniform (inverse CDF), not one Gumbel variate per user as
    ``jax.random.categorical`` would: with N = 64 users that was the largest cost of a round
    (benchmarks/RESULTS.md). With a single prompt (M = 1) the prompt draw, always 0, is skipped.
    """
    k_user, k_prompt = jax.random.split(key)
    user = inverse_cdf(k_user, inst.user_probs)
    if inst.prompt_probs.shape[-1] == 1:
        prompt = jnp.int32(0)
    else:
        prompt = inverse_cdf(k_prompt, inst.prompt_probs[user])
    return Context(t=jnp.asarray(t, jnp.int32), horizon=jnp.asarray(horizon, jnp.int32),
                   user=user, head=inst.heads[user], prompt=prompt,
                   features=inst.features[prompt], reference=inst.reference[prompt])


def context_rewards(inst: Instance, ctx: Context) -> Array:
    """True rewards r_{u_t}(x_t, .) of the round's K candidates: [K] (hidden from learners)."""
    return ctx.features @ (ctx.head @ inst.W + inst.shared)


def respond(key: Array, inst: Instance, feedback: FeedbackModel, ctx: Context, action: Array):
    """The environment's answer to an action: (obs, regret, extra regrets {name: scalar})."""
    r = context_rewards(inst, ctx)
    return (feedback.sample(key, r, action, ctx.reference), feedback.regret(r, action),
            feedback.extra_regrets(r, action))
