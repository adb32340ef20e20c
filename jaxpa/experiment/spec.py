"""An experiment as data: which populations, which learners and hyperparameter grids, which
feedback model, how many rounds and seeds at each size, and what to conclude.

Declarations only (frozen dataclasses); ``jaxpa.experiment.execute.run`` runs them. A file under
the top-level ``experiments/`` folder (``experiments/<name>.py``, or ``experiments/<name>/
experiment.py`` for an experiment with its own analysis modules) defines
``EXPERIMENT = Experiment(...)`` and is run by ``jaxpa run <name> [--size quick]``.

Key rule (explicit, so every number can be regenerated): with master key K = key(seed), the
population labelled L draws instance i (dial value j) from
``fold_in(fold_in(K, crc32(L)), i)`` (the dial value is an argument, not part of the key, so a dial
moves one draw along it), and every learner on that population runs with the key
``fold_in(K, crc32(L) + 1)``: all learners meet the same users, prompts and feedback noise.
"""
from __future__ import annotations

import dataclasses
import itertools
import zlib
from typing import Any, Callable, Mapping

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.families import check_family_options, make_family
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, InstanceError, validate, validate_horizon


def _frozen(mapping) -> tuple:
    """A mapping as a sorted tuple of pairs (hashable), lists as tuples."""
    items = dict(mapping or {}).items()
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in items))


def label_key(label: str) -> int:
    """crc32 of a label (int31): the label's slot in the key rule."""
    return zlib.crc32(label.encode()) & 0x7FFFFFFF


@dataclasses.dataclass(frozen=True)
class Population:
    """Where a population's instances come from; one of:

    family: a registry family name with ``options`` (its hyperparameters);
    build: a pure function ``build(key, **options) -> Instance`` (a dial construction, a matched
        family: anything jittable, vmapped over the draws), named by ``source`` in the results;
        with ``host=True`` it is called on the host once per draw instead (a real panel's
        calibrated instance, fitted in NumPy/SciPy);
    instance_file: a saved instance (.npz, ``jaxpa.envs.io``).
    draws: instances drawn (a batch, run in one vmapped program); dial: (option name, values):
        every draw is moved along the dial (batch = values x draws, value-major).
    """

    label: str
    family: str | None = None
    options: Mapping = ()
    draws: int = 1
    dial: tuple | None = None
    build: Callable[..., Instance] | None = None
    source: str = ""
    instance_file: str | None = None
    host: bool = False

    def __post_init__(self):
        object.__setattr__(self, "options", _frozen(self.options))
        if self.dial is not None:
            name, values = self.dial
            object.__setattr__(self, "dial", (name, tuple(float(v) for v in values)))
        given = [x is not None for x in (self.family, self.build, self.instance_file)]
        if sum(given) != 1:
            raise InstanceError(f"population {self.label!r}: give exactly one of family, build, "
                                "instance_file")

    def describe(self) -> dict:
        """What identifies the population in part keys and reports."""
        return {"label": self.label, "family": self.family, "options": dict(self.options),
                "draws": self.draws, "dial": self.dial,
                "source": self.source or (getattr(self.build, "__name__", None) if self.build
                                          else None),
                "instance_file": self.instance_file}

    def check(self, draws: int) -> None:
        if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
            raise InstanceError(f"population {self.label!r}: draws must be a positive integer, "
                                f"got {draws!r}")
        if self.family is not None:
            opts = dict(self.options)
            if self.dial is not None:
                opts[self.dial[0]] = self.dial[1][0]
            check_family_options(self.family, opts)

    def instances(self, key: jax.Array, draws: int) -> tuple[Instance, dict[str, np.ndarray]]:
        """(the instances as a batch with a leading [B] axis, B >= 1; per-instance metadata
        {"draw": [B], "dial": [B]})."""
        if self.instance_file is not None:
            from jaxpa.envs.io import load_instance
            inst = load_instance(self.instance_file)
            if not inst.batch_shape:
                inst = jax.tree.map(lambda x: x[None], inst)
            B = inst.batch_shape[0]
            return inst, {"draw": np.arange(B), "dial": np.full(B, np.nan)}
        base = jax.random.fold_in(key, label_key(self.label))
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(draws))
        values = self.dial[1] if self.dial is not None else (None,)
        make = self._maker()
        batch = []
        for v in values:
            opts = dict(self.options, **({self.dial[0]: v} if self.dial is not None else {}))
            batch.append(make(keys, opts))
        inst = jax.tree.map(lambda *x: jnp.concatenate(x), *batch)
        meta = {"draw": np.tile(np.arange(draws), len(values)),
                "dial": np.repeat(np.asarray([np.nan if v is None else v for v in values]), draws)}
        validate(inst)
        return inst, meta

    def _maker(self):
        if self.family is not None:
            return lambda keys, opts: make_family(self.family, keys, **opts)
        if self.host:
            return lambda keys, opts: jax.tree.map(
                lambda *x: jnp.stack(x), *[self.build(k, **opts) for k in keys])
        return lambda keys, opts: jax.jit(jax.vmap(lambda k: self.build(k, **opts)))(keys)


