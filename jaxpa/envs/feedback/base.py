"""The feedback model: the environment's component that says how a user answers, what a round
costs, what a learner may show, and what an answer teaches (MODEL.md §2). It is the one home of
everything that depends on the feedback: a learner, the diagnostics and the offline protocol ask
the model and never test its name.

A model is a frozen dataclass (hashable, so it is a static argument of compiled programs); its
options (noise level, the duel's second-response rule, the slate size) are its fields. Every
method works on one round of one context and is pure; callers vmap.

Shapes: r [K] true rewards of the round's K candidates; z [K, p] a learner's design rows of the
K candidates (``r[:, None]`` is a design too: p = 1, theta = 1); action [A] int32 (A =
``n_actions``); reference a scalar int32 index y0(x); theta [p].

``SingleIndexFeedback`` is the common case (scalar, bt_ref, bt_duel): the answer depends on the
parameter through one margin m = theta . g, where the *row* g = direction(z, action, reference)
is linear in the rows of z. Its subclasses state the row and the one-dimensional likelihood of m;
the rest (sampling, Newton terms, optimal-play information, the offline rows) follows here.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp

from jaxpa.envs.draws import random_argmax, uniform_index

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class FeedbackModel:
    """The feedback-model contract (module docstring), documented method by method with Args and
    Returns, and the base class of its implementations: a subclass sets ``name`` and implements
    the methods that raise ``NotImplementedError`` here (``sample``, ``newton_terms``,
    ``optimal_play`` ...), inheriting the rest."""

    name: ClassVar[str] = "feedback"

    # ----- description -------------------------------------------------------------------------
    @property
    def n_actions(self) -> int:
        """A: how many responses a learner shows per round."""
        return 1

    @property
    def label(self) -> str:
        """The name with the options that differ from the defaults, e.g. ``bt_duel[second=
        reference]``: what reports print."""
        changed = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != f.default]
        return f"{self.name}[{','.join(changed)}]" if changed else self.name

    def check(self, n_responses: int) -> None:
        """Reject, before anything compiles, an instance with K = n_responses candidates that
        this model cannot serve (raise ValueError naming the option)."""

    # ----- the environment side ------------------------------------------------------------------
    def sample(self, key: Array, r: Array, action: Array, reference: Array):
        """The user's answer to ``action``.

        Args:
          key: a PRNG key of the round's feedback stream.
          r: [K] true rewards of the candidates for this user and prompt.
          action: int32 [A], what the learner showed.
          reference: int32 scalar, y0(x).

        Returns:
          A scalar: a float (scalar feedback) or an int32 index (which response was chosen).
        """
        raise NotImplementedError

    def regret(self, r: Array, action: Array) -> Array:
        """Pseudo-regret of the action (expected rewards).

        Args:
          r: [K] true rewards; action: int32 [A].

        Returns:
          A float scalar, r* - r(served response) >= 0.
        """
        return jnp.max(r) - r[action[0]]

    def extra_regrets(self, r: Array, action: Array) -> dict[str, Array]:
        """Other regret definitions reported side by side (name -> scalar); none by default."""
        return {}

    # ----- the action space ----------------------------------------------------------------------
    def uniform_action(self, key: Array, n_responses: int, reference: Array | None = None) -> Array:
        """An exploration action [A] int32: independent uniform responses (``reference`` y0(x):
        for a model whose action space fixes a response to it, e.g. bt_duel[second=reference])."""
        return uniform_index(key, n_responses, (self.n_actions,))

    @property
    def wants_challenger(self) -> bool:
        """Whether ``choose`` uses a learner's own challenger scores (a bt_duel second response
        picked by the learner's rule); learners skip computing them otherwise."""
        return False

    def choose(self, key: Array, scores: Array, reference: Array,
               challenger: Callable[[Array], Array] | None = None) -> Array:
        """Turn a learner's scores into an action: the served response is the argmax (ties at
        random).

        Args:
          key: a PRNG key (ties, the model's own randomness).
          scores: [K] the learner's scores of the candidates.
          reference: int32 scalar, y0(x).
          challenger: ``challenger(first) -> [K]``, the learner's own scores for a second
            response, used where the model asks for one (``wants_challenger``).

        Returns:
          action: int32 [A].
        """
        return random_argmax(key, scores)[None]

    def oracle_action(self, key: Array, r: Array, reference: Array) -> Array:
        """What a learner that knows the rewards plays: ``choose`` on the true rewards, which are
        also its own challenger scores (so a duel ends as (y*, y*))."""
        return self.choose(key, r, reference, lambda first: r)

    def anchor(self, z: Array, reference: Array) -> Array:
        """The design row a response is compared with, [p]: what an optimistic bonus is measured
        from (z(y0) unless the answer is absolute)."""
        return z[reference]

    # ----- what an answer teaches ----------------------------------------------------------------
    def newton_terms(self, theta: Array, z: Array, action: Array, reference: Array, obs):
        """The round's log-likelihood around theta (learners/glm.py takes one Newton step).

        Args:
          theta: [p] parameter; z: [K, p] design rows of the candidates; action: int32 [A];
          reference: int32 scalar; obs: the answer (``sample``'s output).

        Returns:
          (gradient [p] of the log-likelihood at theta, factors F [R, p] with F^T F its negative
          Hessian).
        """
        raise NotImplementedError

    @property
    def has_rank_one(self) -> bool:
        """Whether ``rank_one`` exists (the likelihood depends on theta through one row)."""
        return False

    def rank_one(self, theta, z, action, reference, obs):
        """(g [p], a, h): gradient a g, negative Hessian h g g^T (single-index models only)."""
        raise NotImplementedError(f"{self.name}: no rank-one likelihood")

    def optimal_play(self, z: Array, r: Array, reference: Array):
        """What a greedy learner observes at its fixed point (it plays y*) in one context:
        (F [R, p] weighted Hessian factors, G [R, p] their directions without the positive
        weights, kappa the smallest curvature weight among informative rows). Sigma* sums
        F^T F over contexts (MODEL.md §5)."""
        raise NotImplementedError

    @property
    def has_lock_play(self) -> bool:
        """Whether ``lock_play`` exists (the diagnostics' unlock_time needs it; NaN otherwise)."""
        return False

    def lock_play(self, z: Array, r: Array, reference: Array):
        """What greedy observes in one context when it stays locked on one response y' instead
        of y*: (G [K, p] the row of a round that plays y', w [K] its curvature weight, lockable
        [K] bool: the y' != y* that greedy can keep playing while its own answers about y' agree
        with the lock). Used by ``diagnostics.lock.lock_constants``."""
        raise NotImplementedError(f"{self.name}: no lock_play")

    # ----- the offline protocol (single-index models) --------------------------------------------
    @property
    def offline(self) -> bool:
        """Whether logs of this model reduce to (row, observation) pairs for the offline MLE."""
        return False

    def require_offline(self) -> None:
        if not self.offline:
            raise ValueError(f"offline: feedback {self.label!r} has no single-index row form "
                             "(its answer depends on several margins); the offline MLE needs one")


