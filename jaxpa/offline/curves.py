"""SubOpt(n) curves: log n_max rounds with a logging policy, fit the ridge MLE on the first n rounds
for every n of a grid, and score each plug-in policy exactly; many seeds in one compiled program.

For one seed: ``rollout`` logs n_max rounds; the log reduces to sufficient statistics per grid
size (logging.sufficient_stats; a stationary policy's rounds can instead be drawn i.i.d.
without running the learner, sampled.py); the fits over the grid are one ``vmap`` of the exact
ridge MLE (mle.py); SubOpt of each fit is exact (subopt.py). Seeds run through ``lax.map`` in
batches of ``batch`` (memory O(batch * n_max), not O(S * n_max)). Seed s uses fold_in(key, s), as in
``simulate``, so two policies run with the same key meet the same users and prompts.

Beside SubOpt(n), each seed reports its *identifiable* suboptimality at n_max: SubOpt of P_R
theta*, the true parameter projected on the span R of the rows logged so far. The ridge MLE lives
in R and, as the counts grow, converges to P_R theta*; so a positive identifiable SubOpt means the
log can never reveal the optimal decision (a stall), and zero means it eventually will.
"""
from __future__ import annotations

import functools

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.envs.instance import Instance, InstanceError, validate
from jaxpa.offline.logging_policies import (instance_rows, log_dataset, logging_policy, row_ids,
                                   sufficient_stats)
from jaxpa.offline.mle import check_fit_args, offline_model, ridge_mle_weighted
from jaxpa.offline.sampled import MAX_COUNT, STATIONARY, row_margins, row_probs, sample_log
from jaxpa.offline.subopt import suboptimality, true_theta
from jaxpa.runner import seed_keys
from jaxpa.envs.precision import full_precision

Array = jax.Array
SPAN_RTOL = 1e-5  # a direction is in the logged span when its Gram eigenvalue > SPAN_RTOL * max
# The compiled programs run every product at full float32 precision (envs/precision.py): GPUs
# default to TF32 matmuls (about 3 decimal digits), too coarse for rewards, decisions, Hessians.


def projected_truth(X: Array, counts: Array, theta_star: Array) -> Array:
    """P_R theta*: theta* projected on the span R of the rows X [J, p] with counts [J] > 0."""
    gram = X.T @ ((counts > 0).astype(X.dtype)[:, None] * X)
    e, V = jnp.linalg.eigh(gram)
    keep = (e > SPAN_RTOL * jnp.maximum(e[-1], 0.0)) & (e > 0)
    U = V * keep
    return U @ (U.T @ theta_star)


def _fit_and_score(inst, X_all, counts, sums, ridge, feedback, featurizer, n_iter):
    """Fits on every grid size and their exact SubOpt, for one seed's statistics [G, J]:
    (subopt [G], identifiable SubOpt at the last size, theta at the last size [p])."""
    means = sums / jnp.maximum(counts, 1.0)
    thetas = jax.vmap(lambda c, m: ridge_mle_weighted(X_all, m, c, ridge, feedback=feedback,
                                                      n_iter=n_iter))(counts, means)
    sub = jax.vmap(lambda th: suboptimality(inst, th, featurizer))(thetas)
    limit = projected_truth(X_all, counts[-1], true_theta(inst, featurizer))
    return sub, suboptimality(inst, limit, featurizer), thetas[-1]


@functools.partial(jax.jit, static_argnames=("feedback", "learner", "featurizer", "n_max",
                                             "n_iter", "batch"))
@full_precision
def _rollout_curves(keys, inst, hparams, ns, ridge, *, feedback, learner, featurizer, n_max,
                    n_iter, batch):
    return _rollout_body(keys, inst, hparams, ns, ridge, feedback, learner, featurizer, n_max,
                         n_iter, batch)


def _rollout_body(keys, inst, hparams, ns, ridge, feedback, learner, featurizer, n_max, n_iter,
                  batch):
    X_all = instance_rows(inst, feedback, featurizer)

    def one_seed(key):
        rec = log_dataset(key, inst, feedback, learner, hparams, n_max)
        counts, sums = sufficient_stats(row_ids(rec, inst, feedback), rec.obs, X_all.shape[0], ns)
        return _fit_and_score(inst, X_all, counts, sums, ridge, feedback, featurizer, n_iter)

    return jax.lax.map(one_seed, keys, batch_size=batch)


@functools.partial(jax.jit, static_argnames=("feedback", "featurizer", "n_max", "n_iter",
                                             "batch"))
