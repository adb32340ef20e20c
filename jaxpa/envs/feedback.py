"""Feedback models (MODEL.md §2) as pure functions: sample feedback, pseudo-regret, likelihood terms.

A ``FeedbackModel`` says how many responses a learner picks per round (``n_actions``), how the
simulated user answers (``sample``), what the round costs (``regret``, pseudo-regret from expected
rewards), and, for learners, the gradient and curvature of the round's log-likelihood in the
learner's parameters (``newton_terms``). Every function works on one round; the runner vmaps.

Shapes: r [K] true rewards of the K candidates for the round's (user, prompt); action [A] int32;
z [K, p] the learner's features of the K candidates; reference a scalar int32 index y0(x).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class FeedbackModel(NamedTuple):
    """A feedback model; ``name`` and ``n_actions`` are static Python values.

    sample(key, r, action, reference) -> obs: the user's answer (a float scalar here).
    regret(r, action) -> scalar: pseudo-regret of the action.
    newton_terms(theta, z, action, reference, obs) -> (grad [p], factors [R, p]): gradient of the
        round's log-likelihood at theta and factors F with F^T F = its negative Hessian, used by the
        online Newton learners (learners/glm.py).
    """

    name: str
    n_actions: int
    sample: Callable[..., Any]
    regret: Callable[[Array, Array], Array]
    newton_terms: Callable[..., tuple[Array, Array]]


def _max_regret(r: Array, y: Array) -> Array:
    return jnp.max(r) - r[y]


def _bernoulli_terms(theta: Array, g: Array, obs: Array) -> tuple[Array, Array]:
    """Logistic log-likelihood of o ~ Bernoulli(sigmoid(theta . g)): gradient and Hessian factor.

    The margin is clipped to |m| <= 30 so that sigmoid' never underflows to an exactly singular
    curvature in float32; the gradient uses the same clipped margin.
    """
    m = jnp.clip(theta @ g, -30.0, 30.0)
    p = jax.nn.sigmoid(m)
    grad = (obs - p) * g
    factor = jnp.sqrt(p * (1.0 - p)) * g
    return grad, factor[None, :]


def scalar(noise_std: float = 1.0) -> FeedbackModel:
    """`scalar`: the learner picks y and observes r(y) + N(0, noise_std^2).

    Its likelihood is Gaussian: grad = g (o - theta.g) / s^2, factor g / s, with g = z[y].
    """
    s = float(noise_std)
    if not s > 0:
        raise ValueError(f"scalar feedback: noise_std must be > 0, got {noise_std!r}")

    def sample(key, r, action, reference):
        return r[action[0]] + s * jax.random.normal(key, (), r.dtype)

    def regret(r, action):
        return _max_regret(r, action[0])

    def newton_terms(theta, z, action, reference, obs):
        g = z[action[0]]
        return g * (obs - theta @ g) / s**2, (g / s)[None, :]

    return FeedbackModel("scalar", 1, sample, regret, newton_terms)


def bt_ref() -> FeedbackModel:
    """`bt_ref`: the learner picks y; o ~ Bernoulli(sigmoid(r(y) - r(y0))), y0 the reference.

    Playing the reference itself gives g = 0, i.e. no information (MODEL.md §8).
    """

    def sample(key, r, action, reference):
        p = jax.nn.sigmoid(r[action[0]] - r[reference])
        return (jax.random.uniform(key, (), r.dtype) < p).astype(r.dtype)

    def regret(r, action):
        return _max_regret(r, action[0])

    def newton_terms(theta, z, action, reference, obs):
        return _bernoulli_terms(theta, z[action[0]] - z[reference], obs)

    return FeedbackModel("bt_ref", 1, sample, regret, newton_terms)


def bt_duel() -> FeedbackModel:
    """`bt_duel`: the learner picks (y, y'); o ~ Bernoulli(sigmoid(r(y) - r(y'))).

    Regret is the average regret r* - (r(y) + r(y')) / 2, so a second response chosen to explore
    is paid for. Both choices are the learner's and explicit in its action [2].
    """

    def sample(key, r, action, reference):
        p = jax.nn.sigmoid(r[action[0]] - r[action[1]])
        return (jax.random.uniform(key, (), r.dtype) < p).astype(r.dtype)

    def regret(r, action):
        return jnp.max(r) - 0.5 * (r[action[0]] + r[action[1]])

    def newton_terms(theta, z, action, reference, obs):
        return _bernoulli_terms(theta, z[action[0]] - z[action[1]], obs)

    return FeedbackModel("bt_duel", 2, sample, regret, newton_terms)


FEEDBACK_MODELS: dict[str, Callable[..., FeedbackModel]] = {
    "scalar": scalar, "bt_ref": bt_ref, "bt_duel": bt_duel}


@functools.lru_cache(maxsize=None)
def _cached_feedback(name: str, options: tuple) -> FeedbackModel:
    return FEEDBACK_MODELS[name](**dict(options))


def make_feedback(name: str, **options) -> FeedbackModel:
    """Feedback model by name; an unknown name lists the known ones.

    Cached: the same name and options return the same object, so jitted runs reuse their compiled
    program instead of retracing.
    """
    if name not in FEEDBACK_MODELS:
        raise KeyError(f"unknown feedback model {name!r}; known: {sorted(FEEDBACK_MODELS)}")
    return _cached_feedback(name, tuple(sorted(options.items())))
