"""Running a list of learners on one instance (or batch), resumably: the loop every experiment
shares. Each finished (tag, learner) run is stored as a part, keyed by the instance's fingerprint
and the experiment's config, so an interrupted experiment resumes where it stopped."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from jaxpa.learners import make_learner
from jaxpa.learners.registry import for_horizon
from jaxpa.runner import simulate
from jaxpa.experiments import report


@dataclasses.dataclass(frozen=True)
class Spec:
    """A learner in an experiment: its label, registry name, registry options and
    hyperparameter overrides (name -> value; the rest are the learner's defaults)."""

    label: str
    learner: str
    hparams: tuple[tuple[str, Any], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    @staticmethod
    def of(label: str, learner: str, options: dict | None = None, **hparams) -> "Spec":
        return Spec(label, learner, tuple(sorted(hparams.items())),
                    tuple(sorted((options or {}).items())))

    def build(self, feedback: str, horizon: int):
        """(Learner, hyperparameters) for a run of ``horizon`` rounds."""
        learner = make_learner(self.learner, feedback, **dict(self.options))
        hp = for_horizon(learner.default_hparams(), horizon)
        if self.hparams:
            hp = hp.replace(**{k: np.asarray(v, np.asarray(getattr(hp, k)).dtype)
                               for k, v in self.hparams})
        return learner, hp


def run_specs(store: report.ResultStore, key, inst, tag: str, specs: list[Spec], *,
              feedback: str, horizon: int, n_seeds: int, chunk: int | None = None,
              log: Callable[[str], None] = print) -> dict[str, dict[str, np.ndarray]]:
    """Run every spec on ``inst`` with the same key (common random numbers); label -> arrays
    (checkpoints [C], regret and mistakes [..., S, C]). Finished parts are loaded, not rerun."""
    fp = report.fingerprint(inst)
    out = {}
    for spec in specs:
        part = f"{tag}__{spec.label}__{fp}"
        done = store.get(part)
        if done is None:
            t0 = time.perf_counter()
            learner, hp = spec.build(feedback, horizon)
            curves = simulate(key, inst, learner, hp, horizon=horizon, n_seeds=n_seeds,
                              chunk=chunk)
            done = {k: np.asarray(getattr(curves, k)) for k in ("checkpoints", "regret",
                                                               "mistakes")}
            store.put(part, **done)
            log(f"  {tag:8s} {spec.label:18s} {time.perf_counter() - t0:6.1f} s")
        else:
            log(f"  {tag:8s} {spec.label:18s} (already done, loaded from {store.path(part)})")
        out[spec.label] = done
    return out
