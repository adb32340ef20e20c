"""What personalization would cost on a calibrated population, and whether feedback from more
users beats more feedback from the same users: the audit's simulations.

Every call into the engine's run machinery sits in one function here: ``simulate_learners``
(make_learner + simulate), ``subopt_for_budget`` (the offline protocol: sampled logs, ridge MLE,
exact SubOpt) and ``greedy_for_budget`` (make_learner + rollout, then the same MLE and SubOpt).
Each takes the feedback model (a ``FeedbackModel`` or its name) and passes it on: nothing here
depends on which model it is.

Diversity versus volume. A budget of B comparisons is spent on n users (a random subset of the
population, each comparison from a uniformly drawn user of the subset, so about B / n each):

- offline: the log is drawn i.i.d. from a stationary logging policy (``optimal``: the user's
  best response compared with the reference, the data a near-optimal deployed model collects;
  ``uniform``: random responses), the plug-in policy of its ridge MLE is scored by its exact
  SubOpt on the *whole* population (users outside the subset included: their heads are known,
  W is shared), averaged over random subsets and logs;
- online: greedy (with a warm start) learns for B rounds from the n users; the same score of
  its log's estimate is the regret per round it would then pay on the whole population.
Both are computed on a grid of (n, B / n) cells, so the report can compare cells of equal budget.
The ridge MLEs take 8 damped Newton steps (ridge 1 keeps them well conditioned: 5, 8 and 15 steps
give the same SubOpt to float rounding at 96 and 1,000 users, benchmarks/RESULTS.md).
"""
from __future__ import annotations

import functools

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.audit.config import DEFAULT_LEARNERS as LEARNERS
from jaxpa.diagnostics import curve_stats, stats_summary
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, min_gap, rewards
from jaxpa.learners import make_learner, set_hparams
from jaxpa.offline.logging_policies import check_policy, instance_rows, row_ids
from jaxpa.offline.mle import ridge_mle_weighted
from jaxpa.offline.sampled import row_margins, row_probs, sample_log
from jaxpa.offline.subopt import suboptimality
from jaxpa.runner import rollout
from jaxpa.runner.sharding import simulate_sharded_many

Array = jax.Array


def learner_table(warm_start: int, learners=LEARNERS) -> list[tuple[str, str, dict]]:
    """(labels, registry name, hyperparameters by name) of the simulated learners: greedy comes
    as two points of one sweep (no warm start, ``warm_start`` uniform rounds); greedy_pop (one
    shared reward model, no warm start) and uniform play are the baselines personalization is
    measured against."""
    table = []
    for name in learners:
        if name == "greedy":
            table.append((("greedy", f"greedy+warm{warm_start}"), "greedy",
                          {"warm_start": np.array([0, warm_start], np.int32)}))
        else:
            table.append(((name,), name, {}))
    return table


def simulate_learners(key: Array, inst: Instance, feedback: str | FeedbackModel = "bt_ref", *,
                      horizon: int, n_seeds: int, warm_start: int,
                      learners=LEARNERS) -> dict[str, dict]:
    """The learners of ``learner_table`` on ``inst`` (one feedback model), the same key for all
    (common random numbers: the same users, prompts and feedback noise), in one compiled program
    (runner.sharding.simulate_sharded_many; each learner's curves are those of its own run).
    Returns label -> {"checkpoints" [C], "regret" [S, C], "mistakes" [S, C]}."""
    feedback = make_feedback(feedback)
    table = learner_table(warm_start, learners)
    runs = []
    for _, name, hp in table:
        learner = make_learner(name, feedback)
        runs.append((learner, set_hparams(learner.default_hparams(), **hp) if hp else None))
    curves = simulate_sharded_many(key, inst, feedback, runs, horizon=horizon, n_seeds=n_seeds)
    out = {}
    for (labels, _, _), c in zip(table, curves):
        regret, mistakes = np.asarray(c.regret, np.float64), np.asarray(c.mistakes)
        if len(labels) == 1:
            regret, mistakes = regret[None], mistakes[None]
        for h, label in enumerate(labels):
            out[label] = {"checkpoints": np.asarray(c.checkpoints), "regret": regret[h],
                          "mistakes": mistakes[h]}
    return out


