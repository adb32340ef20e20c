"""The compiled runner: a loop over rounds of a round ``vmap``-ped over seeds (and instances, and
hyperparameters), jitted once, recording cumulative regret only at checkpoints.

Arguments, in this order everywhere: ``(key, instance, feedback, learner, hparams)``: the
environment is the instance (data) with its feedback model (a component); the learner states the
feedback it assumes, and the runner checks that the two agree.

Randomness: seed s of a run uses key_s = fold_in(key, s); round t uses fold_in(key_s, t), split into
a context key, a learner key and a feedback key, and the learner's ``init`` gets
fold_in(key_s, 2^31 - 1). Two learners run with the same key therefore meet the same users, prompts
and feedback noise (common random numbers), seed s is the same whatever n_seeds is, and running the
horizon in chunks gives the same numbers as one loop.

Several learners can run in one compiled program (``run_programs``; each keeps its own loop, so
its curves are those of its own run): an experiment runs a population's learners that way, at
about half the compile time. Compiled programs are shared: the number of rounds, the horizon and the checkpoints are arguments
of the program, not constants of it, and seed counts are padded up to a few sizes per octave
(``seed_bucket``; the extra seeds are dropped), so a sweep over horizons or seed counts in one
session compiles a handful of programs, not one per call.

Memory: the loop carry holds the learner state, a compensated (Kahan) regret sum, a mistake count
and the [C] curve buffers, so memory does not grow with the horizon T. The carry also holds each
seed's health: the first round after which the learner's state held a NaN or an infinity.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.env import Context, draw_context, respond
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance
from jaxpa.envs.precision import full_precision
from jaxpa.envs.threefry import as_default, as_unrolled
from jaxpa.learners.base import Learner
from jaxpa.runner.cells import CellTracker, init_cells, track
from jaxpa.runner.checks import (INIT_ROUND, MAX_CHECKPOINTS, check_run,  # noqa: F401
                                 seed_bucket)
from jaxpa.runner.curves import (Curves, continued_checkpoints, drop_padding,  # noqa: F401
                                 log_checkpoints, read_curves)
from jaxpa.runner import memory

Array = jax.Array


@struct.dataclass
class Record:
    """One round as logged by ``rollout`` (a leading [T] axis there)."""

    context: Context
    action: Array
    obs: Any
    regret: Array
    extra: dict


@struct.dataclass
class Carry:
    state: Any
    t: Array
    regret_sum: Array
    regret_comp: Array
    mistakes: Array
    curve_regret: Array
    curve_mistakes: Array
    extra_sum: dict
    extra_comp: dict
    curve_extra: dict
    nonfinite_at: Array
    cells: CellTracker | None


SMALL_LEAF = 256  # state leaves up to this many numbers a run are checked for NaN every round


def _finite(tree, max_size: int | None = None) -> Array:
    """Whether every floating leaf of a pytree (of at most max_size numbers, if given) is finite
    (bool scalar). With max_size, large leaves (V^-1 [p, p]) are skipped: reading them once more
    every round would cost as much as the round's own update."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)
              and (max_size is None or jnp.size(x) <= max_size)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else True


def play_round(key: Array, inst: Instance, feedback: FeedbackModel, learner: Learner, hparams,
               state, t: Array, horizon: Array):
    """One round of the online protocol for one seed: (new learner state, Record)."""
    round_key = jax.random.fold_in(key, t)
    k_ctx, k_act, k_fb = jax.random.split(round_key, 3)
    ctx = draw_context(k_ctx, inst, t, horizon)
    action = learner.act(k_act, state, ctx, hparams)
    obs, regret, extra = respond(k_fb, inst, feedback, ctx, action)
    state = learner.update(state, ctx, action, obs, hparams)
    return state, Record(context=ctx, action=action, obs=obs, regret=regret, extra=extra)


def init_state(key: Array, inst: Instance, learner: Learner, hparams):
    """The learner's initial state for seed key ``key`` (its init key is fold_in(key, 2^31-1))."""
    return learner.init(jax.random.fold_in(key, INIT_ROUND), inst, hparams)


