"""Numerical robustness over long horizons and extreme instances.

The slow tier (``python -m pytest -m slow tests/test_long_horizon.py``) runs every registered
learner on every feedback model it supports for 10^6 rounds (2 seeds, float32) and reports any
non-finite value. The fast tier runs the same check on extreme instances (near-deterministic
preferences with |Δr| >= 30, feature norms of 10^3) for a few hundred rounds, in CI.
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import FEEDBACK_MODELS, Instance, make_family, make_learner, simulate
from jaxpa.learners import LEARNERS
from jaxpa.learners.registry import for_horizon


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


def _finite(tree) -> bool:
    return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(tree)
               if jnp.issubdtype(np.asarray(x).dtype, jnp.floating))


def _extreme(kind: str) -> Instance:
    rng = np.random.default_rng(0)
    if kind == "deterministic":  # reward differences of 30 to 60: sigmoid saturates
        f = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
        return Instance.create(features=f, reference=[0], heads=[[1.0, 0.0], [0.0, 1.0]],
                               W=[[30.0, 0.0], [0.0, -60.0]])
    if kind == "huge_features":  # feature norms around 1e3
        return Instance.create(features=1e3 * rng.normal(size=(2, 3, 2)), reference=[0, 1],
                               heads=rng.normal(size=(3, 2)), W=1e-3 * rng.normal(size=(2, 2)))
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["deterministic", "huge_features"])
@pytest.mark.parametrize("name, feedback", [p for p in _pairs() if p[0] in
                                            ("greedy", "ucb", "ts", "eps_decay")])
def test_extreme_instances_stay_finite(kind, name, feedback):
    learner = make_learner(name, feedback)
    hp = for_horizon(learner.default_hparams(), 300)
    c = simulate(jax.random.key(0), _extreme(kind), learner, hp, horizon=300, n_seeds=2)
    assert _finite(c) and np.all(np.asarray(c.regret) >= 0)


@pytest.mark.slow
@pytest.mark.parametrize("name, feedback", _pairs())
def test_million_rounds_stay_finite(name, feedback):
    """10^6 rounds, 2 seeds, in chunks of the same compiled program: the learner's final state
    (estimates, V^-1, network weights) and the curves are finite, regret never decreases."""
    from jaxpa.runner.simulate import check_run, compiled_program, log_checkpoints, seed_keys
    learner, inst, T, chunk = make_learner(name, feedback), make_family("f1", jax.random.key(1)), \
        1_000_000, 250_000
    T, hp, hp_b, inst_b = check_run(learner, inst, for_horizon(learner.default_hparams(), T),
                                    T, 2, chunk)
    ckpts, keys, carry = jnp.asarray(log_checkpoints(T)), seed_keys(jax.random.key(0), 2), None
    for _ in range(T // chunk):
        carry = compiled_program(learner, chunk, ckpts.shape[0], inst_b, hp_b, keys, inst, hp,
                                 ckpts, carry)
    regret = np.asarray(carry.curve_regret)
    assert _finite(carry.state), f"{name}/{feedback}: non-finite learner state"
    assert _finite(regret), f"{name}/{feedback}: non-finite regret"
    assert np.all(np.diff(regret, axis=-1) >= 0) and np.all(regret[..., -1] <= 10 * T)
    print(f"{name:14s} {feedback:8s} R(T) per seed: {regret[..., -1].round(1).tolist()}")
