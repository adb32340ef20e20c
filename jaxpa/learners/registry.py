"""Learners by name, for configs and the command line.

``make_learner(name, feedback, **options)`` is cached: the same arguments return the same
``Learner`` object, so the runner's jit cache recognises it and a second run does not recompile.

The zoo (MODEL.md §4): greedy (warm start n0), eps_greedy (constant eps), eps_decay (eps_t = c/t),
etc (fixed m), etc_log (m = c log T; set the ``horizon`` hyperparameter with ``for_horizon``),
ucb (LinUCB / GLM-UCB), ts (Laplace Thompson sampling), uniform, oracle, and the non-personalized
twins greedy_pop, ucb_pop, ts_pop (one shared reward model: the ``population`` featurizer).
Options: ``featurizer`` (estimating learners), ``second`` (bt_duel, learners/duel.py).
"""
from __future__ import annotations

import functools
from typing import Callable

import jax.numpy as jnp

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.learners import explore, glm, optimistic, thompson
from jaxpa.learners.neural import neural
from jaxpa.learners.unknown_heads import unknown_heads
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


def _population(factory):
    """The non-personalized twin: one shared reward model for everyone (heads ignored)."""
    def build(feedback, **options):
        if "featurizer" in options:
            raise TypeError("a *_pop learner is non-personalized by definition; use the "
                            "personalized name with featurizer=... instead")
        return factory(feedback, FEATURIZERS["population"](), **options)

    return build


def _with(factory, **fixed):
    return lambda feedback, featurizer, **options: factory(feedback, featurizer,
                                                           **fixed, **options)


LEARNERS: dict[str, Callable[..., Learner]] = {
    "greedy": _estimating(glm.greedy),
    "uniform": glm.uniform,
    "oracle": glm.oracle,
    "eps_greedy": _estimating(_with(explore.eps_greedy, schedule="constant")),
    "eps_decay": _estimating(_with(explore.eps_greedy, schedule="decay")),
    "etc": _estimating(_with(explore.explore_then_commit, schedule="fixed")),
    "etc_log": _estimating(_with(explore.explore_then_commit, schedule="log")),
    "ucb": _estimating(optimistic.ucb),
    "ts": _estimating(thompson.ts),
    "greedy_pop": _population(glm.greedy),
    "ucb_pop": _population(optimistic.ucb),
    "ts_pop": _population(thompson.ts),
    "unknown_heads": unknown_heads,
    "neural": neural,
}


def for_horizon(hparams, horizon: int):
    """Set a ``horizon`` hyperparameter (explore-then-commit with m = c log T) to the run's
    horizon; hyperparameters without one are returned unchanged."""
    if hasattr(hparams, "horizon"):
        return hparams.replace(horizon=jnp.full_like(hparams.horizon, horizon))
    return hparams


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
