"""The online protocol's environment side (MODEL.md §3): draw a round's context, answer an action.

Pure functions of an explicit key and an ``Instance``; the runner folds the round index into the
key, so every learner run with the same key meets the same users, prompts and feedback noise.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.instance import Instance

Array = jax.Array


@struct.dataclass
class Context:
    """What the learner sees before it acts in round t (unbatched shapes).

    t: int32 round index (0-based); user: int32 id u_t; head: [k] h_{u_t} (known heads);
    prompt: int32 x_t; features: [K, d] phi(x_t, .); reference: int32 y0(x_t).
    """

    t: Array
    user: Array
    head: Array
    prompt: Array
    features: Array
    reference: Array


def inverse_cdf(key: Array, probs: Array) -> Array:
    """One draw from a categorical distribution [n] by inverse CDF on a single float32 uniform:
    int32 index. Zero-probability entries are never drawn (their CDF step is empty; the index is
    clamped to the last entry with positive probability against rounding at the top)."""
    cdf = jnp.cumsum(probs.astype(jnp.float32))
    v = jax.random.uniform(key, (), jnp.float32) * cdf[-1]
    last = probs.shape[0] - 1 - jnp.argmax(probs[::-1] > 0)
    return jnp.minimum(jnp.sum(cdf <= v), last).astype(jnp.int32)


def draw_context(key: Array, inst: Instance, t: Array) -> Context:
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
    return Context(t=jnp.asarray(t, jnp.int32), user=user, head=inst.heads[user], prompt=prompt,
                   features=inst.features[prompt], reference=inst.reference[prompt])


def context_rewards(inst: Instance, ctx: Context) -> Array:
    """True rewards r_{u_t}(x_t, .) of the round's K candidates: [K] (hidden from learners)."""
    return ctx.features @ (ctx.head @ inst.W + inst.shared)
