"""The plug-in policy of an estimate and its exact suboptimality (MODEL.md §3, Offline).

    pi_n(u, x) = argmax_y <theta, z_u(x, y)>
    SubOpt(theta) = E_{u ~ nu, x ~ rho(.|u)} [ r_u(x, y*) - r_u(x, pi_n(u, x)) ]

computed exactly from the instance (a sum over its users and prompts, no sampling). Ties in the
plug-in argmax are resolved as a uniformly random choice among the tied responses, so the gap of a
(u, x) is the *average* gap over the tied set; responses tie when their scores are within
``tie_atol`` of the best (default 0: exact ties, e.g. theta = 0, where every response ties and
SubOpt is the uniform policy's). ``n_epsilon`` reads the sample complexity n(eps) off a curve.
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, gaps, support_mask
from jaxpa.learners.design import design

Array = jax.Array


def _concrete_nonzero(x) -> bool:
    """Whether a concrete array has a nonzero entry (False for a traced one, which is checked
    on the host)."""
    try:
        return bool(np.any(np.asarray(x) != 0))
    except jax.errors.TracerArrayConversionError:
        return False


def true_theta(inst: Instance, featurizer: str = "personalized") -> Array:
    """The true parameter in the learner's design: vec W (row-major, as z = h ⊗ phi), with beta
    appended for ``personalized+shared``: [p]. The population design has none (rewards depend on
    the head), nor does ``personalized`` when beta != 0 (checked on the host)."""
    if featurizer == "personalized+shared":
        return jnp.concatenate([inst.W.reshape(-1), inst.shared])
    if featurizer == "personalized":
        if _concrete_nonzero(inst.shared):
            raise ValueError("true_theta: the instance has a shared term beta != 0, which the "
                             "'personalized' design cannot represent; use 'personalized+shared'")
        return inst.W.reshape(-1)
    raise ValueError(f"true_theta: no true parameter in the {featurizer!r} design")


def plug_in_scores(inst: Instance, theta: Array, featurizer: str = "personalized") -> Array:
    """<theta, z_u(x, y)> for every user, prompt and response: [N, M, K] (full float32
    precision: GPUs default to TF32 matmuls, which can flip close decisions)."""
    with jax.default_matmul_precision("highest"):
        return design(inst, featurizer) @ theta


def plug_in_policy(inst: Instance, theta: Array, featurizer: str = "personalized",
                   tie_atol=0.0) -> Array:
    """The plug-in policy as probabilities [N, M, K]: uniform over the responses whose score is
    within ``tie_atol`` of the best (one response unless there are ties)."""
    s = plug_in_scores(inst, theta, featurizer)
    tied = (s >= jnp.max(s, -1, keepdims=True) - tie_atol).astype(s.dtype)
    return tied / jnp.sum(tied, -1, keepdims=True)


def suboptimality_per_context(inst: Instance, theta: Array, featurizer: str = "personalized",
                              tie_atol=0.0) -> Array:
    """The plug-in policy's expected gap at each (u, x) (tie-averaged): [N, M]."""
    return jnp.sum(plug_in_policy(inst, theta, featurizer, tie_atol) * gaps(inst), -1)


def suboptimality(inst: Instance, theta: Array, featurizer: str = "personalized",
                  tie_atol=0.0) -> Array:
    """SubOpt(theta) = sum_{u, x} nu(u) rho(x|u) gap of the plug-in choice: scalar >= 0.
    Pure and jittable; vmap over theta (seeds, dataset sizes) or over instances."""
    weight = jnp.where(support_mask(inst), inst.user_probs[:, None] * inst.prompt_probs, 0.0)
    return jnp.sum(weight * suboptimality_per_context(inst, theta, featurizer, tie_atol))


def n_epsilon(ns, subopt_curve, eps) -> np.ndarray:
    """n(eps): the smallest n of the grid ``ns`` [G] with subopt_curve[..., g] <= eps (the curve
    as given, e.g. the mean over seeds, not required to be monotone); inf where no n reaches it.

    subopt_curve: [..., G]; eps: scalar or [E]. Returns [..., E] (or [...] for scalar eps), float.
    """
    ns = np.asarray(ns, np.float64)
    curve = np.asarray(subopt_curve, np.float64)
    e = np.asarray(eps, np.float64)
    if ns.ndim != 1 or curve.shape[-1] != ns.size:
        raise ValueError(f"n_epsilon: curve {curve.shape} does not match the grid {ns.shape}")
    if np.any(np.diff(ns) <= 0):
        raise ValueError("n_epsilon: the grid of n must be increasing")
    below = curve[..., None, :] <= e.reshape(-1)[:, None]                 # [..., E, G]
    first = np.argmax(below, axis=-1)
    out = np.where(below.any(-1), ns[first], np.inf)
    return out.reshape(curve.shape[:-1] + e.shape)