def learner_stats(run: dict) -> dict:
    """Curve statistics and verdict of one simulated learner (diagnostics.curve_stats)."""
    return stats_summary(curve_stats(checkpoints=run["checkpoints"], regret=run["regret"],
                                     mistakes=run["mistakes"]))


def subset_probs(key: Array, n_users: int, n: Array) -> Array:
    """nu of a uniformly random subset of n of the N users (uniform on it): [N]."""
    rank = jnp.argsort(jax.random.permutation(key, n_users))
    member = (rank < n).astype(jnp.float32)
    return member / jnp.sum(member)


def cell_batch(n_cells: int, per_cell: int, budget: float = 2.0**26) -> int:
    """Cells computed together (vmapped) so that their largest intermediates, ``per_cell``
    elements each, stay under ``budget`` elements: at least 1, a divisor of n_cells (a remainder
    batch would compile the cell program a second time)."""
    b = int(max(1, min(n_cells, budget // max(per_cell, 1))))
    while n_cells % b:
        b -= 1
    return b


def _log_fit(X_log, y, weights, ridge, feedback, n_iter):
    """Ridge MLE on the logged rows X_log [n, p] with responses y [n] for each weight vector
    [G, n] (a budget: the first B rounds): [G, p]. The same objective as a fit on the distinct
    rows with counts and mean responses (the models' losses are linear in y), at the cost of the
    log's length instead of the instance's N M K rows."""
    fit = lambda w: ridge_mle_weighted(X_log, y, w, ridge, feedback=feedback, n_iter=n_iter)
    return jax.vmap(fit)(weights)


@functools.partial(jax.jit, static_argnames=("feedback", "policy", "n_max", "n_iter", "batch"))
def _offline_cells(keys, inst, users, budgets, ridge, *, feedback, policy, n_max, n_iter, batch):
    """SubOpt [G_n, G_b, R]: per users n (G_n) and draw r (R), the log of n_max rounds fitted at
    every budget; the (n, r) cells vmapped ``batch`` at a time."""
    X = instance_rows(inst, feedback)
    margins = row_margins(inst, feedback)
    first = (jnp.arange(n_max)[None, :] < budgets[:, None]).astype(X.dtype)  # [G_b, n_max]

    def one(cell):
        n, key = cell
        k_sub, k_log = jax.random.split(key)
        q = row_probs(inst.replace(user_probs=subset_probs(k_sub, inst.n_users, n)), policy,
                      feedback)
        ids, obs = sample_log(k_log, q, margins, n_max, feedback)
        theta = _log_fit(X[ids], obs.astype(X.dtype), first, ridge, feedback, n_iter)
        return jax.vmap(lambda th: suboptimality(inst, th))(theta)

    G_n, R = users.shape[0], keys.shape[0]
    cells = (jnp.repeat(users, R), jnp.tile(keys, (G_n,) + (1,) * (keys.ndim - 1)))
    with jax.default_matmul_precision("highest"):
        sub = jax.lax.map(one, cells, batch_size=batch)  # [G_n R, G_b]
    return jnp.moveaxis(sub.reshape(G_n, R, -1), 1, 2)


def subopt_for_budget(key: Array, inst: Instance, users, budgets,
                      feedback: str | FeedbackModel = "bt_ref", *, n_draws: int = 16,
                      policy: str = "optimal", ridge: float = 1.0, n_iter: int = 8) -> np.ndarray:
    """Offline SubOpt on the whole population of the plug-in policy fitted on ``budgets`` [G_b]
    (increasing) comparisons from random subsets of ``users`` [G_n] users, logged by ``policy``
    (module docstring): [G_n, G_b, n_draws]. Draw r uses the same key for every n."""
    feedback = check_policy(policy, feedback)
    budgets = np.asarray(budgets, np.int64)
    keys = jax.random.split(key, n_draws)
    sub = _offline_cells(keys, inst, jnp.asarray(users, jnp.int32), jnp.asarray(budgets, jnp.int32),
                         jnp.asarray(ridge, inst.features.dtype), feedback=feedback,
                         policy=policy, n_max=int(budgets[-1]), n_iter=n_iter,
                         batch=cell_batch(len(users) * n_draws, int(budgets[-1]) * 2 * (
                             inst.heads.shape[-1] * inst.d) ** 2))
    return np.asarray(sub, np.float64)


@functools.partial(jax.jit, static_argnames=("feedback", "budget", "n_iter", "batch"))
def _greedy_cells(keys, inst, users, hp, ridge, *, feedback, budget, n_iter, batch):
    """(deployed SubOpt, mean collection regret) [G_n, R]: greedy rolled out for ``budget`` rounds
    in every (users n, draw r) cell, the cells vmapped ``batch`` at a time (the rounds of one
    rollout are serial; the cells are not)."""
    learner = make_learner("greedy", feedback)
    X = instance_rows(inst, feedback)

    def one(cell):
        n, key = cell
        k_sub, k_run = jax.random.split(key)
        sub = inst.replace(user_probs=subset_probs(k_sub, inst.n_users, n))
        _, rec = rollout(k_run, sub, feedback, learner, hp, budget)
        ids = row_ids(rec, inst, feedback)
        theta = _log_fit(X[ids], rec.obs.astype(X.dtype), jnp.ones((1, budget), X.dtype), ridge,
                         feedback, n_iter)[0]
        return suboptimality(inst, theta), jnp.mean(rec.regret)

    G_n, R = users.shape[0], keys.shape[0]
    cells = (jnp.repeat(users, R), jnp.tile(keys, (G_n,) + (1,) * (keys.ndim - 1)))
    with jax.default_matmul_precision("highest"):
        deployed, collection = jax.lax.map(one, cells, batch_size=batch)
    return deployed.reshape(G_n, R), collection.reshape(G_n, R)


def greedy_for_budget(key: Array, inst: Instance, users, budget: int,
                      feedback: str | FeedbackModel = "bt_ref", *, n_draws: int = 8,
                      warm_start: int = 0, ridge: float = 1.0, n_iter: int = 8) -> dict:
    """Online: greedy (``warm_start`` uniform rounds first) learns for ``budget`` rounds from
    random subsets of ``users`` [G_n] users; returns NumPy arrays [G_n, n_draws]:
    ``deployed`` (SubOpt on the whole population of the ridge MLE of its log: the regret per
    round of serving everyone with what it learned) and ``collection`` (its mean regret per
    round while learning, on the subset)."""
    feedback = make_feedback(feedback)
    learner = make_learner("greedy", feedback)
    hp = set_hparams(learner.default_hparams(), ridge=ridge, warm_start=warm_start)
    deployed, collection = _greedy_cells(jax.random.split(key, n_draws), inst,
                                         jnp.asarray(users, jnp.int32), hp,
                                         jnp.asarray(ridge, inst.features.dtype),
                                         feedback=feedback, budget=int(budget), n_iter=n_iter,
                                         batch=cell_batch(len(users) * n_draws, int(budget) * 2 * (
                                             inst.heads.shape[-1] * inst.d) ** 2))
    return {"deployed": np.asarray(deployed, np.float64),
            "collection": np.asarray(collection, np.float64)}


def gap_profile(inst: Instance, horizon: int) -> dict:
    """How the calibrated population's gaps compare with the horizon T, for reading the simulated
    curves: every (user, prompt) cell's gap between its best and second-best response, weighted by
    nu_u rho(x|u). Returns min_gap (Delta_min over the support), rounds_to_resolve (1 / Delta_min^2,
    the scale at which a consistent learner's curve can level off), threshold (1 / sqrt(T): gaps
    below it cannot be resolved within T rounds), share_below (the cells' mass below it) and
    cost_below (per round: sum of mass x gap over them, what mistakes between their top two
    responses cost at most in every round)."""
    r = np.asarray(rewards(inst), np.float64)
    top = np.sort(r, axis=-1)
    gap = top[..., -1] - top[..., -2]  # [N, M]
    nu, rho = np.asarray(inst.user_probs, np.float64), np.asarray(inst.prompt_probs, np.float64)
    mass = nu[:, None] * rho
    dmin = float(min_gap(inst))
    thr = 1.0 / np.sqrt(horizon)
    below = (gap < thr) & (mass > 0)
    return {"min_gap": dmin, "rounds_to_resolve": 1.0 / dmin**2,
            "threshold": float(thr), "share_below": float(mass[below].sum()),
            "cost_below": float((mass * gap)[below].sum())}
