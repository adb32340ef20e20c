"""The compiled runner: ``lax.scan`` over rounds of a round ``vmap``-ped over seeds (and instances,
and hyperparameters), jitted once, recording cumulative regret only at checkpoints. (The same
numbers as ``vmap`` over seeds of a per-seed ``scan``, ``advance``; the loop outside keeps the
round index a scalar.)

Randomness: seed s of a run uses key_s = fold_in(key, s); round t uses fold_in(key_s, t), split into
a context key, a learner key and a feedback key. Two learners run with the same key therefore meet
the same users, prompts and feedback noise (common random numbers), seed s is the same whatever
n_seeds is, and running the horizon in chunks gives the same numbers as one scan.

Memory: the scan carry holds the learner state, a compensated (Kahan) regret sum, a mistake count
and the [C] curve buffers, so memory does not grow with the horizon T.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.env import Context, context_rewards, draw_context
from jaxpa.envs.instance import Instance, InstanceError, validate, validate_horizon
from jaxpa.learners.base import Learner

Array = jax.Array


@struct.dataclass
class Record:
    """One round as logged by ``rollout`` (a leading [T] axis there)."""

    context: Context
    action: Array
    obs: Any
    regret: Array


@struct.dataclass
class Curves:
    """Curves at checkpoints. Leading axes of regret/mistakes: [*instances, *hparams, seeds].

    checkpoints: [C] int32 rounds t (1-based) at which the curves are read.
    regret:   [..., C] float32 cumulative pseudo-regret R_t.
    mistakes: [..., C] int32 number of rounds s <= t with positive regret.
    """

    checkpoints: Array
    regret: Array
    mistakes: Array


@struct.dataclass
class Carry:
    state: Any
    t: Array
    regret_sum: Array
    regret_comp: Array
    mistakes: Array
    curve_regret: Array
    curve_mistakes: Array


def log_checkpoints(horizon: int, n: int = 50) -> np.ndarray:
    """About n log-spaced rounds in [1, horizon], unique, always including horizon // 2 (for the
    second-half plateau statistics) and the horizon itself: [C] int32."""
    pts = np.round(np.logspace(0, np.log10(horizon), n)).astype(np.int64)
    pts = np.append(pts, [max(horizon // 2, 1), horizon])
    return np.unique(pts[(pts >= 1) & (pts <= horizon)]).astype(np.int32)


def play_round(learner: Learner, inst: Instance, hparams, key: Array, state, t: Array):
    """One round of the online protocol: (new learner state, Record)."""
    round_key = jax.random.fold_in(key, t)
    k_ctx, k_act, k_fb = jax.random.split(round_key, 3)
    ctx = draw_context(k_ctx, inst, t)
    action = learner.act(k_act, state, ctx, hparams)
    r = context_rewards(inst, ctx)
    obs = learner.feedback.sample(k_fb, r, action, ctx.reference)
    regret = learner.feedback.regret(r, action)
    state = learner.update(state, ctx, action, obs, hparams)
    return state, Record(context=ctx, action=action, obs=obs, regret=regret)


def rollout(learner: Learner, key: Array, inst: Instance, hparams, horizon: int):
    """One seed, every round logged: (final state, Record with leading [horizon]). Memory O(T);
    for offline datasets, estimator checks and small experiments."""

    def body(state, t):
        return play_round(learner, inst, hparams, key, state, t)

    return jax.lax.scan(body, learner.init(inst, hparams), jnp.arange(horizon, dtype=jnp.int32))


def init_carry(learner: Learner, inst: Instance, hparams, n_checkpoints: int) -> Carry:
    dtype = inst.features.dtype
    return Carry(state=learner.init(inst, hparams), t=jnp.int32(0), regret_sum=jnp.zeros((), dtype),
                 regret_comp=jnp.zeros((), dtype), mistakes=jnp.int32(0),
                 curve_regret=jnp.zeros((n_checkpoints,), dtype),
                 curve_mistakes=jnp.zeros((n_checkpoints,), jnp.int32))


def _kahan(c: Carry, regret: Array) -> tuple[Array, Array]:
    """Compensated running sum (keeps R_t accurate over 1e6+ rounds): (total, compensation)."""
    y = regret - c.regret_comp
    total = c.regret_sum + y
    return total, (total - c.regret_sum) - y


def advance(learner: Learner, key: Array, inst: Instance, hparams, carry: Carry,
            checkpoints: Array, n_rounds: int) -> Carry:
    """Play rounds carry.t .. carry.t + n_rounds - 1 for one seed, writing curves at checkpoints."""

    def body(c: Carry, _):
        state, rec = play_round(learner, inst, hparams, key, c.state, c.t)
        total, comp = _kahan(c, rec.regret)
        mistakes = c.mistakes + (rec.regret > 0).astype(jnp.int32)
        hit = checkpoints == c.t + 1
        return Carry(state=state, t=c.t + 1, regret_sum=total, regret_comp=comp, mistakes=mistakes,
                     curve_regret=jnp.where(hit, total, c.curve_regret),
                     curve_mistakes=jnp.where(hit, mistakes, c.curve_mistakes)), None

    return jax.lax.scan(body, carry, None, length=n_rounds)[0]


def advance_batched(learner: Learner, seed_keys: Array, inst: Instance, hparams, carry: Carry,
                    checkpoints: Array, n_rounds: int, inst_batched: bool = False,
                    hp_batched: bool = False) -> Carry:
    """``advance`` for a batch of runs, with the loop outside the batch: scan(vmap(round)).

    The same rounds as vmap(scan(advance)), but the round index carry.t is one scalar for the
    batch, so what depends only on t stays unbatched: the curves are written under a real
    ``lax.cond`` at checkpoint rounds only, and a learner's ``lax.cond`` on t (warm starts) runs
    one branch. carry: leading axes [*instances, *hparams, seeds] on every leaf but t.
    """

    def body(c: Carry, _):
        one = lambda k, i, h, s: play_round(learner, i, h, k, s, c.t)
        state, rec = _batched(one, inst_batched, hp_batched, True)(seed_keys, inst, hparams,
                                                                   c.state)
        total, comp = _kahan(c, rec.regret)
        mistakes = c.mistakes + (rec.regret > 0).astype(jnp.int32)
        hit = checkpoints == c.t + 1
        curves = jax.lax.cond(
            jnp.any(hit),
            lambda: (jnp.where(hit, total[..., None], c.curve_regret),
                     jnp.where(hit, mistakes[..., None], c.curve_mistakes)),
            lambda: (c.curve_regret, c.curve_mistakes))
        return Carry(state, c.t + 1, total, comp, mistakes, *curves), None

    return jax.lax.scan(body, carry, None, length=n_rounds)[0]


def _batched(fn: Callable, inst_batched: bool, hp_batched: bool, with_carry: bool) -> Callable:
    """vmap fn(seed_key, inst, hparams[, carry]) over seeds, then hparams, then instances: outputs
    (and the carry) have leading axes [*instances, *hparams, seeds]."""
    c = (0,) if with_carry else ()
    fn = jax.vmap(fn, in_axes=(0, None, None) + c)
    if hp_batched:
        fn = jax.vmap(fn, in_axes=(None, None, 0) + c)
    if inst_batched:
        fn = jax.vmap(fn, in_axes=(None, 0, None) + c)
    return fn


def _program(learner, n_rounds, n_checkpoints, inst_batched, hp_batched, seed_keys, inst, hparams,
             checkpoints, carry):
    """The whole compiled run, or one chunk of it: carry=None starts from round 0. The returned
    carry has leading axes [*instances, *hparams, seeds] on every leaf but the scalar round t."""
    if carry is None:
        start = lambda k, i, h: init_carry(learner, i, h, n_checkpoints)
        carry = _batched(start, inst_batched, hp_batched, False)(seed_keys, inst, hparams)
        carry = carry.replace(t=jnp.int32(0))
    return advance_batched(learner, seed_keys, inst, hparams, carry, checkpoints, n_rounds,
                           inst_batched, hp_batched)


compiled_program = jax.jit(_program, static_argnums=(0, 1, 2, 3, 4))


def seed_keys(key: Array, n_seeds: int) -> Array:
    """[n_seeds] keys, seed s = fold_in(key, s)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(n_seeds))


