"""`scalar` feedback: the learner shows y and observes r(y) + N(0, s^2) (MODEL.md §2)."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxpa.envs.feedback.base import SingleIndexFeedback


@dataclasses.dataclass(frozen=True)
class Scalar(SingleIndexFeedback):
    """Gaussian answers with noise standard deviation ``noise_std``: row g = z(y), margin
    m = r(y); log-likelihood gradient (o - m) / s^2, curvature 1 / s^2. The answer is absolute, so
    an optimistic bonus is measured from 0 (LinUCB)."""

    name = "scalar"
    noise_std: float = 1.0

    def __post_init__(self):
        if not float(self.noise_std) > 0:
            raise ValueError(f"scalar feedback: noise_std must be > 0, got {self.noise_std!r}")

    def direction(self, z, action, reference):
        return z[action[0]]

    def sample_index(self, key, m):
        return m + self.noise_std * jax.random.normal(key, jnp.shape(m), jnp.float32).astype(m.dtype)

    def index_terms(self, obs, m):
        s2 = self.noise_std ** 2
        return (obs - m) / s2, jnp.asarray(1.0 / s2, m.dtype)

    def nll(self, obs, m):
        return 0.5 * jnp.square(obs - m) / self.noise_std ** 2

    def mean(self, m):
        return m

    def fisher(self, m):
        return jnp.full_like(m, 1.0 / self.noise_std ** 2)

    def anchor(self, z, reference):
        return jnp.zeros_like(z[0])
