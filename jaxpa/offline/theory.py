"""A predicted decay rate of SubOpt(n) for a stationary logging policy (a hypothesis to compare the
measured rate with, not a result).

With I the expected Fisher information of one logged round (I = sum_j q_j w_j x_j x_j^T over
the rows j of the log: q_j their probabilities, w_j = ``feedback.fisher(margin_j)``, the expected
curvature of the model's likelihood at the row's true margin: sigmoid'(margin_j) for BT
feedback, 1/s^2 for scalar), the MLE is asymptotically N(theta*, I^+ / n) on the span of I. The
plug-in prefers a wrong response y over y* at (u, x) when <theta_hat - theta*, dz> > Delta,
dz = z(y) - z(y*), which has probability Phi(-Delta sqrt(n) / sqrt(dz^T I^+ dz))
~ exp(-n Delta^2 / (2 dz^T I^+ dz)). The slowest of these rates dominates SubOpt(n) for large n:

    c_gauss = min over supported (u, x) and y != y* of Delta^2 / (2 dz^T I^+ dz)

and c_gauss = 0 when some dz leaves range(I) (the log never identifies that decision: a stall).
A Gaussian (central-limit) approximation: the true large-deviation rate can differ, most where
Delta is large against the noise. Host-side NumPy in float64.
"""
from __future__ import annotations

import functools

import numpy as np
import jax

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.envs.instance import Instance, gaps, optimal_responses, support_mask
from jaxpa.learners.design import design
from jaxpa.offline.logging_policies import check_policy, instance_rows
from jaxpa.offline.sampled import row_margins, row_probs
from jaxpa.envs.precision import full_precision

RANGE_RTOL = 1e-6  # dz is in range(I) when its residual outside is below this, relative to |dz|


@functools.partial(jax.jit, static_argnames=("featurizer",))
@full_precision
def _decisions(inst: Instance, featurizer: str):
    """(design [N, M, K, p], y* [N, M], gaps [N, M, K], support [N, M]) in one compiled call."""
    return design(inst, featurizer), optimal_responses(inst), gaps(inst), support_mask(inst)


def information(inst: Instance, policy: str, feedback: str | FeedbackModel = "bt_ref",
                featurizer: str = "personalized") -> np.ndarray:
    """Expected Fisher information of one round logged by a stationary policy under the feedback
    model (its noise level, for scalar, is the model's ``noise_std``): [p, p], float64."""
    model = check_policy(policy, feedback)
    X = np.asarray(instance_rows(inst, model, featurizer), np.float64)
    q = np.asarray(row_probs(inst, policy, model), np.float64)
    w = np.asarray(_fisher(row_margins(inst, model), model), np.float64)
    return X.T @ ((q * w)[:, None] * X)


@functools.partial(jax.jit, static_argnames=("feedback",))
@full_precision
def _fisher(margins, feedback):
    return feedback.fisher(margins)


def gaussian_rate(inst: Instance, policy: str, feedback: str | FeedbackModel = "bt_ref",
                  featurizer: str = "personalized") -> dict:
    """c_gauss of the module docstring, with the (u, x, y) attaining it: a JSON-able dict
    {rate, user, prompt, response, gap, identified (False when some decision is unidentifiable)}."""
    info = information(inst, policy, feedback, featurizer)
    e, V = np.linalg.eigh(info)
    keep = e > RANGE_RTOL * max(e[-1], 0.0)
    U, inv = V[:, keep], 1.0 / e[keep]
    z, ys, delta, live = (np.asarray(a) for a in _decisions(inst, featurizer))
    z, delta = z.astype(np.float64), delta.astype(np.float64)     # z: [N, M, K, p]
    dz = z - np.take_along_axis(z, ys[..., None, None], axis=-2)   # [N, M, K, p]
    coef = dz @ U                                                   # [N, M, K, r]
    var = (coef**2 * inv).sum(-1)
    residual = np.linalg.norm(dz - coef @ U.T, axis=-1)
    outside = residual > RANGE_RTOL**0.5 * np.linalg.norm(dz, axis=-1)
    rate = np.where(outside, 0.0, delta**2 / (2 * np.where(var > 0, var, np.inf)))
    live = live[..., None] & (delta > 0)
    if not live.any():
        return {"rate": float("inf"), "identified": True}
    rate = np.where(live, rate, np.inf)
    u, x, y = np.unravel_index(int(np.argmin(rate)), rate.shape)
    return {"rate": float(rate[u, x, y]), "user": int(u), "prompt": int(x), "response": int(y),
            "gap": float(delta[u, x, y]), "identified": bool(not (outside & live).any())}