def prepare_hparams(learner: Learner, hparams) -> tuple[Any, bool]:
    """Check hyperparameters against the learner's defaults; a leading axis on any leaf means a
    sweep (scalar leaves are broadcast). Returns (hparams as arrays, is_sweep)."""
    default = learner.default_hparams()
    if hparams is None:
        return default, False
    if jax.tree.structure(hparams) != jax.tree.structure(default):
        raise InstanceError(f"hparams for {learner.name}: expected the structure of "
                            f"{type(default).__name__} {jax.tree.structure(default)}, got "
                            f"{jax.tree.structure(hparams)}")
    leaves = [np.asarray(x) for x in jax.tree.leaves(hparams)]
    for x in leaves:
        if x.ndim > 1 or (np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x))):
            raise InstanceError(f"hparams for {learner.name}: leaves must be finite scalars or 1-D "
                                f"sweeps, got {x!r}")
    sizes = {x.shape[0] for x in leaves if x.ndim == 1}
    if len(sizes) > 1:
        raise InstanceError(f"hparams for {learner.name}: sweep lengths differ: {sorted(sizes)}")
    n = sizes.pop() if sizes else None
    cast = jax.tree.map(lambda x, d: jnp.broadcast_to(jnp.asarray(x, jnp.asarray(d).dtype),
                                                      (n,) if n else ()), hparams, default)
    return cast, n is not None