@full_precision
def rollout(key: Array, instance: Instance, feedback, learner: Learner, hparams, horizon: int):
    """One seed, every round logged: (final state, Record with leading [horizon]). Memory O(T);
    for offline datasets, estimator checks and small experiments. Traceable (no checks: call
    ``check_run`` first when the arguments come from a user); products at full float32
    precision (envs/precision.py); Threefry keys drawn unrolled (``_programs``)."""
    feedback = make_feedback(feedback)
    key = as_unrolled(key)

    def body(state, t):
        return play_round(key, instance, feedback, learner, hparams, state, t, horizon)

    return as_default(jax.lax.scan(body, init_state(key, instance, learner, hparams),
                                   jnp.arange(horizon, dtype=jnp.int32)))


def _zeros_like_extra(feedback: FeedbackModel, K: int, dtype) -> dict:
    names = feedback.extra_regrets(jnp.zeros((K,), dtype), jnp.zeros((feedback.n_actions,),
                                                                      jnp.int32))
    return {name: jnp.zeros((), dtype) for name in names}


def init_carry(key, inst: Instance, feedback: FeedbackModel, learner: Learner, hparams,
               n_checkpoints: int, track_cells: bool) -> Carry:
    dtype = inst.features.dtype
    extra = _zeros_like_extra(feedback, inst.n_responses, dtype)
    curve = jnp.zeros((n_checkpoints,), dtype)
    return Carry(state=init_state(key, inst, learner, hparams), t=jnp.int32(0),
                 regret_sum=jnp.zeros((), dtype), regret_comp=jnp.zeros((), dtype),
                 mistakes=jnp.int32(0), curve_regret=curve,
                 curve_mistakes=jnp.zeros((n_checkpoints,), jnp.int32),
                 extra_sum=extra, extra_comp=extra, curve_extra={n: curve for n in extra},
                 nonfinite_at=jnp.int32(0),
                 cells=init_cells(inst) if track_cells else None)


def _kahan(total: Array, comp: Array, value: Array) -> tuple[Array, Array]:
    """Compensated running sum (keeps R_t accurate over 1e6+ rounds): (total, compensation)."""
    y = value - comp
    new = total + y
    return new, (new - total) - y


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


def advance_batched(seed_keys: Array, inst: Instance, feedback: FeedbackModel, learner: Learner,
                    hparams, carry: Carry, checkpoints: Array, n_rounds: Array, horizon: Array,
                    inst_batched: bool = False, hp_batched: bool = False) -> Carry:
    """Play rounds carry.t .. carry.t + n_rounds - 1 for a batch of runs, the loop outside the
    batch: loop(vmap(round)). The round index carry.t is one scalar for the batch, so what
    depends only on t stays unbatched: the curves are written under a real ``lax.cond`` at
    checkpoint rounds only, and a learner's ``lax.cond`` on t (a warm start) runs one branch.
    carry: leading axes [*instances, *hparams, seeds] on every leaf but t."""
    half = horizon // 2

    def body(_, c: Carry):
        def one(key, inst_, hp, per_seed):
            state, nonfinite_at, cells = per_seed
            state, rec = play_round(key, inst_, feedback, learner, hp, state, c.t, horizon)
            bad = (nonfinite_at == 0) & ~_finite(state, SMALL_LEAF)
            nonfinite_at = jnp.where(bad, c.t + 1, nonfinite_at)
            cells = None if cells is None else track(cells, rec, c.t >= half)
            return state, rec, nonfinite_at, cells

        state, rec, nonfinite_at, cells = _batched(one, inst_batched, hp_batched, True)(
            seed_keys, inst, hparams, (c.state, c.nonfinite_at, c.cells))
        total, comp = _kahan(c.regret_sum, c.regret_comp, rec.regret)
        sums = {n: _kahan(c.extra_sum[n], c.extra_comp[n], rec.extra[n]) for n in rec.extra}
        mistakes = c.mistakes + (rec.regret > 0).astype(jnp.int32)
        hit = checkpoints == c.t + 1
        write = lambda new, old: jnp.where(hit, new[..., None], old)
        # A compensated sum can step back by an ulp in a round of zero regret (the stored
        # correction lands then); regrets are >= 0, so a curve keeps its running maximum:
        # non-decreasing, and within the sum's rounding error of the exact R_t.
        rise = lambda new, old: write(jnp.maximum(new, old.max(-1)), old)
        curves = jax.lax.cond(
            jnp.any(hit),
            lambda: (rise(total, c.curve_regret), write(mistakes, c.curve_mistakes),
                     {n: rise(sums[n][0], c.curve_extra[n]) for n in sums}),
            lambda: (c.curve_regret, c.curve_mistakes, c.curve_extra))
        return Carry(state, c.t + 1, total, comp, mistakes, curves[0], curves[1],
                     {n: s[0] for n, s in sums.items()}, {n: s[1] for n, s in sums.items()},
                     curves[2], nonfinite_at, cells)

    carry = jax.lax.fori_loop(0, n_rounds, body, carry)
    # every leaf, large ones included, once at the end of the run or chunk
    full = _batched(lambda k, i, h, per_seed: _finite(per_seed), inst_batched, hp_batched, True)(
        seed_keys, inst, hparams, carry.state)
    return carry.replace(nonfinite_at=jnp.where((carry.nonfinite_at == 0) & ~full, carry.t,
                                                carry.nonfinite_at))


