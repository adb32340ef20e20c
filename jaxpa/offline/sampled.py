"""Logs of stationary logging policies drawn round by round without running the learner.

A stationary policy (``optimal``: the oracle's action; ``uniform``) acts the same way whatever it
has seen, so the rounds of its log are i.i.d.: round i's row j = (u, x, action) has probability
q_j = nu(u) rho(x|u) pi_b(action | u, x), and its observation depends on the row only, through
the row's true margin. The feedback model gives every piece: pi_b is its
``uniform_action_probs`` or ``oracle_action_probs``, the margin of an action its ``margin``, the
observation its ``sample_index`` (Bernoulli(sigmoid(m)) for BT feedback, m + s N(0, 1) for
scalar), the mean answer ``row_means``.

``sample_log`` draws the rows by inverse CDF (one uniform and a binary search per round) and the
observations from their margins: the distribution of a ``rollout`` log's (row ids, observations),
up to the float32 rounding of the CDF (~1e-7 in each probability), at a few nanoseconds a round
instead of a full simulated round; tests check both against the exact expectations. This makes
n_max = 10^5..10^6 affordable, where the asymptotic (exponential) regime of SubOpt(n) lives. It
is not the same random stream as the rollout, only the same distribution. Adaptive policies
(prefixes of online learners) must be rolled out.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.envs.instance import Instance, InstanceError, rewards
from jaxpa.offline.logging_policies import check_policy
from jaxpa.offline.mle import offline_model
from jaxpa.envs.precision import full_precision

Array = jax.Array

STATIONARY = ("optimal", "uniform")
MAX_COUNT = 2**24  # counts are summed in float32: exact integers up to 2^24


def _contexts(inst: Instance):
    """(true rewards [N, M, K], references [N, M]) of every context."""
    r = rewards(inst)
    return r, jnp.broadcast_to(inst.reference, r.shape[:2])


def action_probs(inst: Instance, policy: str, feedback: str | FeedbackModel) -> Array:
    """pi_b of a stationary policy over the model's ``all_actions`` in every context: [N, M, J_a]
    (J_a = K^A). Traceable."""
    feedback = offline_model(feedback)
    r, ref = _contexts(inst)
    if policy == "uniform":  # the reference passed along: an action space may fix it
        law = lambda y0: feedback.uniform_action_probs(inst.n_responses, r.dtype, y0)
        return jax.vmap(jax.vmap(law))(ref)
    if policy == "optimal":
        return jax.vmap(jax.vmap(feedback.oracle_action_probs))(r, ref).astype(r.dtype)
    raise InstanceError(f"no stationary form of policy {policy!r}; stationary: {STATIONARY}")


def row_probs(inst: Instance, policy: str, feedback="bt_ref") -> Array:
    """q_j, the probability of each row of ``logging.instance_rows`` in one round: [J]."""
    if policy not in STATIONARY:
        raise InstanceError(f"no stationary form of policy {policy!r}; stationary: {STATIONARY} "
                            f"(an online learner's log must be rolled out)")
    return _row_probs(inst, policy=policy, feedback=check_policy(policy, feedback))


@functools.partial(jax.jit, static_argnames=("policy", "feedback"))
@full_precision
def _row_probs(inst, *, policy, feedback):
    pi = action_probs(inst, policy, feedback)
    w = inst.user_probs[:, None] * inst.prompt_probs  # [N, M]
    return (w[..., None] * pi).reshape(-1)


def row_margins(inst: Instance, feedback="bt_ref") -> Array:
    """The true margin of every row (the model's ``margin`` of the action in its context, e.g.
    r(y) - r(y0) for bt_ref, r(y) for scalar), in the row order of ``logging.instance_rows``:
    [J]."""
    return _row_margins(inst, feedback=offline_model(feedback))


@functools.partial(jax.jit, static_argnames=("feedback",))
@full_precision
def _row_margins(inst, *, feedback):
    r, ref = _contexts(inst)
    acts = feedback.all_actions(inst.n_responses)

    def per_context(rr, y0):
        return jax.vmap(lambda a: feedback.margin(rr, a, y0))(acts)

    return jax.vmap(jax.vmap(per_context))(r, ref).reshape(-1)


def row_means(inst: Instance, feedback="bt_ref") -> Array:
    """E[observation | row] (the model's ``row_means``: sigmoid of the margin for BT feedback,
    r(y) for scalar), in the row order of ``logging.instance_rows``: [J]."""
    return _row_means(inst, feedback=offline_model(feedback))


@functools.partial(jax.jit, static_argnames=("feedback",))
@full_precision
def _row_means(inst, *, feedback):
    r, ref = _contexts(inst)
    return jax.vmap(jax.vmap(feedback.row_means))(r, ref).reshape(-1)


def sample_log(key: Array, q: Array, margins: Array, n: int,
               feedback: str | FeedbackModel) -> tuple[Array, Array]:
    """n i.i.d. rounds of a stationary policy: row ids [n] int32 (rows j with q_j = 0 are never
    drawn) and observations [n], from row probabilities q [J] and true margins [J]
    (``row_margins``). The observations are ``feedback.sample_index`` of the rows' margins, one
    vectorised draw (a model's ``sample_index`` draws independently per entry of its margins)."""
    model = offline_model(feedback)
    k_row, k_obs = jax.random.split(key)
    cdf = jnp.cumsum(q)
    cdf = cdf / cdf[-1]
    u = jax.random.uniform(k_row, (n,), cdf.dtype)
    ids = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), q.shape[0] - 1).astype(jnp.int32)
    obs = model.sample_index(k_obs, margins[ids])
    return ids, obs
