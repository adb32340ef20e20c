"""Learners by name, for configs and the command line.

``make_learner(name, feedback, **options)`` is cached: the same arguments return the same
``Learner`` object, so the runner's jit cache recognises it and a second run does not recompile.
"""
from __future__ import annotations

import functools
from typing import Callable

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.learners import glm
from jaxpa.learners.base import Learner, personalized, population

FEATURIZERS = {"personalized": lambda: personalized(False),
               "personalized+shared": lambda: personalized(True),
               "population": population}


def _estimating(factory):
    def build(feedback, featurizer="personalized", **options):
        if featurizer not in FEATURIZERS:
            raise KeyError(f"unknown featurizer {featurizer!r}; known: {sorted(FEATURIZERS)}")
        return factory(feedback, FEATURIZERS[featurizer](), **options)

    return build


LEARNERS: dict[str, Callable[..., Learner]] = {
    "greedy": _estimating(glm.greedy),
    "uniform": glm.uniform,
    "oracle": glm.oracle,
}


@functools.lru_cache(maxsize=None)
def _cached(name: str, feedback: FeedbackModel, options: tuple) -> Learner:
    return LEARNERS[name](feedback, **dict(options))


def make_learner(name: str, feedback: str | FeedbackModel = "bt_ref", **options) -> Learner:
    """A learner by name for a feedback model (given by name or as a FeedbackModel)."""
    if name not in LEARNERS:
        raise KeyError(f"unknown learner {name!r}; known: {sorted(LEARNERS)}")
    if isinstance(feedback, str):
        feedback = make_feedback(feedback)
    return _cached(name, feedback, tuple(sorted(options.items())))
