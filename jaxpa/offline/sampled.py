"""Logs of stationary logging policies drawn round by round without running the learner.

A stationary policy (``optimal``: always y*; ``uniform``) acts the same way whatever it has seen,
so the rounds of its log are i.i.d.: round i's row (u, x, y[, y']) has probability
q_j = nu(u) rho(x|u) pi_b(y[, y'] | u, x), and its observation depends on the row only
(Bernoulli(sigmoid(margin_j)) for BT feedback, r_j + s N(0, 1) for scalar). ``sample_log``
draws the rows by inverse CDF (one uniform and a binary search per round) and the observations from
their means: the distribution of a ``rollout`` log's (row ids, observations), up to the float32
rounding of the CDF (~1e-7 in each probability), at a few nanoseconds a round instead of a full
simulated round; tests check both against the exact expectations. This makes n_max = 10^5..10^6
affordable, where the asymptotic (exponential) regime of SubOpt(n) lives. It is not the same random
stream as the rollout, only the same distribution. Adaptive policies (prefixes of online
learners) must be rolled out.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, optimal_responses, rewards

Array = jax.Array

STATIONARY = ("optimal", "uniform")
MAX_COUNT = 2**24  # counts are summed in float32: exact integers up to 2^24


def action_probs(inst: Instance, policy: str, feedback: str) -> Array:
    """pi_b of a stationary policy: [N, M, K] (bt_ref, scalar) or [N, M, K, K] (bt_duel: the
    two responses independent, as in ``uniform``)."""
    N, M, K = inst.n_users, inst.n_prompts, inst.n_responses
    dtype = inst.features.dtype
    if policy == "uniform":
        shape = (N, M, K, K) if feedback == "bt_duel" else (N, M, K)
        return jnp.full(shape, 1.0 / (K * K if feedback == "bt_duel" else K), dtype)
    if policy == "optimal" and feedback != "bt_duel":
        return jax.nn.one_hot(optimal_responses(inst), K, dtype=dtype)
    raise ValueError(f"no stationary form of policy {policy!r} under {feedback!r}; stationary: "
                     f"{STATIONARY} (optimal not under bt_duel)")


@functools.partial(jax.jit, static_argnames=("policy", "feedback"))
def row_probs(inst: Instance, policy: str, feedback: str) -> Array:
    """q_j, the probability of each row of ``logging.instance_rows`` in one round: [J]."""
    pi = action_probs(inst, policy, feedback)
    w = inst.user_probs[:, None] * inst.prompt_probs  # [N, M]
    w = w.reshape(w.shape + (1,) * (pi.ndim - 2))
    return (w * pi).reshape(-1)


@functools.partial(jax.jit, static_argnames=("feedback",))
def row_means(inst: Instance, feedback: str) -> Array:
    """E[observation | row]: sigmoid(r(y) - r(y0)) (bt_ref), sigmoid(r(y) - r(y')) (bt_duel),
    r(y) (scalar), in the row order of ``logging.instance_rows``: [J]."""
    r = rewards(inst)  # [N, M, K]
    if feedback == "scalar":
        return r.reshape(-1)
    if feedback == "bt_ref":
        ref = jnp.take_along_axis(r, jnp.broadcast_to(inst.reference, r.shape[:2])[..., None], -1)
        return jax.nn.sigmoid(r - ref).reshape(-1)
    if feedback == "bt_duel":
        return jax.nn.sigmoid(r[..., :, None] - r[..., None, :]).reshape(-1)
    raise ValueError(f"offline: unsupported feedback {feedback!r}")


def sample_log(key: Array, q: Array, mean: Array, n: int, likelihood: str,
               noise_std=1.0) -> tuple[Array, Array]:
    """n i.i.d. rounds of a stationary policy: row ids [n] int32 (rows j with q_j = 0 are never
    drawn) and observations [n], from row probabilities q [J] and mean responses ``mean`` [J]."""
    k_row, k_obs = jax.random.split(key)
    cdf = jnp.cumsum(q)
    cdf = cdf / cdf[-1]
    u = jax.random.uniform(k_row, (n,), cdf.dtype)
    ids = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), q.shape[0] - 1).astype(jnp.int32)
    if likelihood == "logistic":
        obs = (jax.random.uniform(k_obs, (n,), mean.dtype) < mean[ids]).astype(mean.dtype)
    elif likelihood == "gaussian":
        obs = mean[ids] + noise_std * jax.random.normal(k_obs, (n,), mean.dtype)
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    return ids, obs