@dataclasses.dataclass(frozen=True)
class LearnerGrid:
    """A declaration's learner grid (not a ``jaxpa.learners.Learner``: ``execute`` builds that from
    ``name`` and ``options``): a learner of the registry with options, and a grid of
    hyperparameters: every listed value (a list) is crossed with the others, and the grid runs as
    one vmapped sweep. ``labels``
    names the grid points (default: the label with the varied values, e.g.
    ``greedy[warm_start=200]``; a single point keeps ``label``)."""

    label: str
    name: str
    options: Mapping = ()
    hparams: Mapping = ()
    labels: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "options", _frozen(self.options))
        object.__setattr__(self, "hparams", _frozen(self.hparams))
        object.__setattr__(self, "labels", tuple(self.labels))

    def grid(self) -> list[dict]:
        """The grid points: [{name: value}] (one empty dict without a grid)."""
        names = [k for k, _ in self.hparams]
        values = [v if isinstance(v, tuple) else (v,) for _, v in self.hparams]
        return [dict(zip(names, combo)) for combo in itertools.product(*values)] or [{}]

    def point_labels(self) -> list[str]:
        points = self.grid()
        if self.labels:
            if len(self.labels) != len(points):
                raise InstanceError(f"learners {self.label!r}: {len(self.labels)} labels for "
                                    f"{len(points)} grid points")
            return list(self.labels)
        varied = [k for k, v in self.hparams if isinstance(v, tuple) and len(v) > 1]
        if len(points) == 1:
            return [self.label]
        return [f"{self.label}[{','.join(f'{k}={p[k]}' for k in varied)}]" for p in points]


def _positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InstanceError(f"{name}: expected a positive integer, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Size:
    """horizon: rounds T; seeds: runs per (instance, learner); draws: instances per population
    (overrides the population's draws when given); options: the experiment's own typed options,
    a frozen dataclass it declares once with its defaults (e.g. experiments/offline/records.py's
    ``OfflineOptions``), or None. Checked here, once, for a declared size and for one the command
    line overrides alike."""

    horizon: int
    seeds: int
    draws: int | None = None
    options: Any = None

    def __post_init__(self):
        validate_horizon(self.horizon, "horizon")
        _positive(self.seeds, "seeds")
        if self.draws is not None:
            _positive(self.draws, "draws")
        if self.options is not None and not dataclasses.is_dataclass(self.options):
            raise InstanceError(f"options: expected a dataclass instance, got {self.options!r}")

    def options_or(self, kind):
        """The size's options, checked to be a ``kind`` (a dataclass); ``kind()`` when none."""
        if self.options is None:
            return kind()
        if not isinstance(self.options, kind):
            raise InstanceError(f"options: expected {kind.__name__}, got "
                                f"{type(self.options).__name__}")
        return self.options


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A whole experiment (module docstring). analyze(results) -> list of ``Section``: the
    experiment's own tables, figures and claims, computed from the runs (and, through
    ``results.part``, from further stored computations such as offline curves). claim_order:
    set on the experiments that test the paper's claims; ``jaxpa reproduce`` discovers them and
    runs them in this order (None: not part of it). continue_factor: every run continues past the
    horizon T to continue_factor * T (``simulate``'s option; with track_cells, each Run then
    carries its permanent lock-in, ``diagnostics.permanent_lock``); None: runs stop at T."""

    name: str
    title: str
    populations: tuple = ()
    learners: tuple = ()
    feedback: Any = "bt_ref"
    sizes: Mapping = ()
    track_cells: bool = False
    n_checkpoints: int = 50
    analyze: Callable | None = None
    figure: Callable | None = None
    description: str = ""
    claim_order: int | None = None
    continue_factor: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "learners", tuple(self.learners))
        object.__setattr__(self, "sizes", dict(self.sizes))

    def feedback_model(self) -> FeedbackModel:
        return make_feedback(self.feedback)

    def size(self, name: str) -> Size:
        if name not in self.sizes:
            raise InstanceError(f"--size: experiment {self.name!r} has sizes "
                                f"{sorted(self.sizes)}, not {name!r}")
        return self.sizes[name]  # checked when declared (Size.__post_init__)

    def with_learners(self, *learners: LearnerGrid) -> "Experiment":
        """A copy with other learners (for variants of a file's experiment)."""
        return dataclasses.replace(self, learners=tuple(learners))