def _program(feedback, learner, n_checkpoints, inst_batched, hp_batched, track_cells, seed_keys,
             inst, hparams, checkpoints, n_rounds, horizon, carry):
    """One learner's whole run, or one chunk of it: carry=None starts from round 0."""
    if carry is None:
        start = lambda k, i, h: init_carry(k, i, feedback, learner, h, n_checkpoints, track_cells)
        carry = _batched(start, inst_batched, hp_batched, False)(seed_keys, inst, hparams)
        carry = carry.replace(t=jnp.int32(0))
    return advance_batched(seed_keys, inst, feedback, learner, hparams, carry, checkpoints,
                           n_rounds, horizon, inst_batched, hp_batched)


def _programs(feedback, learners, n_checkpoints, inst_batched, hp_batched, track_cells, seed_keys,
              inst, hparams, checkpoints, n_rounds, horizon, carries):
    """The compiled program: several learners (a tuple, with their hparams, hp_batched and
    carries) each in its own loop over the same seeds, instances and rounds. One program for a
    population's learners costs about half the compile time of one program per learner (the
    environment, the curves and the loop are compiled once; measured: greedy, UCB, eps_t, uniform
    and oracle, 5.7 s against 10.3 s), and the learners meet the same random stream either way.

    The keys (JAX's default Threefry) are re-wrapped as ``envs.threefry.THREEFRY`` keys for the
    program and back for its outputs: the same data and the same bits, the hash unrolled on
    the CPU (JAX's CPU lowering is a rolled loop: 1.7x slower for the whole run, benchmarks/
    key_impls.py), no global state."""
    carries = (None,) * len(learners) if carries is None else carries
    seed_keys, carries = as_unrolled((seed_keys, carries))
    return as_default(tuple(
        _program(feedback, learner, n_checkpoints, inst_batched, hb, track_cells, seed_keys, inst,
                 hp, checkpoints, n_rounds, horizon, carry)
        for learner, hb, hp, carry in zip(learners, hp_batched, hparams, carries)))


# traced with full-precision float32 products (envs/precision.py: GPUs default to TF32)
compiled_program = jax.jit(full_precision(_programs), static_argnums=(0, 1, 2, 3, 4, 5))
MAX_PROGRAMS = 64  # compiled programs kept by the runner (each holds ~10 MB and ~200 memory maps)


