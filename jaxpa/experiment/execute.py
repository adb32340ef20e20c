"""Running an ``Experiment``: populations, then per population one sharded program running all its
learner grids not yet stored (``runner.sharding.simulate_sharded_many``: the environment and the
loop compile once, and every learner meets the same random stream), each grid a resumable part of
the result store, then statistics, the experiment's own analysis, and the outputs written as one
unit.

Parts are keyed by the full config (population, instance fingerprint, learner, options, the
resolved hyperparameters of every grid point, feedback model, sizes, seed) and the code identity
(jaxpa/results.py). Runs are spread over every local device (``runner.sharding``, seeds axis);
under ``jax.distributed`` every process computes its shards and process 0 writes.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import jax

from jaxpa.diagnostics.curve_stats import curve_stats, curve_verdict, lock_in
from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.diagnostics.lock_persistence import permanent_lock
from jaxpa.diagnostics.report import diagnostics_summary
from jaxpa.envs.instance import Instance
from jaxpa.experiment.spec import Experiment, LearnerGrid, Population, Size, label_key
from jaxpa.learners.hparams import check_hparams, flat_hparams, set_hparams
from jaxpa.learners.registry import make_learner
from jaxpa.results import Store, fingerprint, safe_label
from jaxpa.runner.cells import CellTracker
from jaxpa.runner.curves import Curves
from jaxpa.runner.sharding import runs_mesh, simulate_sharded_many


@dataclasses.dataclass
class PopulationResult:
    """instances: a batch [B]; meta: {"draw": [B], "dial": [B]}; diagnostics: batched
    Diagnostics [B] for the experiment's feedback model; summaries: one dict per instance."""

    population: Population
    instances: Instance
    meta: dict
    diagnostics: Any
    summaries: list


@dataclasses.dataclass
class Run:
    """One grid point of a learner on a population: arrays with leading [B, S] (regret,
    mistakes: [B, S, C]; extra: {name: [B, S, C]}; nonfinite_at: [B, S]); stats: CurveStats [B];
    verdict: [B] str ("unhealthy" where some seed's learner state went non-finite); lock: the
    ``lock_in`` dict (its default min_plays) or None; cells: the raw cell tracker [B, S, N, M]
    when the experiment tracks cells (for lock-in under another min_plays), else None; when the
    experiment continues its runs (``continue_factor``), the curves run to c T, ``horizon`` is T,
    ``cells_at_horizon`` the tracker over [T/2, T] and ``permanent`` the ``permanent_lock``
    dict (None otherwise)."""

    population: str
    label: str
    learner: str
    hparams: dict
    checkpoints: np.ndarray
    regret: np.ndarray
    mistakes: np.ndarray
    extra: dict
    nonfinite_at: np.ndarray
    stats: Any
    verdict: np.ndarray
    lock: dict | None
    cells: CellTracker | None = None
    horizon: int | None = None
    cells_at_horizon: CellTracker | None = None
    permanent: dict | None = None


@dataclasses.dataclass
class ExperimentResults:
    """What an experiment's ``analyze`` and claim rules read (and ``part`` to compute more)."""

    experiment: Experiment
    size_name: str
    size: Size
    seed: int
    key: jax.Array
    store: Store
    populations: dict[str, PopulationResult]
    runs: dict[tuple[str, str], Run]
    progress: Callable[[str], None]
    sections: list = dataclasses.field(default_factory=list)

    def run(self, population: str, label: str) -> Run:
        return self.runs[(population, label)]

    def labels(self, population: str) -> list[str]:
        return [lab for (p, lab) in self.runs if p == population]

    def rerun(self, population: str, label: str, draws, key_index: int = 1) -> Run:
        """Grid point ``label`` again on the draws ``draws`` of a population, with fresh seeds
        (run key fold_in(K, 2^20 + key_index), K the master key), as a stored part: the Run of
        those draws (leading axis len(draws)). A claim reruns its contradicting draws this way to
        see whether a contradiction reproduces."""
        draws = [int(b) for b in np.ravel(draws)]
        old = self.run(population, label)
        group = next(g for g in self.experiment.learners if label in g.point_labels())
        feedback = self.experiment.feedback_model()
        inst = jax.tree.map(lambda x: x[np.asarray(draws)], self.populations[population].instances)
        exp, size = self.experiment, self.size

        def compute():
            learner = make_learner(group.name, feedback, **dict(group.options))
            hp = set_hparams(learner.default_hparams(), **old.hparams)
            curves = simulate_sharded_many(
                jax.random.fold_in(self.key, 2**20 + key_index), inst, feedback, [(learner, hp)],
                horizon=size.horizon, n_seeds=size.seeds, n_checkpoints=exp.n_checkpoints,
                track_cells=exp.track_cells, continue_factor=exp.continue_factor)[0]
            return _arrays(curves)

        config = {"population": population, "label": label, "draws": draws,
                  "instances": fingerprint(inst), "hparams": old.hparams, "horizon": size.horizon,
                  "seeds": size.seeds, "key_index": key_index,
                  "continue_factor": exp.continue_factor, "track_cells": exp.track_cells}
        arrays = self.part(f"rerun__{population}__{safe_label(label)}", config, compute)
        return _make_run(population, label, group.name, old.hparams, arrays, 0, 1, inst,
                         size.horizon)

    def part(self, name: str, config: dict, compute: Callable[[], dict]) -> dict:
        """A further stored computation (offline curves, fits, ...): loaded when finished."""
        config = dict(config, experiment=self.experiment.name, seed=self.seed)
        t0 = time.perf_counter()
        arrays, fresh = self.store.compute(name, config, compute)
        self.store.log(f"  {name}: " + (f"computed in {time.perf_counter() - t0:.1f} s" if fresh
                                         else "stored"))
        self.progress(name)
        return arrays


