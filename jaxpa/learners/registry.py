"""Learners by name, for configs and the command line (MODEL.md §4).

``make_learner(name, feedback, **options)`` builds a learner for a feedback model (a
``FeedbackModel`` or its name). It is cached (the 256 most recent): the same arguments return the
same ``Learner`` object, so the runner's compile cache recognises it and a second run does not
recompile.

Every name is a core learner wrapped in exploration (learners/explore.py), so one hyperparameter
pytree reaches every knob: greedy, ucb, ts, their non-personalized twins (``*_pop``: one shared
reward model, heads ignored), unknown_heads and neural carry a ``warm_start`` (default 0);
greedy_exact is greedy on the exact ridge MLE refitted every round (learners/exact.py; single-index
feedback only, options ``featurizer``, ``max_iter``, ``tol``);
etc (m = 100) and etc_log (m = 20 log T) are greedy with a warm start; eps_greedy (eps = 0.05) and
eps_decay (eps_t = 10 / t) are greedy with an epsilon coin; neural also has one (default 0).
Options: ``featurizer`` (greedy, ucb, ts, eps_*, etc*), ``cold_start`` (unknown_heads), and the
model/optimiser options of ``neural``.
"""
from __future__ import annotations

import functools
from typing import Callable

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import InstanceError
from jaxpa.learners import baselines, exact, glm, optimistic, thompson
from jaxpa.learners.base import Learner
from jaxpa.learners.design import make_featurizer
from jaxpa.learners.explore import epsilon_greedy, warm_start
from jaxpa.learners.unknown_heads import unknown_heads


def _estimating(core, wrap, featurizer_fixed: str | None = None):
    """A GLM learner ``core(feedback, featurizer)`` under the wrapper ``wrap``; ``*_pop`` names
    fix the featurizer to ``population``."""
    def build(feedback, featurizer: str = "personalized", **options):
        if featurizer_fixed is not None:
            if featurizer != "personalized":
                raise InstanceError("a *_pop learner is non-personalized by definition; use the "
                                    "personalized name with featurizer=... instead")
            featurizer = featurizer_fixed
        return wrap(core(feedback, make_featurizer(featurizer), **options))

    return build


def _neural(feedback, **options):
    from jaxpa.learners.neural import neural  # Flax and Optax are imported only when asked for

    return warm_start(epsilon_greedy(neural(feedback, **options), epsilon=0.0))


LEARNERS: dict[str, Callable[..., Learner]] = {
    "greedy": _estimating(glm.greedy, warm_start),
    "greedy_exact": _estimating(exact.greedy_exact, warm_start),
    "etc": _estimating(glm.greedy, lambda l: warm_start(l, n0=100)),
    "etc_log": _estimating(glm.greedy, lambda l: warm_start(l, c=20.0)),
    "eps_greedy": _estimating(glm.greedy, lambda l: epsilon_greedy(l, epsilon=0.05)),
    "eps_decay": _estimating(glm.greedy, lambda l: epsilon_greedy(l, epsilon=0.0, c=10.0)),
    "ucb": _estimating(optimistic.ucb, warm_start),
    "ts": _estimating(thompson.ts, warm_start),
    "greedy_pop": _estimating(glm.greedy, warm_start, "population"),
    "ucb_pop": _estimating(optimistic.ucb, warm_start, "population"),
    "ts_pop": _estimating(thompson.ts, warm_start, "population"),
    "uniform": baselines.uniform,
    "oracle": baselines.oracle,
    "unknown_heads": lambda feedback, **options: warm_start(unknown_heads(feedback, **options)),
    "neural": _neural,
}


@functools.lru_cache(maxsize=256)
def _cached(name: str, feedback: FeedbackModel, options: tuple) -> Learner:
    return _build(name, feedback, dict(options))


def _build(name: str, feedback: FeedbackModel, options: dict) -> Learner:
    try:
        return LEARNERS[name](feedback, **options)
    except TypeError as err:
        raise InstanceError(f"learner {name!r}: bad options {sorted(options)} ({err})") from None


def make_learner(name: str, feedback: str | FeedbackModel = "bt_ref", **options) -> Learner:
    """A learner by name for a feedback model (given by name or as a FeedbackModel)."""
    if name not in LEARNERS:
        raise InstanceError(f"unknown learner {name!r}; known: {sorted(LEARNERS)}")
    feedback = make_feedback(feedback)
    key = tuple(sorted(options.items()))
    try:
        hash(key)
    except TypeError:  # unhashable options (a model object, say): built anew each time
        return _build(name, feedback, options)
    return _cached(name, feedback, key)