def _bound_cache() -> None:
    """Drop the runner's compiled programs once more than MAX_PROGRAMS are held, so a long
    session (a notebook sweeping instance sizes) does not grow without bound; the next call
    recompiles what it needs."""
    if compiled_program._cache_size() > MAX_PROGRAMS:
        compiled_program.clear_cache()


def seed_keys(key: Array, n_seeds: int) -> Array:
    """[n_seeds] keys, seed s = fold_in(key, s)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(n_seeds))


def _fresh_cells(carry: Carry) -> Carry:
    """The carry with an empty cell tracker (a continuation's second window)."""
    c = carry.cells
    return carry.replace(cells=CellTracker(plays=jnp.zeros_like(c.plays),
                                           first=jnp.full_like(c.first, -1),
                                           mixed=jnp.zeros_like(c.mixed)))


def run_programs(feedback, learners: tuple, keys: Array, instance: Instance, hparams: tuple,
                 checkpoints: np.ndarray, horizon: int, inst_batched: bool, hp_batched: tuple,
                 chunk: int | None = None,
                 on_chunk: Callable[[int, tuple], None] | None = None,
                 views: tuple | None = None, track_cells: bool = False,
                 memory_check: memory.MemoryEstimate | None = None,
                 continue_to: int | None = None) -> tuple:
    """Run ``compiled_program`` for a tuple of learners over the horizon (in chunks if asked):
    one Curves per learner, from the final carries, repeated checkpoints dropped. ``views[i]``
    maps learner i's curves before they are returned or passed to ``on_chunk(t, curves)``
    (padded seeds are dropped there). The program draws Threefry with the hash unrolled
    (``_programs``: the same bits, through JAX's public key API). With ``memory_check`` (a run
    whose upper bound does not fit, ``runner.memory``), each program is compiled first and run
    only if its ``memory_analysis`` fits.

    continue_to: play on past the horizon T to this round, the same runs (the learners see
    ctx.horizon = continue_to from round T on, and the cell tracker, when kept, restarts at T:
    its half-horizon window becomes [continue_to / 2, continue_to]; the tracker over [T/2, T] is
    returned as ``Curves.cells_at_horizon``). The checkpoints must then reach continue_to."""
    _bound_cache()
    learners, hparams, hp_batched = tuple(learners), tuple(hparams), tuple(hp_batched)
    views = views or (lambda c: c,) * len(learners)
    static = (feedback, learners, checkpoints.shape[0], inst_batched, hp_batched, track_cells)
    ck = np.asarray(checkpoints, np.int32)  # NumPy inputs: replicated on every device and process
    unique = np.unique(checkpoints, return_index=True)[1]
    end = horizon if continue_to is None else continue_to
    step = chunk if chunk is not None and chunk < end else end
    carries, done, checked, early = None, 0, {}, (None,) * len(learners)
    for stage_end in (horizon,) if continue_to is None else (horizon, continue_to):
        while done < stage_end:
            n = min(step, stage_end - done)
            args = (keys, instance, hparams, ck, np.int32(n), np.int32(stage_end), carries)
            if memory_check is None:
                carries = compiled_program(*static, *args)
            else:  # compiled apart (first chunk, later chunks), checked exactly, then run
                if (carries is None) not in checked:
                    checked[carries is None] = compiled_program.lower(*static, *args).compile()
                    memory.check_compiled(checked[carries is None], memory_check)
                carries = checked[carries is None](*args)
            done += n
            curves = tuple(view(read_curves(c, checkpoints, unique, e))
                           for view, c, e in zip(views, carries, early))
            if on_chunk is not None:
                on_chunk(done, curves)
        if continue_to is not None and track_cells and stage_end == horizon:
            early = tuple(c.cells for c in carries)
            carries = tuple(_fresh_cells(c) for c in carries)
    return curves


def check_memory(feedback, learners: tuple, instance: Instance, hparams: tuple,
                 n_checkpoints: int, inst_batched: bool, hp_batched: tuple, track_cells: bool,
                 n_seeds: int, horizon: int, chunk: int | None = None,
                 devices=None) -> tuple[memory.MemoryEstimate | None, bool]:
    """Estimate a run's memory from its shapes (``runner.memory``) before anything is allocated:
    raise InstanceError (one line, with the seeds that would fit) when it cannot fit. Returns
    (the estimate, whether the program must be checked once compiled: ``run_programs``'s
    ``memory_check``); (None, False) where the estimate itself fails (a JAX version whose
    tracing it does not know): the run then goes ahead as it would have without it."""
    static = (feedback, tuple(learners), n_checkpoints, inst_batched, tuple(hp_batched),
              track_cells)
    try:
        est = memory.estimate(static, instance, tuple(hparams), n_seeds, horizon, devices,
                              chunked=chunk is not None and chunk < horizon)
    except Exception:  # noqa: BLE001: an estimate must never stop a run that would work
        return None, False
    return est, memory.check_fits(est)


def simulate(key: Array, instance: Instance, feedback, learner: Learner, hparams=None, *,
             horizon: int, n_seeds: int = 1, n_checkpoints: int = 50, chunk: int | None = None,
             on_chunk: Callable[[int, Curves], None] | None = None,
             track_cells: bool = False, continue_factor: int | None = None) -> Curves:
    """Run ``learner`` in the environment (``instance``, ``feedback``) for ``n_seeds`` seeds.

    key: a jax.random.key; instance: an Instance, or a batch with a leading [B] axis on every leaf;
    feedback: the environment's FeedbackModel (or its name), the one the learner was built for;
    hparams: the learner's hyperparameters (default: learner.default_hparams()), leaves scalars or
    [H] arrays for a sweep, checked against their declared ranges. Returns Curves (NumPy arrays)
    with regret/mistakes of shape [*B, *H, n_seeds, C].

    With ``chunk``, the horizon is played in chunks of that many rounds (the same numbers);
    ``on_chunk(t, curves)`` is called after each, with the curves filled up to round t, so long runs
    can report progress and save partial results. ``track_cells`` records each (user, prompt)
    cell's play over the last half (lock-in statistics; memory [*B, *H, S, N, M]). Across
    devices: ``runner.sharding``. The run's memory is estimated from the shapes before anything
    is allocated (``runner.memory``): a run that cannot fit raises InstanceError saying how many
    seeds would. ``continue_factor`` c (an integer >= 2): after the horizon T, the same runs
    continue to c T (``run_programs``' continue_to; the curves run to c T, T among their
    checkpoints; with ``track_cells``, ``Curves.cells_at_horizon`` is the tracker over [T/2, T]
    and ``cells`` the one over [c T / 2, c T]: permanent lock-in, ``diagnostics.permanent_lock``).
    """
    key, feedback, horizon, hparams, hp_batched, inst_batched = check_run(
        key, instance, feedback, learner, hparams, horizon, n_seeds, chunk,
        n_checkpoints=n_checkpoints, on_chunk=on_chunk, track_cells=track_cells,
        continue_factor=continue_factor)
    end = horizon * (continue_factor or 1)
    ckpts = (log_checkpoints(horizon, n_checkpoints) if continue_factor is None
             else continued_checkpoints(horizon, end, n_checkpoints))
    mem, exact = check_memory(feedback, (learner,), instance, (hparams,), ckpts.shape[0],
                              inst_batched, (hp_batched,), track_cells, seed_bucket(n_seeds),
                              end, chunk)
    view = drop_padding(n_seeds, int(inst_batched) + int(hp_batched))
    each = None if on_chunk is None else (lambda t, curves: on_chunk(t, curves[0]))
    return run_programs(feedback, (learner,), seed_keys(key, seed_bucket(n_seeds)), instance,
                        (hparams,), ckpts, horizon, inst_batched, (hp_batched,), chunk, each,
                        (view,), track_cells, mem if exact else None,
                        None if continue_factor is None else end)[0]