def _progress(total: int, quiet: bool):
    """A tqdm bar over parts (elapsed time and ETA) on a terminal; silent otherwise."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="part", disable=quiet or not sys.stderr.isatty(),
               dynamic_ncols=True)

    def advance(message: str) -> None:
        bar.set_postfix_str(message[:40])
        if bar.n >= bar.total:
            bar.total += 1
        bar.update(1)

    return bar, advance


def resolved(learners: LearnerGrid, feedback, horizon: int):
    """(learner, swept hparams as arrays, [flat hparams of each grid point]) for a grid."""
    learner = make_learner(learners.name, feedback, **dict(learners.options))
    points = learners.grid()
    hps = [set_hparams(learner.default_hparams(), **p) for p in points]
    checked = [check_hparams(learner.name, learner.default_hparams(), hp, horizon)[0] for hp in hps]
    stacked = checked[0] if len(checked) == 1 else jax.tree.map(lambda *x: np.stack(x), *checked)
    return learner, stacked, [{k: v.item() for k, v in flat_hparams(h).items()} for h in checked]


def check(experiment: Experiment, size: Size) -> None:
    """Everything an experiment needs, validated before anything compiles."""
    feedback = experiment.feedback_model()
    for pop in experiment.populations:
        pop.check(size.draws or pop.draws)
    labels = [lab for g in experiment.learners for lab in g.point_labels()]
    if len(set(labels)) != len(labels):
        raise ValueError(f"experiment {experiment.name}: duplicate learner labels {labels}")
    if len({p.label for p in experiment.populations}) != len(experiment.populations):
        raise ValueError(f"experiment {experiment.name}: duplicate population labels")
    for group in experiment.learners:
        resolved(group, feedback, size.horizon)


def estimate_population(experiment: Experiment, pop: Population, size: Size):
    """The MemoryEstimate of ``pop``'s run (all learner grids, one program) from one draw's shapes,
    scaled to the draws (``runner.memory``; None where nothing is known), raising InstanceError
    (one line, how many seeds would fit) when it cannot fit. One draw is built: for a host-built
    population that is one calibration, not ``draws`` of them."""
    from jaxpa.runner.memory import check_fits
    feedback = experiment.feedback_model()
    inst, _ = pop.instances(jax.random.key(0), 1)
    runs = [resolved(group, feedback, size.horizon)[:2] for group in experiment.learners]
    est = simulate_sharded_many(jax.random.key(0), inst, feedback, runs, horizon=size.horizon,
                                n_seeds=size.seeds, n_checkpoints=experiment.n_checkpoints,
                                track_cells=experiment.track_cells, estimate_only=True)
    if est is not None:
        if pop.instance_file is None:  # a saved batch is the same whatever the draws
            est = est.times(size.draws or pop.draws)
        check_fits(est, f"population {pop.label}")
    return est


def run(experiment: Experiment, size_name: str = "default", *, out=None, seed: int = 0,
        size: Size | None = None, quiet: bool = False, log: Callable[[str], None] = print,
        devices=None) -> ExperimentResults:
    """Run ``experiment`` at a size (or an explicit ``size``) into ``out`` (default
    results/<name>), resuming from its stored parts; returns the ExperimentResults
    (outputs written by ``jaxpa.experiment.outputs.write``, which this calls)."""
    from jaxpa.experiment import outputs

    size = size or experiment.size(size_name)
    check(experiment, size)
    out = Path(out or f"results/{experiment.name}")
    writer = jax.process_index() == 0
    store = Store(out, writer=writer, log=log if writer else (lambda m: None))
    key = jax.random.key(seed)
    feedback = experiment.feedback_model()
    mesh = runs_mesh(devices)
    n_parts = len(experiment.populations) * len(experiment.learners)
    bar, advance = _progress(n_parts, quiet or not writer)
    t0 = time.perf_counter()
    pops, runs = {}, {}
    try:
        for pop in experiment.populations:
            if pop.host and (size.draws or pop.draws) > 16:  # refuse before building them all
                estimate_population(experiment, pop, size)
            inst, meta = pop.instances(key, size.draws or pop.draws)
            # on the host once: indexing device arrays per draw is one dispatch per leaf
            diag = jax.tree.map(np.asarray, jax.vmap(lambda i: diagnose(i, feedback))(inst))
            summaries = [diagnostics_summary(jax.tree.map(lambda x: x[b], diag))
                         for b in range(len(meta["draw"]))]
            pops[pop.label] = PopulationResult(pop, inst, meta, diag, summaries)
            run_key = jax.random.fold_in(key, label_key(pop.label) + 1)
            parts, instances_id = [], fingerprint(inst)
            for group in experiment.learners:
                learner, hp, points = resolved(group, feedback, size.horizon)
                config = {"experiment": experiment.name, "population": pop.describe(),
                          "instances": instances_id, "learner": group.name,
                          "options": dict(group.options), "hparams": points,
                          "feedback": feedback.label, "horizon": size.horizon,
                          "seeds": size.seeds, "n_checkpoints": experiment.n_checkpoints,
                          "track_cells": experiment.track_cells, "seed": seed,
                          **({"continue_factor": experiment.continue_factor}
                             if experiment.continue_factor else {})}
                name = f"{pop.label}__{group.label}"
                parts.append(_Part(group, learner, hp, points, name, config,
                                   store.get(name, config)))
            missing = [p for p in parts if p.stored is None]
            t_part = time.perf_counter()
            if missing:  # the population's missing learners: one compiled program
                curves = simulate_sharded_many(
                    run_key, inst, feedback, [(p.learner, p.hparams) for p in missing],
                    horizon=size.horizon, n_seeds=size.seeds,
                    n_checkpoints=experiment.n_checkpoints, mesh=mesh,
                    track_cells=experiment.track_cells,
                    continue_factor=experiment.continue_factor)
                fresh = {p.name: _arrays(c) for p, c in zip(missing, curves)}
            took = time.perf_counter() - t_part
            together = ", ".join(p.group.label for p in missing)
            for part in parts:
                label = part.group.label
                if part.stored is None:
                    arrays = fresh[part.name]
                    store.put(part.name, part.config, arrays, seconds=took / len(missing))
                    store.log(f"  {pop.label} {label}: computed in {took:.1f} s"
                              + (f" (one program: {together})" if len(missing) > 1 else ""))
                else:
                    arrays = part.stored
                    store.log(f"  {pop.label} {label}: stored")
                advance(f"{pop.label} {label}")
                for h, (point_label, point) in enumerate(zip(part.group.point_labels(),
                                                             part.points)):
                    runs[(pop.label, point_label)] = _make_run(
                        pop.label, point_label, part.group.name, point, arrays, h,
                        len(part.points), inst, size.horizon)
        results = ExperimentResults(experiment, size_name, size, seed, key, store, pops, runs,
                                    advance)
        results.sections = outputs.write(results, elapsed=lambda: time.perf_counter() - t0,
                                         log=log)
    finally:
        bar.close()
    return results


class _Part(NamedTuple):
    """A learner grid on a population as a part of the store: stored holds its arrays when the
    store has them (None: to compute)."""

    group: LearnerGrid
    learner: Any
    hparams: Any
    points: list
    name: str
    config: dict
    stored: dict | None


def _arrays(c) -> dict:
    """A run's stored arrays (NumPy): curves, health and, when tracked, the lock-in cells."""
    arrays = {"checkpoints": c.checkpoints, "regret": c.regret, "mistakes": c.mistakes,
              "nonfinite_at": c.nonfinite_at}
    arrays.update({f"extra__{n}": v for n, v in c.extra.items()})
    for prefix, cells in (("cells", c.cells), ("cells_at_horizon", c.cells_at_horizon)):
        if cells is not None:
            arrays.update({f"{prefix}__{f}": getattr(cells, f) for f in ("plays", "first", "mixed")})
    return {k: np.asarray(v) for k, v in arrays.items()}


