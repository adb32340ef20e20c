"""Numerical robustness over long horizons and extreme instances.

The runner's health flag (``Curves.nonfinite_at``: the first round after which the learner's
state held a NaN or an infinity) makes "stayed finite" a check of every round, not only of the
final state. The fast tier (CI) runs each learner family on each feedback model once (a rotation:
greedy, UCB, TS and decaying epsilon-greedy over scalar, bt_ref, bt_duel and mnl) on a batch of two
extreme instances (near-deterministic preferences with |Δr| >= 30, feature norms of 10^3) for a
few hundred rounds; the slow tier (``python -m pytest -m slow tests/learners/test_long_horizon.py``) runs
every pair of those on the extreme instances, and every registered learner on every feedback
model it supports for 10^6 rounds (2 seeds, float32).
"""
import numpy as np
import pytest
import jax

from jaxpa import FEEDBACK_MODELS, Instance, make_family, make_learner, simulate
from jaxpa.learners import LEARNERS
from tests.helpers import stack


def _pairs():
    pairs = []
    for name in sorted(LEARNERS):
        for fb in sorted(FEEDBACK_MODELS):
            try:
                make_learner(name, fb)
            except (NotImplementedError, ValueError, TypeError):
                continue  # this learner does not support this feedback model
            pairs.append((name, fb))
    return pairs


def extreme() -> Instance:
    """Two extreme instances of one shape (M = 2, K = 4, d = 2, N = 2, k = 2), as a batch:
    0: reward differences of 30 to 90 (sigmoid saturates); 1: feature norms around 1e3."""
    f = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    deterministic = Instance.create(features=np.stack([f, f[::-1]]), reference=[0, 3],
                                    heads=[[1.0, 0.0], [0.0, 1.0]],
                                    W=[[30.0, 0.0], [0.0, -60.0]])
    rng = np.random.default_rng(0)
    huge = Instance.create(features=1e3 * rng.normal(size=(2, 4, 2)), reference=[0, 1],
                           heads=rng.normal(size=(2, 2)), W=1e-3 * rng.normal(size=(2, 2)))
    return stack(deterministic, huge)


def _check_extreme(name, feedback):
    learner = make_learner(name, feedback)
    c = simulate(jax.random.key(0), extreme(), feedback, learner, horizon=300, n_seeds=2)
    assert c.nonfinite_at.shape == (2, 2)
    assert c.healthy.all(), f"{name}/{feedback}: state non-finite from round {c.nonfinite_at}"
    assert np.all(np.isfinite(c.regret)) and np.all(c.regret >= 0)
    assert np.all(np.diff(c.regret, axis=-1) >= 0)


ROTATION = [("ucb", "scalar"), ("greedy", "bt_ref"), ("ts", "bt_duel"), ("eps_decay", "mnl")]
EXTREME_PAIRS = [p for p in _pairs() if p[0] in ("greedy", "ucb", "ts", "eps_decay")]


@pytest.mark.parametrize("name, feedback", ROTATION)
def test_extreme_instances_stay_finite(name, feedback):
    _check_extreme(name, feedback)


@pytest.mark.slow
@pytest.mark.parametrize("name, feedback", [p for p in EXTREME_PAIRS if p not in ROTATION])
def test_extreme_instances_stay_finite_every_pair(name, feedback):
    _check_extreme(name, feedback)


def test_rotation_covers_every_learner_and_model():
    assert {n for n, _ in ROTATION} == {n for n, _ in EXTREME_PAIRS}
    assert {f for _, f in ROTATION} == set(FEEDBACK_MODELS)
    assert set(ROTATION) <= set(EXTREME_PAIRS)


@pytest.mark.slow
@pytest.mark.parametrize("name, feedback", _pairs())
def test_million_rounds_stay_finite(name, feedback):
    """10^6 rounds, 2 seeds, in chunks of the same compiled program: the learner's state stays
    finite in every round (the health flag), the curves are finite, regret never decreases."""
    learner, inst, T = make_learner(name, feedback), make_family("f1", jax.random.key(1)), 10**6
    c = simulate(jax.random.key(0), inst, feedback, learner, horizon=T, n_seeds=2, chunk=250_000)
    assert c.healthy.all(), f"{name}/{feedback}: non-finite state from round {c.nonfinite_at}"
    assert np.all(np.isfinite(c.regret)), f"{name}/{feedback}: non-finite regret"
    assert np.all(np.diff(c.regret, axis=-1) >= 0) and np.all(c.regret[..., -1] <= 10 * T)
    print(f"{name:14s} {feedback:8s} R(T) per seed: {c.regret[..., -1].round(1).tolist()}")
