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
        """softplus(m) - o m, written without the cancellation of its two terms at large |m|."""
        return (1.0 - obs) * jax.nn.softplus(m) + obs * jax.nn.softplus(-m)

    def headroom(self, obs, m):
        """-log p(obs) at the clipped margin, where ``bernoulli_terms`` evaluates."""
        return self.nll(obs, jnp.clip(m, -MARGIN_CLIP, MARGIN_CLIP))

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

    @property
    def has_lock_play(self) -> bool:
        return True

    def lock_play(self, z, r, reference):
        """Rows g' = z(y') - z(y0) with weights sigma'(r(y') - r(y0)); lockable: y0, and every
        y' != y* above the reference (a y' below it is learned to be below y0, which greedy then
        prefers, so its own play corrects it)."""
        ys = jnp.arange(r.shape[-1])
        G = jax.vmap(lambda y: self.direction(z, y[None], reference))(ys)
        w = jax.vmap(lambda y: self.fisher(self.margin(r, y[None], reference)))(ys).astype(z.dtype)
        lockable = ((ys == reference) | (r > r[reference])) & (ys != jnp.argmax(r))
        return G, w, lockable