@full_precision
def _sampled_curves(keys, inst, q, ns, ridge, *, feedback, featurizer, n_max, n_iter, batch):
    return _sampled_body(keys, inst, q, ns, ridge, feedback, featurizer, n_max, n_iter, batch)


def _sampled_body(keys, inst, q, ns, ridge, feedback, featurizer, n_max, n_iter, batch):
    X_all = instance_rows(inst, feedback, featurizer)
    margins = row_margins(inst, feedback)

    def one_seed(key):
        ids, obs = sample_log(key, q, margins, n_max, feedback)
        counts, sums = sufficient_stats(ids, obs, X_all.shape[0], ns)
        return _fit_and_score(inst, X_all, counts, sums, ridge, feedback, featurizer, n_iter)

    return jax.lax.map(one_seed, keys, batch_size=batch)


METHODS = ("auto", "rollout", "sampled")


def subopt_curves(key: Array, inst: Instance, policy: str, ns, *,
                  feedback: str | FeedbackModel = "bt_ref", n_seeds: int = 64, ridge: float = 1.0,
                  n_iter: int = 25, featurizer: str = "personalized", method: str = "auto",
                  batch: int | None = None) -> dict[str, np.ndarray]:
    """SubOpt(n) of the plug-in policy fitted on the first n rounds logged by ``policy``
    (``logging.logging_policy``: optimal, uniform, greedy, greedy_warm or a registry learner)
    under the feedback model ``feedback`` (a ``FeedbackModel`` or its name; the ridge MLE uses
    its likelihood).

    method: "rollout" logs every round with ``rollout``; "sampled" draws the rounds i.i.d.
    (stationary policies only, sampled.py: the same distribution, far cheaper per round); "auto"
    samples when the policy is stationary.

    ns: increasing grid of dataset sizes (ints >= 0; n_max = ns[-1] rounds are logged). Returns
    NumPy arrays: ns [G]; subopt [S, G]; identifiable [S] (SubOpt of P_R theta* at n_max, see the
    module docstring); theta [S, p] (the fit at n_max). batch: seeds per step of ``lax.map``
    (default 16 on the CPU, all seeds on an accelerator). Validated on the host before compiling
    (a model without single-index rows, mnl, raises ValueError here).
    """
    validate(inst)
    if inst.batch_shape:
        raise InstanceError("subopt_curves: expects one instance; vmap or loop over a batch")
    model = offline_model(feedback)
    model.check(inst.n_responses)
    check_fit_args(ridge, n_iter)
    grid = np.asarray(ns)
    if (grid.ndim != 1 or grid.size < 1 or not np.issubdtype(grid.dtype, np.integer)
            or grid[0] < 0 or np.any(np.diff(grid) <= 0)):
        raise InstanceError(f"ns: expected an increasing 1-D grid of integers >= 0, got {ns!r}")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise InstanceError(f"n_seeds: expected a positive integer, got {n_seeds!r}")
    if method not in METHODS:
        raise InstanceError(f"method: expected one of {METHODS}, got {method!r}")
    if method == "sampled" and policy not in STATIONARY:
        raise InstanceError(f"method 'sampled' needs a stationary policy {STATIONARY}, got "
                            f"{policy!r} (an online learner's log must be rolled out)")
    n_max = max(int(grid[-1]), 1)
    if n_max > MAX_COUNT:
        raise InstanceError(f"ns: n_max = {n_max} exceeds {MAX_COUNT} (float32 counts)")
    learner, hp = logging_policy(policy, model, n_max)  # checks the policy under the model
    keys, ns_j = seed_keys(key, n_seeds), jnp.asarray(grid, jnp.int32)
    if batch is None:
        batch = 16 if jax.default_backend() == "cpu" else n_seeds
    ridge_j, batch = jnp.asarray(ridge, inst.features.dtype), max(1, min(int(batch), n_seeds))
    if method == "sampled" or (method == "auto" and policy in STATIONARY):
        sub, ident, theta = _sampled_curves(
            keys, inst, row_probs(inst, policy, model), ns_j, ridge_j, feedback=model,
            featurizer=featurizer, n_max=n_max, n_iter=n_iter, batch=batch)
    else:
        sub, ident, theta = _rollout_curves(keys, inst, hp, ns_j, ridge_j, feedback=model,
                                            learner=learner, featurizer=featurizer,
                                            n_max=n_max, n_iter=n_iter, batch=batch)
    return {"ns": grid.astype(np.int64), "subopt": np.asarray(sub, np.float64),
            "identifiable": np.asarray(ident, np.float64), "theta": np.asarray(theta)}
