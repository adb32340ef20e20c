"""Logging policies and the datasets they log (MODEL.md §3, Offline).

A logging policy pi_b is a jaxpa learner run online for n rounds by ``jaxpa.runner.rollout``; the
dataset is the rollout's ``Record`` (contexts, actions, observations, with a leading [n] axis).
Named policies (``logging_policy``):

- ``optimal``: "optimal vs reference": the oracle learner, which plays the feedback model's
  ``oracle_action`` (y*_u(x); under bt_ref it is compared with the reference y0(x), under scalar
  feedback it observes r(y*) + noise). A model whose oracle log teaches nothing
  (``oracle_informative()`` False: a duel of y* with itself) refuses it;
- ``uniform``: the model's uniform action every round (the coverage control);
- any learner of the registry (``greedy``, ``ucb``, ``ts``, ...): the prefix of that online
  learner: the dataset of size n is its first n rounds (``greedy_warm`` is greedy after
  min(100, n_max) uniform rounds).

Everything that depends on the feedback comes from its model (``SingleIndexFeedback``): a logged
round's row is ``direction(z, action, reference)`` and its observation the answer; the rows an
instance can produce are ``rows`` per context, indexed by ``action_index``.

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

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, InstanceError
from jaxpa.learners.base import Learner
from jaxpa.learners.design import Featurizer, design, make_featurizer
from jaxpa.learners.hparams import check_hparams, set_hparams
from jaxpa.learners.registry import LEARNERS, make_learner
from jaxpa.offline.mle import offline_model
from jaxpa.runner import Record, rollout, seed_keys
from jaxpa.envs.precision import full_precision

Array = jax.Array

# name -> (registry learner, hyperparameter overrides by leaf name)
POLICY_ALIASES: dict[str, tuple[str, dict]] = {
    "optimal": ("oracle", {}),
    "uniform": ("uniform", {}),
    "greedy": ("greedy", {}),
    "greedy_warm": ("greedy", {"warm_start": 100}),
}


def _resolve(name: str) -> tuple[str, dict]:
    if name in POLICY_ALIASES:
        return POLICY_ALIASES[name]
    if name in LEARNERS:
        return name, {}
    raise InstanceError(f"unknown logging policy {name!r}; known: {sorted(POLICY_ALIASES)} or any "
                        f"learner of {sorted(LEARNERS)}")


def check_policy(name: str, feedback: str | FeedbackModel = "bt_ref") -> FeedbackModel:
    """Validate a (policy, feedback) pair before anything compiles and return the model: the
    model must have single-index rows (``require_offline``), the policy must exist, and an
    ``optimal`` log must teach something (``oracle_informative``). Raises ValueError."""
    model = offline_model(feedback)
    learner_name, _ = _resolve(name)
    if learner_name == "oracle" and not model.oracle_informative():
        raise InstanceError(f"logging policy {name!r} under {model.label!r} logs no information "
                            f"(the oracle's action compares y* with itself); use bt_ref (optimal "
                            f"vs reference) or another second-response rule")
    return model


def logging_policy(name: str, feedback: str | FeedbackModel = "bt_ref", n_max: int | None = None,
                   **options) -> tuple[Learner, object]:
    """A named logging policy as (learner built for the model, its hyperparameters, checked and
    as arrays). n_max: the number of rounds it will log (the run's horizon: a warm start is capped
    at it, and hyperparameters bounded by the horizon are checked against it). ``options`` go to
    ``make_learner`` (e.g. ``featurizer``)."""
    model = check_policy(name, feedback)
    learner_name, overrides = _resolve(name)
    learner = make_learner(learner_name, model, **options)
    hp = learner.default_hparams()
    if overrides:
        if n_max is not None and "warm_start" in overrides:
            overrides = dict(overrides, warm_start=min(overrides["warm_start"], int(n_max)))
        hp = set_hparams(hp, **overrides)
    hp, _ = check_hparams(learner.name, learner.default_hparams(), hp, n_max)
    return learner, hp


def _check_learner(feedback, learner: Learner) -> FeedbackModel:
    model = make_feedback(feedback)
    if learner.feedback != model:
        raise InstanceError(f"learner {learner.name} assumes feedback {learner.feedback.label!r} "
                            f"but the log is of {model.label!r}; build the learner for that model")
    return model


def log_dataset(key: Array, inst: Instance, feedback, learner: Learner, hparams, n: int) -> Record:
    """n rounds logged by ``learner`` under the feedback model (one seed): the rollout's Record
    with leading [n]. Traceable; the learner must be built for the model (checked)."""
    model = _check_learner(feedback, learner)
    return rollout(key, inst, model, learner, hparams, n)[1]


def log_datasets(key: Array, inst: Instance, feedback, learner: Learner, hparams, n: int,
                 n_seeds: int) -> Record:
    """``n_seeds`` independent logs (seed s uses fold_in(key, s), as in ``simulate``): leading
    [S, n]."""
    model = _check_learner(feedback, learner)
    return jax.vmap(lambda k: log_dataset(k, inst, model, learner, hparams, n))(
        seed_keys(key, n_seeds))


def design_rows(record: Record, feedback, featurizer: str | Featurizer = "personalized"):
    """The logged rows (X [n, p], y [n]) of a dataset: x = the model's ``direction`` of the
    round's action in the learner's design (bt_ref z(y) - z(y0), bt_duel z(y) - z(y'), scalar
    z(y)), y = the observation."""
    model = offline_model(feedback)
    featurize = make_featurizer(featurizer).featurize
    rows = jax.vmap(lambda h, phi, a, ref: model.direction(featurize(h, phi), a, ref))(
        record.context.head, record.context.features, record.action, record.context.reference)
    return rows, record.obs.astype(rows.dtype)


def instance_rows(inst: Instance, feedback, featurizer: str = "personalized") -> Array:
    """Every row a log of ``inst`` can contain, [J, p]: J = N M K^A (row (u, x, action), A the
    model's ``n_actions``: K rows per context for bt_ref and scalar, K^2 for bt_duel), in the
    order of ``row_ids``. Jitted (the model and the featurizer are static); callable inside a
    traced program too."""
    return _instance_rows(inst, feedback=offline_model(feedback), featurizer=featurizer)


@functools.partial(jax.jit, static_argnames=("feedback", "featurizer"))
@full_precision
def _instance_rows(inst, *, feedback, featurizer):
    z = design(inst, featurizer)  # [N, M, K, p]
    ref = jnp.broadcast_to(inst.reference, z.shape[:2])
    return jax.vmap(jax.vmap(feedback.rows))(z, ref).reshape(-1, z.shape[-1])


def row_ids(record: Record, inst: Instance, feedback) -> Array:
    """Index of each logged round's row in ``instance_rows``: [n] int32."""
    model = offline_model(feedback)
    K = inst.n_responses
    context = record.context.user * inst.n_prompts + record.context.prompt
    return (context * K ** model.n_actions
            + model.action_index(record.action, K)).astype(jnp.int32)


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
