"""Logging policies and the datasets they log (MODEL.md §3, Offline).

A logging policy pi_b is a jaxpa learner run online for n rounds by ``jaxpa.runner.rollout``; the
dataset is the rollout's ``Record`` (contexts, actions, observations, with a leading [n] axis).
Named policies (``logging_policy``):

- ``optimal``: "optimal vs reference": the oracle learner, which plays y*_u(x) and, under bt_ref,
  is compared with the reference y0(x) (under scalar feedback it observes r(y*) + noise);
- ``uniform``: every response uniform at random (the coverage control);
- any other learner of the registry (``greedy``, ``ucb``, ``ts``, ...): the prefix of that online
  learner: the dataset of size n is its first n rounds (``greedy_warm`` is greedy after 100
  uniform rounds).

Fitting a grid of dataset sizes uses the log's sufficient statistics: the learner's design of a
round is one of finitely many rows of the instance (one per (user, prompt, action)), so the first
n rounds reduce to a count and a summed response per row (``sufficient_stats``). The ridge MLE of
those (weights = counts, responses = means) equals the MLE of the n logged rows (mle.py); fitting
costs O(rows p^2) per Newton step whatever n is.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxpa.diagnostics.instance_diagnostics import design
from jaxpa.envs.instance import Instance
from jaxpa.experiments.runs import Spec
from jaxpa.learners.registry import FEATURIZERS, LEARNERS
from jaxpa.runner import Record, rollout, seed_keys

Array = jax.Array

POLICY_ALIASES = {"optimal": Spec.of("optimal", "oracle"),
                  "uniform": Spec.of("uniform", "uniform"),
                  "greedy": Spec.of("greedy", "greedy", warm_start=0),
                  "greedy_warm": Spec.of("greedy_warm", "greedy", warm_start=100)}
FEEDBACKS = ("bt_ref", "bt_duel", "scalar")


def logging_policy(name: str) -> Spec:
    """A named logging policy as a learner spec (``experiments.runs.Spec``)."""
    if name in POLICY_ALIASES:
        return POLICY_ALIASES[name]
    if name in LEARNERS:
        return Spec.of(name, name)
    raise KeyError(f"unknown logging policy {name!r}; known: {sorted(POLICY_ALIASES)} or any "
                   f"learner of {sorted(LEARNERS)}")


def check_policy(name: str, feedback: str) -> Spec:
    """The policy's spec, refusing combinations that log no information."""
    if feedback not in FEEDBACKS:
        raise ValueError(f"offline: unsupported feedback {feedback!r}; known: {FEEDBACKS}")
    spec = logging_policy(name)
    if spec.learner == "oracle" and feedback == "bt_duel":
        raise ValueError("logging policy 'optimal' under bt_duel duels y* with itself: no "
                         "information; use bt_ref (optimal vs reference)")
    return spec


def log_dataset(learner, hparams, key: Array, inst: Instance, n: int) -> Record:
    """n rounds logged by ``learner`` (one seed): the rollout's Record with leading [n]."""
    return rollout(learner, key, inst, hparams, n)[1]


def log_datasets(learner, hparams, key: Array, inst: Instance, n: int, n_seeds: int) -> Record:
    """``n_seeds`` independent logs (seed s uses fold_in(key, s), as in ``simulate``): leading
    [S, n]."""
    return jax.vmap(lambda k: log_dataset(learner, hparams, k, inst, n))(seed_keys(key, n_seeds))


def _pair(feedback: str, action: Array, reference: Array) -> tuple[Array, Array]:
    """(first response, the response it is compared with or -1 for scalar)."""
    if feedback == "bt_ref":
        return action[..., 0], reference
    if feedback == "bt_duel":
        return action[..., 0], action[..., 1]
    if feedback == "scalar":
        return action[..., 0], jnp.full_like(action[..., 0], -1)
    raise ValueError(f"offline: unsupported feedback {feedback!r}; known: {FEEDBACKS}")


def _row(z: Array, a: Array, b: Array) -> Array:
    """z[a] - z[b] (exactly 0 when a == b: comparing a response with itself carries nothing), or
    z[a] when b < 0 (scalar feedback). z: [K, p]."""
    diff = jnp.where(a == b, jnp.zeros_like(z[a]), z[a] - z[jnp.maximum(b, 0)])
    return jnp.where(b < 0, z[a], diff)


def design_rows(record: Record, feedback: str, featurizer: str = "personalized"):
    """The logged rows (X [n, p], y [n]) of a dataset: x = z(y) - z(y0) (bt_ref), z(y) - z(y')
    (bt_duel) or z(y) (scalar), y = the observation."""
    featurize = FEATURIZERS[featurizer]().featurize
    a, b = _pair(feedback, record.action, record.context.reference)
    rows = jax.vmap(lambda h, phi, a, b: _row(featurize(h, phi), a, b))(
        record.context.head, record.context.features, a, b)
    return rows, record.obs.astype(rows.dtype)


@functools.partial(jax.jit, static_argnames=("feedback", "featurizer"))
def instance_rows(inst: Instance, feedback: str, featurizer: str = "personalized") -> Array:
    """Every row a log of ``inst`` can contain, [J, p]: J = N M K (bt_ref, scalar; row (u, x, y))
    or N M K K (bt_duel; row (u, x, y, y')), in the order of ``row_ids``."""
    z = design(inst, featurizer)  # [N, M, K, p]
    N, M, K, p = z.shape
    ys = jnp.arange(K)
    if feedback == "bt_duel":
        pair = jax.vmap(jax.vmap(lambda zz, a, b: _row(zz, a, b), (None, None, 0)), (None, 0, None))
        rows = jax.vmap(jax.vmap(lambda zz: pair(zz, ys, ys)))(z)  # [N, M, K, K, p]
        return rows.reshape(-1, p)
    ref = jnp.broadcast_to(inst.reference, (N, M)) if feedback == "bt_ref" else jnp.full((N, M), -1)
    rows = jax.vmap(jax.vmap(lambda zz, r: jax.vmap(lambda a: _row(zz, a, r))(ys)))(z, ref)
    return rows.reshape(-1, p)


def row_ids(record: Record, inst: Instance, feedback: str) -> Array:
    """Index of each logged round's row in ``instance_rows``: [n] int32."""
    M, K = inst.n_prompts, inst.n_responses
    base = (record.context.user * M + record.context.prompt) * K + record.action[..., 0]
    return (base * K + record.action[..., 1] if feedback == "bt_duel" else base).astype(jnp.int32)


def sufficient_stats(ids: Array, y: Array, n_rows: int, ns: Array) -> tuple[Array, Array]:
    """Counts and summed responses of each row over the first n rounds, for every n in the grid.

    ids [T] row index of each round, y [T] its observation, n_rows J, ns [G] increasing sizes
    (<= T). Returns counts [G, J] and sums [G, J] (float): counts[g, j] = #{i < ns[g]: ids_i = j}.
    """
    G = ns.shape[0]
    bucket = jnp.searchsorted(ns, jnp.arange(ids.shape[0]), side="right")  # first g counting row i
    seg = bucket * n_rows + ids
    dtype = jnp.result_type(y.dtype, jnp.float32)
    ones = jnp.ones(ids.shape, dtype)
    counts = jax.ops.segment_sum(ones, seg, num_segments=(G + 1) * n_rows).reshape(G + 1, n_rows)
    sums = jax.ops.segment_sum(y.astype(dtype), seg,
                               num_segments=(G + 1) * n_rows).reshape(G + 1, n_rows)
    return jnp.cumsum(counts, 0)[:G], jnp.cumsum(sums, 0)[:G]
