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

    sample(key, r, action, reference) -> obs: the user's answer (a float scalar; for ``mnl`` the
        int32 index of the chosen item within the slate).
    regret(r, action) -> scalar: pseudo-regret of the action.
    newton_terms(theta, z, action, reference, obs) -> (grad [p], factors [R, p]): gradient of the
        round's log-likelihood at theta and factors F with F^T F = its negative Hessian, used by the
        online Newton learners (learners/glm.py).
    rank_one(theta, z, action, reference, obs) -> (g [p], a, h), or None: the same terms when the
        round's likelihood depends on theta through one direction g only (scalar and BT feedback):
        gradient a g, negative Hessian h g g^T. learners/glm.py then needs one product with V^-1
        instead of two.
    """

    name: str
    n_actions: int
    sample: Callable[..., Any]
    regret: Callable[[Array, Array], Array]
    newton_terms: Callable[..., tuple[Array, Array]]
    rank_one: Callable[..., tuple[Array, Array, Array]] | None = None


def _max_regret(r: Array, y: Array) -> Array:
    return jnp.max(r) - r[y]


def _difference(z: Array, i: Array, j: Array) -> Array:
    """z[i] - z[j]: [p], exactly zero when i == j.

    XLA may recompute the two rows inside one fused loop and contract h*phi_i - h*phi_j into a
    fused multiply-add, leaving the rounding error of a product (~1e-9) instead of 0: comparing a
    response with itself would then leak noise into the estimate (MODEL.md §8).
    """
    return jnp.where(i == j, jnp.zeros_like(z[i]), z[i] - z[j])


def _bernoulli_terms(theta: Array, g: Array, obs: Array) -> tuple[Array, Array, Array]:
    """Logistic log-likelihood of o ~ Bernoulli(sigmoid(theta . g)) in rank-one form (g, a, h):
    gradient (o - p) g, negative Hessian p (1 - p) g g^T.

    The margin is clipped to |m| <= 30 so that sigmoid' never underflows to an exactly singular
    curvature in float32; the gradient uses the same clipped margin.
    """
    p = jax.nn.sigmoid(jnp.clip(theta @ g, -30.0, 30.0))
    return g, obs - p, p * (1.0 - p)


def _from_rank_one(rank_one: Callable) -> Callable:
    """``newton_terms`` from a ``rank_one`` form: (a g, sqrt(h) g as one factor row)."""

    def newton_terms(theta, z, action, reference, obs):
        g, a, h = rank_one(theta, z, action, reference, obs)
        return a * g, (jnp.sqrt(h) * g)[None, :]

    return newton_terms


def scalar(noise_std: float = 1.0) -> FeedbackModel:
    """`scalar`: the learner picks y and observes r(y) + N(0, noise_std^2).

    Its likelihood is Gaussian: grad = g (o - theta.g) / s^2, negative Hessian g g^T / s^2, with
    g = z[y].
    """
    s = float(noise_std)
    if not s > 0:
        raise ValueError(f"scalar feedback: noise_std must be > 0, got {noise_std!r}")

    def sample(key, r, action, reference):
        return r[action[0]] + s * jax.random.normal(key, (), jnp.float32).astype(r.dtype)

    def regret(r, action):
        return _max_regret(r, action[0])

    def rank_one(theta, z, action, reference, obs):
        g = z[action[0]]
        return g, (obs - theta @ g) / s**2, jnp.asarray(1.0 / s**2, g.dtype)

    return FeedbackModel("scalar", 1, sample, regret, _from_rank_one(rank_one), rank_one)


def bt_ref() -> FeedbackModel:
    """`bt_ref`: the learner picks y; o ~ Bernoulli(sigmoid(r(y) - r(y0))), y0 the reference.

    Playing the reference itself gives g = 0, i.e. no information (MODEL.md §8).
    """

    def sample(key, r, action, reference):
        p = jax.nn.sigmoid(r[action[0]] - r[reference])
        return (jax.random.uniform(key, (), jnp.float32) < p).astype(r.dtype)

    def regret(r, action):
        return _max_regret(r, action[0])

    def rank_one(theta, z, action, reference, obs):
        return _bernoulli_terms(theta, _difference(z, action[0], reference), obs)

    return FeedbackModel("bt_ref", 1, sample, regret, _from_rank_one(rank_one), rank_one)


DUEL_REGRETS = ("average", "weak", "strong", "first")


def _duel_regret(kind: str):
    """Per-round regret of a duel (y, y') = action[:2] under a named definition (MODEL.md §2):

    average: r* - (r(y) + r(y')) / 2   (the default: both shown responses are paid for)
    weak:    r* - max(r(y), r(y'))     (only the better of the two counts)
    strong:  r* - min(r(y), r(y'))     (the worse of the two counts)
    first:   r* - r(y)                 (only the served response counts: the second response is
                                        then a free exploration channel, MODEL.md §2's caution)
    """
    pair = {"average": lambda a, b: 0.5 * (a + b), "weak": jnp.maximum, "strong": jnp.minimum,
            "first": lambda a, b: a}
    if kind not in pair:
        raise ValueError(f"bt_duel: unknown regret {kind!r}; known: {DUEL_REGRETS}")
    return lambda r, action: jnp.max(r) - pair[kind](r[action[0]], r[action[1]])


def bt_duel(regret: str = "average") -> FeedbackModel:
    """`bt_duel`: the learner picks (y, y'); o ~ Bernoulli(sigmoid(r(y) - r(y'))).

    Regret is by default the average regret r* - (r(y) + r(y')) / 2, so a second response chosen
    to explore is paid for; ``regret`` picks another definition (see ``_duel_regret``). Both
    choices are the learner's and explicit in its action [2]; the second-response policies are in
    learners/duel.py.
    """
    regret = _duel_regret(regret)

    def sample(key, r, action, reference):
        p = jax.nn.sigmoid(r[action[0]] - r[action[1]])
        return (jax.random.uniform(key, (), jnp.float32) < p).astype(r.dtype)

    def rank_one(theta, z, action, reference, obs):
        return _bernoulli_terms(theta, _difference(z, action[0], action[1]), obs)

    return FeedbackModel("bt_duel", 2, sample, regret, _from_rank_one(rank_one), rank_one)


def mnl(slate_size: int = 3) -> FeedbackModel:
    """`mnl` (K-wise): the learner shows a ranked slate of ``slate_size`` distinct responses (its
    action [S]; the first is the one served); the user picks item j of the slate with probability
    softmax(r(slate))_j (Plackett-Luce top-1). obs: int32 index of the chosen item *within the
    slate*. Regret r* - r(slate[0]).

    Likelihood terms with Z = z[slate] [S, p], p = softmax(Z theta), zbar = p Z:
    grad = Z[obs] - zbar; Hessian factors sqrt(p_j) (Z_j - zbar), one row per slate item.
    """
    S = int(slate_size)
    if S < 2:
        raise ValueError(f"mnl feedback: slate_size must be >= 2, got {slate_size!r}")

    def sample(key, r, action, reference):
        return jax.random.categorical(key, r[action].astype(jnp.float32)).astype(jnp.int32)

    def regret(r, action):
        return _max_regret(r, action[0])

    def newton_terms(theta, z, action, reference, obs):
        zs = z[action]
        p = jax.nn.softmax(zs @ theta)
        zbar = p @ zs
        return zs[obs] - zbar, jnp.sqrt(p)[:, None] * (zs - zbar)

    return FeedbackModel("mnl", S, sample, regret, newton_terms)


FEEDBACK_MODELS: dict[str, Callable[..., FeedbackModel]] = {
    "scalar": scalar, "bt_ref": bt_ref, "bt_duel": bt_duel, "mnl": mnl}


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
