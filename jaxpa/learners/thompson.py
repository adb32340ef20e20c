"""Thompson sampling with a Laplace approximation of the posterior (MODEL.md §4).

The shared online ridge MLE of learners/glm.py keeps theta and V^-1, V = ridge I + sum_t F_t^T F_t
(the regularised observed information, each datum's curvature taken at the estimate it was seen
with). The Laplace posterior is N(theta, V^-1); for ``scalar`` feedback with known noise it is the
exact Gaussian posterior. Each round draws

    theta~ = theta + scale * V^{-1/2} eps,   eps ~ N(0, I_p)

and plays argmax_y theta~ . z(y) (random ties; the top-S slate under ``mnl``). ``scale`` inflates
the posterior (1 = the plain Laplace posterior). V^{-1/2} comes from an eigendecomposition with
negative eigenvalues (float32 rounding after many rank-one downdates) clipped at 0, which is why
``jax.random.multivariate_normal`` (no clipping) is not used. Under ``bt_duel`` with the learner's
own second response, an independent second sample picks it. The normal draws are float32 (cast to
the state's dtype), so float64 runs meet the same stream.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.feedback import FeedbackModel
from jaxpa.learners.base import Learner
from jaxpa.learners.design import Featurizer, personalized
from jaxpa.learners.glm import GLMState, glm_initializer, observe_glm
from jaxpa.learners.hparams import hparam

Array = jax.Array


@struct.dataclass
class TsHParams:
    """ridge: prior precision lambda > 0; scale: posterior inflation (1 = Laplace posterior)."""

    ridge: Array = hparam("float", low=0.0, low_open=True)
    scale: Array = hparam("float", low=0.0)


def posterior_sqrt(V_inv: Array) -> Array:
    """A symmetric square root of the covariance V^-1 [p, p] (eigenvalues clipped at 0)."""
    w, U = jnp.linalg.eigh(V_inv)
    return (U * jnp.sqrt(jnp.maximum(w, 0.0))) @ U.T


def posterior_samples(key: Array, state: GLMState, scale: Array, n: int) -> Array:
    """n draws of theta~ ~ N(theta, scale^2 V^-1): [n, p]."""
    eps = jax.random.normal(key, (n, state.theta.shape[0]), jnp.float32).astype(state.theta.dtype)
    return state.theta + scale * eps @ posterior_sqrt(state.V_inv)


def ts(feedback: FeedbackModel, featurizer: Featurizer | None = None) -> Learner:
    """Laplace Thompson sampling with the shared online ridge MLE."""
    featurizer = featurizer or personalized()
    n_samples = 2 if feedback.wants_challenger else 1

    def act(key, state: GLMState, ctx, hparams: TsHParams) -> Array:
        k_sample, k_choose = jax.random.split(key)
        z = featurizer.featurize(ctx.head, ctx.features)
        thetas = posterior_samples(k_sample, state, hparams.scale, n_samples)
        return feedback.choose(k_choose, z @ thetas[0], ctx.reference,
                               lambda first: z @ thetas[-1])

    def default_hparams() -> TsHParams:
        return TsHParams(ridge=jnp.float32(1.0), scale=jnp.float32(1.0))

    return Learner(f"ts[{featurizer.name}]", feedback, glm_initializer(featurizer), act,
                   observe_glm(feedback, featurizer), default_hparams)
