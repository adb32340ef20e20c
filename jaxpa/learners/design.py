"""The learner's design: how a round's (head, features) become the rows z a learner estimates on.

A ``Featurizer`` maps a round's (head [k], features [K, d]) to z: [K, p]. ``personalized`` uses
z = h ⊗ phi (row-major, so theta viewed as [k, d] is W: the reward model of MODEL.md §1), plus
phi itself for the shared term beta with ``shared=True``; ``population`` ignores the head: one
reward model for everyone (the usual single-reward alignment). ``design`` gives the rows of every
(user, prompt, response) of an instance, which the diagnostics and the offline protocol use.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, InstanceError

Array = jax.Array


class Featurizer(NamedTuple):
    """``dim(k, d)`` is p. ``scores(head, features, theta)`` is z @ theta [K] computed without
    forming z (for ``personalized``: phi @ (h @ Theta), K d + k d multiply-adds instead of K k d),
    equal to it up to float rounding."""

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


FEATURIZERS: dict[str, Callable[[], Featurizer]] = {
    "personalized": lambda: personalized(False),
    "personalized+shared": lambda: personalized(True),
    "population": population}


def make_featurizer(name: str | Featurizer) -> Featurizer:
    """A featurizer by name (or one passed in as it is)."""
    if isinstance(name, Featurizer):
        return name
    if name not in FEATURIZERS:
        raise InstanceError(f"unknown featurizer {name!r}; known: {sorted(FEATURIZERS)}")
    return FEATURIZERS[name]()


def design(inst: Instance, featurizer: str | Featurizer = "personalized") -> Array:
    """The learner's rows of every (user, prompt, response): [N, M, K, p]."""
    f = make_featurizer(featurizer).featurize
    return jax.vmap(lambda h: jax.vmap(lambda phi: f(h, phi))(inst.features))(inst.heads)