def _make_run(population, label, name, point, arrays, h, n_points, inst,
              horizon: int | None = None) -> Run:
    """The Run of grid point h from a part's arrays [B, (H,) S, ...]."""
    swept = n_points > 1
    pick = (lambda x: np.asarray(x)[:, h]) if swept else np.asarray
    regret, mistakes = pick(arrays["regret"]), pick(arrays["mistakes"])
    ck = np.asarray(arrays["checkpoints"])
    stats = curve_stats(checkpoints=ck, regret=regret, mistakes=mistakes)
    nonfinite = pick(arrays["nonfinite_at"])
    verdict = np.where((nonfinite > 0).any(-1), "unhealthy", curve_verdict(stats))
    lock = cells = None
    if "cells__plays" in arrays:
        cells = CellTracker(*(pick(arrays[f"cells__{f}"]) for f in ("plays", "first", "mixed")))
        lock = lock_in(cells, inst)
    extra = {k[len("extra__"):]: pick(v) for k, v in arrays.items() if k.startswith("extra__")}
    early = permanent = None
    if "cells_at_horizon__plays" in arrays:
        early = CellTracker(*(pick(arrays[f"cells_at_horizon__{f}"])
                              for f in ("plays", "first", "mixed")))
        permanent = permanent_lock(Curves(checkpoints=ck, regret=regret, mistakes=mistakes,
                                          nonfinite_at=nonfinite, cells=cells,
                                          cells_at_horizon=early), inst, horizon)
    return Run(population, label, name, point, ck, regret, mistakes, extra, nonfinite, stats,
               np.atleast_1d(verdict), lock, cells, horizon, early, permanent)
