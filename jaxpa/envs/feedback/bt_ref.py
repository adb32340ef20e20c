"""`bt_ref` feedback: the learner shows y; the user prefers it to the reference y0(x) with
probability sigmoid(r(y) - r(y0)) (Bradley-Terry, MODEL.md §2)."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxpa.envs.draws import difference, uniform01
from jaxpa.envs.feedback.base import SingleIndexFeedback

MARGIN_CLIP = 30.0  # |m| beyond this: sigmoid' underflows to an exactly singular curvature (f32)


def bernoulli_terms(obs, m):
    """Gradient o - p and curvature p (1 - p) of log Bernoulli(o; sigmoid(m)) in m, at the margin
    clipped to |m| <= 30 (both terms), so the curvature never underflows to 0 in float32."""
    p = jax.nn.sigmoid(jnp.clip(m, -MARGIN_CLIP, MARGIN_CLIP))
    return obs - p, p * (1.0 - p)


def bernoulli_sample(key, m):
    """o ~ Bernoulli(sigmoid(m)) from float32 uniforms, one per entry of m, in m's dtype."""
    return (uniform01(key, jnp.shape(m)) < jax.nn.sigmoid(m)).astype(m.dtype)


class BradleyTerry:
    """The one-dimensional Bradley-Terry likelihood shared by bt_ref and bt_duel."""

    def sample_index(self, key, m):
        return bernoulli_sample(key, m)

    def index_terms(self, obs, m):
        return bernoulli_terms(obs, m)

    def nll(self, obs, m):
        return jax.nn.softplus(m) - obs * m

    def mean(self, m):
        return jax.nn.sigmoid(m)

    def fisher(self, m):
        return jax.nn.sigmoid(m) * jax.nn.sigmoid(-m)


@dataclasses.dataclass(frozen=True)
class BTRef(BradleyTerry, SingleIndexFeedback):
    """Row g = z(y) - z(y0), exactly 0 when y = y0: comparing the reference with itself teaches
    nothing (MODEL.md §8)."""

    name = "bt_ref"

    def direction(self, z, action, reference):
        return difference(z, action[0], reference)