@dataclasses.dataclass(frozen=True)
class SingleIndexFeedback(FeedbackModel):
    """An answer that depends on theta through one margin m = theta . g (module docstring).

    Subclasses implement ``direction`` (the row g, linear in the rows of z), the law of the
    answer given m (``sample_index``, ``mean``), its log-likelihood terms (``index_terms``: the
    gradient a and curvature h of log p(o | m) in m; ``nll``: -log p(o | m) up to a constant,
    for the offline MLE), the expected curvature ``fisher(m)``, and ``fixed_point_actions``.
    """

    def direction(self, z: Array, action: Array, reference: Array) -> Array:
        raise NotImplementedError

    def sample_index(self, key: Array, m: Array):
        """Answers drawn independently for every entry of the margins m (any shape; float32
        random draws whatever m's dtype)."""
        raise NotImplementedError

    def index_terms(self, obs, m: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    def nll(self, obs, m: Array) -> Array:
        raise NotImplementedError

    def headroom(self, obs, m: Array) -> Array:
        """sup_m' log p(obs | m') - log p(obs | m) >= 0: the most log-likelihood the answer can
        still give above its value at the margin m, taken where ``index_terms`` evaluates its
        terms (a learner caps a datum's quadratic with it). Default ``nll(obs, m)``, right for a
        model whose nll has infimum 0 over m (Gaussian, Bernoulli); override otherwise."""
        return self.nll(obs, m)

    def mean(self, m: Array) -> Array:
        raise NotImplementedError

    def fisher(self, m: Array) -> Array:
        raise NotImplementedError

    def fixed_point_actions(self, r: Array, reference: Array) -> tuple[Array, Array]:
        """The actions greedy plays at its fixed point in one context, with their probabilities:
        ([R, A] int32, [R]). Default: y* alone (ties to the lower index)."""
        return jnp.argmax(r).astype(jnp.int32)[None, None], jnp.ones((1,), r.dtype)

    # derived ------------------------------------------------------------------------------------
    def margin(self, r: Array, action: Array, reference: Array) -> Array:
        """The true margin of an action: the row applied to the rewards (scalar)."""
        return self.direction(r[:, None], action, reference)[0]

    def sample(self, key, r, action, reference):
        return self.sample_index(key, self.margin(r, action, reference))

    @property
    def has_rank_one(self) -> bool:
        return True

    def rank_one(self, theta, z, action, reference, obs):
        g = self.direction(z, action, reference)
        a, h = self.index_terms(obs, theta @ g)
        return g, a, h

    def newton_terms(self, theta, z, action, reference, obs):
        g, a, h = self.rank_one(theta, z, action, reference, obs)
        return a * g, (jnp.sqrt(h) * g)[None, :]

    def optimal_play(self, z, r, reference):
        actions, probs = self.fixed_point_actions(r, reference)
        g = jax.vmap(lambda a: self.direction(z, a, reference))(actions)
        w = jax.vmap(lambda a: self.fisher(self.margin(r, a, reference)))(actions).astype(z.dtype)
        live = probs > 0
        F = jnp.sqrt(probs * w)[:, None] * g
        G = jnp.where(live[:, None], g, 0.0)
        informative = live & (jnp.sum(jnp.square(g), -1) > 0)
        kappa = jnp.where(informative.any(), jnp.min(jnp.where(informative, w, jnp.inf)),
                          jnp.min(jnp.where(live, w, jnp.inf)))
        return F, G, kappa

    # offline ------------------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return True

    def all_actions(self, n_responses: int) -> Array:
        """Every action of the action space, [J, A] int32 (J = K^A), in ``action_index`` order."""
        grids = jnp.meshgrid(*[jnp.arange(n_responses, dtype=jnp.int32)] * self.n_actions,
                             indexing="ij")
        return jnp.stack([g.reshape(-1) for g in grids], axis=-1)

    def action_index(self, action: Array, n_responses: int) -> Array:
        """Position of ``action`` [..., A] in ``all_actions``: [...] int32."""
        powers = n_responses ** jnp.arange(self.n_actions - 1, -1, -1, dtype=jnp.int32)
        return jnp.sum(action * powers, axis=-1).astype(jnp.int32)

    def rows(self, z: Array, reference: Array) -> Array:
        """The row of every action in one context: [J, p]."""
        return jax.vmap(lambda a: self.direction(z, a, reference))(self.all_actions(z.shape[0]))

    def row_means(self, r: Array, reference: Array) -> Array:
        """E[observation | action] for every action in one context: [J]."""
        acts = self.all_actions(r.shape[0])
        return jax.vmap(lambda a: self.mean(self.margin(r, a, reference)))(acts)

    def uniform_action_probs(self, n_responses: int, dtype=jnp.float32,
                             reference: Array | None = None) -> Array:
        """The law of ``uniform_action`` over ``all_actions``: [J] (independent uniforms)."""
        J = n_responses ** self.n_actions
        return jnp.full((J,), 1.0 / J, dtype)

    def oracle_action_probs(self, r: Array, reference: Array) -> Array:
        """The law of ``oracle_action`` over ``all_actions``: [J] (deterministic by default:
        true rewards tie with probability 0)."""
        action = self.oracle_action(jax.random.key(0), r, reference)
        J = r.shape[0] ** self.n_actions
        return jax.nn.one_hot(self.action_index(action, r.shape[0]), J, dtype=r.dtype)

    def oracle_informative(self) -> bool:
        """Whether a log of the oracle teaches anything (False when it compares y* with
        itself)."""
        return True
