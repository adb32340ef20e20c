"""`bt_duel` feedback: the learner shows two responses (y, y'); the user prefers y with
probability sigmoid(r(y) - r(y')) (MODEL.md §2, dueling-bandit conventions).

Who picks y' is the option ``second``:
- ``own`` (default): the learner's own rule: UCB its optimistic challenger of y, TS a second
  posterior sample, greedy and every learner without a rule of its own the runner-up by its
  scores. A consistent learner ends up duelling (y*, y*).
- ``runner_up``: the best other response by the learner's scores (random ties).
- ``uniform``: uniform over the K candidates (may equal y, which then teaches nothing).
- ``reference``: a *fixed* second response, y' = y0(x). Average regret is then linear for every
  learner (half the reference's gap each round): the bt_ref protocol under another name.

Regret: ``average`` r* - (r(y) + r(y'))/2 (default: both shown responses are paid for),
``weak`` r* - max, ``strong`` r* - min, or ``first`` r* - r(y) (the second response explores for
free). Average and weak regret are always reported side by side (``extra_regrets``).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxpa.envs.draws import difference, random_argmax, uniform_index
from jaxpa.envs.feedback.base import SingleIndexFeedback
from jaxpa.envs.feedback.bt_ref import BradleyTerry

SECONDS = ("own", "runner_up", "uniform", "reference")
REGRETS = {"average": lambda a, b: 0.5 * (a + b), "weak": jnp.maximum, "strong": jnp.minimum,
           "first": lambda a, b: a}


def _runner_up(key, scores, first):
    return random_argmax(key, jnp.where(jnp.arange(scores.shape[0]) == first, -jnp.inf, scores))


@dataclasses.dataclass(frozen=True)
class BTDuel(BradleyTerry, SingleIndexFeedback):
    name = "bt_duel"
    second: str = "own"
    regret_kind: str = "average"

    def __post_init__(self):
        if self.second not in SECONDS:
            raise ValueError(f"bt_duel: unknown second-response rule {self.second!r}; known: "
                             f"{SECONDS}")
        if self.regret_kind not in REGRETS:
            raise ValueError(f"bt_duel: unknown regret {self.regret_kind!r}; known: "
                             f"{tuple(REGRETS)}")

    @property
    def n_actions(self) -> int:
        return 2

    def direction(self, z, action, reference):
        return difference(z, action[0], action[1])

    def regret(self, r, action):
        return jnp.max(r) - REGRETS[self.regret_kind](r[action[0]], r[action[1]])

    def extra_regrets(self, r, action):
        return {kind: jnp.max(r) - REGRETS[kind](r[action[0]], r[action[1]])
                for kind in ("average", "weak") if kind != self.regret_kind}

    def uniform_action(self, key, n_responses, reference=None):
        """Two independent uniform responses; under ``reference`` the second one is y0 (the
        action space is {(y, y0)}), so exploration keeps the protocol."""
        if self.second != "reference":
            return super().uniform_action(key, n_responses, reference)
        if reference is None:
            raise ValueError("bt_duel[second=reference]: the uniform action needs the reference")
        return jnp.stack([uniform_index(key, n_responses), jnp.asarray(reference, jnp.int32)])

    def uniform_action_probs(self, n_responses, dtype=jnp.float32, reference=None):
        if self.second != "reference":
            return super().uniform_action_probs(n_responses, dtype, reference)
        if reference is None:
            raise ValueError("bt_duel[second=reference]: the law of the uniform action depends on "
                             "the reference; pass reference=y0(x)")
        second = jax.nn.one_hot(reference, n_responses, dtype=dtype)
        return (jnp.full((n_responses, 1), 1.0 / n_responses, dtype) * second).reshape(-1)

    @property
    def wants_challenger(self) -> bool:
        return self.second == "own"

    def choose(self, key, scores, reference, challenger=None):
        k_first, k_second = jax.random.split(key)
        first = random_argmax(k_first, scores)
        if self.second == "reference":
            second = jnp.asarray(reference, jnp.int32)
        elif self.second == "uniform":
            second = uniform_index(k_second, scores.shape[0])
        elif self.second == "own" and challenger is not None:
            second = random_argmax(k_second, challenger(first))
        else:
            second = _runner_up(k_second, scores, first)
        return jnp.stack([first, second])

    def fixed_point_actions(self, r, reference):
        """Greedy at its fixed point plays y* and, for its second response: the true runner-up
        y2 (``own``: greedy's own rule; ``runner_up``), y0 (``reference``), or each response with
        probability 1/K (``uniform``)."""
        K = r.shape[0]
        best = jnp.argmax(r).astype(jnp.int32)
        if self.second == "uniform":
            acts = jnp.stack([jnp.full((K,), best), jnp.arange(K, dtype=jnp.int32)], -1)
            return acts, jnp.full((K,), 1.0 / K, r.dtype)
        if self.second == "reference":
            return jnp.stack([best, jnp.asarray(reference, jnp.int32)])[None], jnp.ones((1,), r.dtype)
        others = jnp.where(jnp.arange(K) == best, -jnp.inf, r)
        y2 = jnp.argmax(others).astype(jnp.int32)
        return jnp.stack([best, y2])[None], jnp.ones((1,), r.dtype)

    def oracle_informative(self) -> bool:
        return self.second not in ("own",)

    def oracle_action_probs(self, r, reference):
        if self.second != "uniform":
            return super().oracle_action_probs(r, reference)
        K = r.shape[0]
        best = jnp.argmax(r)
        return (jnp.zeros((K, K), r.dtype).at[best].set(1.0 / K)).reshape(-1)
