"""`mnl` (K-wise) feedback: the learner shows a ranked slate S of ``slate_size`` distinct
responses (the first is the one served); the user picks item j with probability softmax(r(S))_j
(Plackett-Luce top-1, MODEL.md §2). The answer is the int32 position of the pick in the slate.

Its likelihood depends on theta through S - 1 margins, so it has no single-index row form (no
rank-one update, no offline rows). With Z = z[S] [S, p], p = softmax(Z theta), zbar = p Z: the
gradient is Z[obs] - zbar and sqrt(p_j) (Z_j - zbar) are the Hessian factors, one per item.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxpa.envs.draws import random_argmax, top_slate
from jaxpa.envs.feedback.base import FeedbackModel


@dataclasses.dataclass(frozen=True)
class MNL(FeedbackModel):
    name = "mnl"
    slate_size: int = 3

    def __post_init__(self):
        if isinstance(self.slate_size, bool) or int(self.slate_size) != self.slate_size \
                or self.slate_size < 2:
            raise ValueError(f"mnl feedback: slate_size must be an integer >= 2, got "
                             f"{self.slate_size!r}")

    @property
    def n_actions(self) -> int:
        return int(self.slate_size)

    def check(self, n_responses: int) -> None:
        if self.slate_size > n_responses:
            raise ValueError(f"mnl feedback: slate_size {self.slate_size} exceeds the K = "
                             f"{n_responses} candidate responses")

    def sample(self, key, r, action, reference):
        return jax.random.categorical(key, r[action].astype(jnp.float32)).astype(jnp.int32)

    def uniform_action(self, key, n_responses, reference=None):
        """A uniformly random ranked slate of distinct responses."""
        return jax.random.permutation(key, n_responses)[:self.n_actions].astype(jnp.int32)

    def choose(self, key, scores, reference, challenger=None):
        """The argmax served first, then the best others by ``scores`` (random ties)."""
        k_first, k_slate = jax.random.split(key)
        first = random_argmax(k_first, scores)
        return top_slate(k_slate, scores, first, self.n_actions)

    def newton_terms(self, theta, z, action, reference, obs):
        zs = z[action]
        p = jax.nn.softmax(zs @ theta)
        zbar = p @ zs
        return zs[obs] - zbar, jnp.sqrt(p)[:, None] * (zs - zbar)

    def optimal_play(self, z, r, reference):
        """The oracle's slate (the true top ``slate_size``): factors sqrt(p_j) (z(s_j) - zbar),
        directions z(s_j) - z(y*), and kappa = sigma'(r(y*) - r(y2)) (the best against the
        runner-up)."""
        top_r, top = jax.lax.top_k(r, self.n_actions)
        zs = z[top]
        p = jax.nn.softmax(top_r)
        zbar = p @ zs
        F = jnp.sqrt(p)[:, None] * (zs - zbar)
        G = zs - zs[:1]
        m = top_r[0] - top_r[1]
        return F, G, jax.nn.sigmoid(m) * jax.nn.sigmoid(-m)
