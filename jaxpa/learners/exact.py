"""Greedy on the exact ridge MLE, refitted to convergence every round (``greedy_exact``).

The greedy of the theorem: play argmax_y <theta_t, z(y)> where theta_t is the ridge MLE of all
the data so far, not today's online-Newton approximation of it (learners/glm.py, whose per-datum
curvature is frozen at the estimate the datum was seen with).

Sufficient statistics. For a single-index feedback model (scalar, bt_ref, bt_duel) a round's
likelihood depends on theta only through the row g = direction(z_u(x), action, y0(x)), fixed by
the cell (user u, prompt x, action a), and its nll is affine in the answer (up to a constant in
theta). So the plays n[u, x, a] and the answers' sums s[u, x, a] (wins, for bt_*) carry all the
likelihood: the MLE is the weighted fit of learners/ridge_fit.py on the [N M J] rows (J = K^A
actions: K for bt_ref and scalar, K^2 for bt_duel) with weights n and responses s / n. A feedback
model without single-index rows (mnl: a slate and a choice) is refused.

State per seed: theta [p], n and s [N, M, J], the rows [N, M, J, p] (computed once from the
instance at init: memory N M J p per seed) and the Newton steps taken so far.

Cost per round: damped Newton from the previous round's estimate until the step is below
tol (1 + |theta|) (``ridge_fit.newton_converge``; usually 1-2 steps once the estimate has
settled); each step costs N M J p^2 (the Hessian over all cells) + p^3 (Cholesky), against p^2
for one online-Newton round. ``newton_steps`` in the state counts the steps taken.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.envs.instance import InstanceError
from jaxpa.learners.base import Learner
from jaxpa.learners.design import Featurizer, personalized
from jaxpa.learners.glm import GLMHParams
from jaxpa.learners.ridge_fit import newton_converge

Array = jax.Array


@struct.dataclass
class ExactState:
    """theta: [p] the ridge MLE of the data so far; plays, sums: [N, M, J] per-cell counts and
    answer sums; rows: [N, M, J, p] each cell's likelihood row; newton_steps: int32 total."""

    theta: Array
    plays: Array
    sums: Array
    rows: Array
    newton_steps: Array


def cell_rows(feedback: FeedbackModel, featurizer: Featurizer, inst) -> Array:
    """The row of every (user, prompt, action): [N, M, J, p]."""
    def one(head, features, reference):
        return feedback.rows(featurizer.featurize(head, features), reference)

    per_prompt = jax.vmap(one, (None, 0, 0))
    return jax.vmap(per_prompt, (0, None, None))(inst.heads, inst.features, inst.reference)


def fit_cells(feedback: FeedbackModel, rows: Array, plays: Array, sums: Array, ridge,
              theta0: Array, max_iter: int = 30, tol: float = 1e-5) -> tuple[Array, Array]:
    """The ridge MLE from per-cell statistics, from theta0: (theta [p], Newton steps)."""
    p = rows.shape[-1]
    w = plays.reshape(-1)
    y = sums.reshape(-1) / jnp.maximum(w, 1.0)
    return newton_converge(rows.reshape(-1, p), y, w, ridge, feedback, theta0, max_iter, tol)


def greedy_exact(feedback: FeedbackModel, featurizer: Featurizer | None = None,
                 max_iter: int = 30, tol: float = 1e-5) -> Learner:
    """Greedy on the exact ridge MLE (module docstring); warm starts and other exploration are
    wrappers (learners/explore.py). max_iter, tol: the Newton stopping rule (static)."""
    if not feedback.offline:
        raise InstanceError(f"greedy_exact: feedback {feedback.label!r} has no single-index row "
                            "form, so no per-cell sufficient statistics; use greedy")
    featurizer = featurizer or personalized()

    def init(key, inst, hparams) -> ExactState:
        rows = cell_rows(feedback, featurizer, inst).astype(inst.features.dtype)
        stats = jnp.zeros(rows.shape[:-1], inst.features.dtype)
        return ExactState(theta=jnp.zeros(rows.shape[-1:], rows.dtype), plays=stats, sums=stats,
                          rows=rows, newton_steps=jnp.int32(0))

    def act(key, state: ExactState, ctx, hparams) -> Array:
        scores = featurizer.scores(ctx.head, ctx.features, state.theta)
        return feedback.choose(key, scores, ctx.reference)

    def update(state: ExactState, ctx, action, obs, hparams) -> ExactState:
        j = feedback.action_index(action, ctx.features.shape[0])
        plays = state.plays.at[ctx.user, ctx.prompt, j].add(1.0)
        sums = state.sums.at[ctx.user, ctx.prompt, j].add(jnp.asarray(obs, state.sums.dtype))
        theta, steps = fit_cells(feedback, state.rows, plays, sums, hparams.ridge, state.theta,
                                 max_iter, tol)
        return ExactState(theta=theta, plays=plays, sums=sums, rows=state.rows,
                          newton_steps=state.newton_steps + steps)

    return Learner(f"greedy_exact[{featurizer.name}]", feedback, init, act, update,
                   lambda: GLMHParams(ridge=jnp.float32(1.0)))