def check_run(learner: Learner, instance: Instance, hparams, horizon, n_seeds, chunk=None):
    """Validate a run's arguments before anything compiles: (horizon, hparams as arrays,
    hp_batched, inst_batched)."""
    if not isinstance(learner, Learner):
        raise InstanceError(f"learner: expected a jaxpa Learner, got {type(learner).__name__}")
    horizon = validate_horizon(horizon)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise InstanceError(f"n_seeds: expected a positive integer, got {n_seeds!r}")
    if chunk is not None:
        validate_horizon(chunk)
    validate(instance)
    hparams, hp_batched = prepare_hparams(learner, hparams)
    return horizon, hparams, hp_batched, len(instance.batch_shape) == 1


def run_program(learner: Learner, keys: Array, instance: Instance, hparams, checkpoints: Array,
                horizon: int, inst_batched: bool, hp_batched: bool, chunk: int | None = None,
                on_chunk: Callable[[int, Curves], None] | None = None,
                view: Callable[[Curves], Curves] = lambda c: c) -> Curves:
    """Run ``compiled_program`` over the horizon (in chunks if asked): Curves of the final carry.
    ``view`` maps the curves before they are returned or passed to ``on_chunk`` (sharded runs
    drop their padding there)."""
    static = (checkpoints.shape[0], inst_batched, hp_batched)
    chunked = chunk is not None and chunk < horizon
    carry, done = None, 0
    while done < horizon:
        n = min(chunk, horizon - done) if chunked else horizon
        carry = compiled_program(learner, n, *static, keys, instance, hparams, checkpoints, carry)
        done += n
        if chunked and on_chunk is not None:
            on_chunk(done, view(Curves(checkpoints, carry.curve_regret, carry.curve_mistakes)))
    return view(Curves(checkpoints, carry.curve_regret, carry.curve_mistakes))


def simulate(key: Array, instance: Instance, learner: Learner, hparams=None, *, horizon: int,
             n_seeds: int = 1, n_checkpoints: int = 50, chunk: int | None = None,
             on_chunk: Callable[[int, Curves], None] | None = None) -> Curves:
    """Run ``learner`` on ``instance`` (or a batch of instances) for ``n_seeds`` seeds.

    key: a jax.random.key; instance: an Instance, or a batch with a leading [B] axis on every leaf;
    hparams: the learner's hyperparameters (default: learner.default_hparams()), leaves scalars or
    [H] arrays for a sweep. Returns Curves with regret/mistakes of shape [*B, *H, n_seeds, C].

    With ``chunk``, the horizon is played in chunks of that many rounds (the same numbers);
    ``on_chunk(t, curves)`` is called after each, with the curves filled up to round t, so long runs
    can report progress and save partial results. Across devices: ``runner.sharding``.
    """
    horizon, hparams, hp_batched, inst_batched = check_run(learner, instance, hparams, horizon,
                                                           n_seeds, chunk)
    ckpts = jnp.asarray(log_checkpoints(horizon, n_checkpoints))
    return run_program(learner, seed_keys(key, n_seeds), instance, hparams, ckpts, horizon,
                       inst_batched, hp_batched, chunk, on_chunk)
