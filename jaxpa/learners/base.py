"""The learner protocol and the pieces every learner shares.

A ``Learner`` is a NamedTuple of pure functions, like an optax transformation:

    state  = learner.init(instance, hparams)
    action = learner.act(key, state, context, hparams)            # int32 [A]
    state  = learner.update(state, context, action, obs, hparams)

Hyperparameters are a pytree of arrays passed at call time (never closed over), so a sweep over
16 values is a ``vmap`` over ``hparams``, not a Python loop. ``feedback`` is the feedback model the
learner assumes; the runner simulates that model. ``default_hparams()`` gives scalar defaults.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel

Array = jax.Array


class Learner(NamedTuple):
    name: str
    feedback: FeedbackModel
    init: Callable[..., Any]
    act: Callable[..., Array]
    update: Callable[..., Any]
    default_hparams: Callable[[], Any]


class Featurizer(NamedTuple):
    """Maps a round's (head [k], features [K, d]) to the learner's design z: [K, p].

    ``dim(k, d)`` is p. ``personalized`` uses z = h ⊗ phi (plus phi itself for the shared term
    beta when ``shared=True``); ``population`` ignores the head: one reward model for everyone.
    ``scores(head, features, theta)`` is z @ theta [K] computed without forming z (for
    ``personalized``: phi @ (h @ Theta) with Theta = theta viewed as [k, d]; K d + k d
    multiply-adds instead of K k d), equal to it up to float rounding.
    """

    name: str
    dim: Callable[[int, int], int]
    featurize: Callable[[Array, Array], Array]
    scores: Callable[[Array, Array, Array], Array]


def personalized(shared: bool = False) -> Featurizer:
    def featurize(head, features):
        z = (head[None, :, None] * features[:, None, :]).reshape(features.shape[0], -1)
        return jnp.concatenate([z, features], axis=1) if shared else z

    def scores(head, features, theta):
        k, d = head.shape[0], features.shape[1]
        w = head @ theta[:k * d].reshape(k, d)  # the user's estimated reward vector [d]
        return features @ (w + theta[k * d:] if shared else w)

    return Featurizer("personalized+shared" if shared else "personalized",
                      lambda k, d: k * d + (d if shared else 0), featurize, scores)


def population() -> Featurizer:
    return Featurizer("population", lambda k, d: d, lambda head, features: features,
                      lambda head, features, theta: features @ theta)


def random_argmax(key: Array, values: Array) -> Array:
    """Index of the largest value, ties broken uniformly at random (MODEL.md §8): int32 scalar.

    One float32 uniform u picks the j-th of the n maximal entries, j = floor(u n) (clamped to
    n - 1 against rounding up), instead of a Gumbel variate per entry: K times fewer random words,
    the same uniform law over the ties (tests/test_fast_random.py checks it with a chi-square test).
    """
    is_max = values >= jnp.max(values)
    n = jnp.sum(is_max, dtype=jnp.int32)
    u = jax.random.uniform(key, (), jnp.float32)  # float32 in float64 mode too: the same draw
    j = jnp.minimum((u * n).astype(jnp.int32), n - 1)
    K = values.shape[0]
    # ties before entry i: a [K, K] @ [K] product in float32 (exact for K < 2^24; XLA:CPU has no
    # fast int32 dot, and its cumsum is a slow reduce-window)
    before = jnp.tril(jnp.ones((K, K), jnp.float32), -1) @ is_max.astype(jnp.float32)
    return jnp.sum(jnp.where(is_max & (before == j), jnp.arange(K, dtype=jnp.int32), 0),
                   dtype=jnp.int32)


def uniform_index(key: Array, n: int, shape=()) -> Array:
    return jax.random.randint(key, shape, 0, n, dtype=jnp.int32)


SECOND_RESPONSES = ("reference", "runner_up", "uniform")


def second_response(policy: str, key: Array, scores: Array, first: Array, reference: Array) -> Array:
    """The second response of a ``bt_duel`` action, by a named, static policy.

    reference: y0(x); runner_up: best score other than ``first`` (random ties);
    uniform: uniform over the K candidates (may equal ``first``, which then teaches nothing).
    """
    if policy == "reference":
        return reference.astype(jnp.int32)
    if policy == "runner_up":
        others = jnp.where(jnp.arange(scores.shape[0]) == first, -jnp.inf, scores)
        return random_argmax(key, others)
    if policy == "uniform":
        return uniform_index(key, scores.shape[0])
    raise ValueError(f"unknown second-response policy {policy!r}; known: {SECOND_RESPONSES}")


def top_slate(key: Array, scores: Array, first: Array, size: int) -> Array:
    """A ranked slate [size] int32 of distinct responses: ``first``, then the best others by
    ``scores`` in decreasing order (ties broken uniformly at random by a random permutation)."""
    K = scores.shape[0]
    if not 1 <= size <= K:
        raise ValueError(f"slate of size {size} from K = {K} candidates: need 1 <= size <= K")
    perm = jax.random.permutation(key, K)
    ranked = jnp.where(jnp.arange(K) == first, jnp.inf, scores)[perm]
    return perm[jax.lax.top_k(ranked, size)[1]].astype(jnp.int32)


def uniform_action(feedback: FeedbackModel, key: Array, K: int) -> Array:
    """An exploration action [A] int32: uniform responses, independent for ``bt_duel`` (so the two
    may coincide), a uniformly random ranked slate of distinct responses for ``mnl``."""
    if feedback.name == "mnl":
        return jax.random.permutation(key, K)[:feedback.n_actions].astype(jnp.int32)
    return uniform_index(key, K, (feedback.n_actions,))


def make_action(feedback: FeedbackModel, second: str, key: Array, scores: Array, first: Array,
                reference: Array) -> Array:
    """Action array [A] for the feedback model from the chosen first response.

    ``bt_duel``: (first, second response by the policy ``second``); ``mnl``: the slate of the
    top ``n_actions`` responses by ``scores`` with ``first`` served at position 0 (``second`` is
    ignored).
    """
    if feedback.name == "mnl":
        return top_slate(key, scores, first, feedback.n_actions)
    if feedback.n_actions == 1:
        return first[None]
    if feedback.n_actions == 2:
        return jnp.stack([first, second_response(second, key, scores, first, reference)])
    raise NotImplementedError(f"{feedback.name}: no action rule for n_actions={feedback.n_actions}")
