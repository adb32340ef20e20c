"""One code path for a preference panel: the fits, the held-out study, the calibrated population,
its diagnostics and its coverage, as ``jaxpa run real`` (E5, experiments/real/experiment.py) and ``jaxpa
audit`` (jaxpa/audit/steps.py) both compute them.

``panel_study(panel, grid, n_test, prompts, key)``:

1. the population conditional-logit fit on all choices (``fit.fit_population``);
2. the held-out study (``evaluate.heldout_comparison``): each user's last ``n_test`` choices held
   out, the shrinkage chosen on a validation split of the training part, personalized heads
   against the population fit, per-user metrics with CIs;
3. the personalized heads refitted on all choices with the chosen shrinkage
   (``fit.fit_personalized``); users marked ``thin`` are served the population fit, here and in 2;
4. the calibrated instance (``calibrate.calibrated_instance``): ``prompts`` distinct complete
   choice sets as prompts, drawn with ``fold_in(key, 1)``, heads = the fitted users, W = I,
   features standardized; the reference is the population fit's choice, or, when the log names
   one (``reference`` [n]: the slot of each choice set's reference alternative), that one.

``panel_diagnostics`` (the diagnostics of the personalized and of the population design, and
the head spectrum) and ``panel_coverage`` (random subsets of users covering D) complete what E5
reports per panel. E5's populations are built by ``calibrated_panel`` (its ``Population(build=...,
host=True)``), which memoizes the study so that the experiment's analysis
(experiments/real/section.py) reads the same fits without refitting: an audit of a CSV
export of a panel, under the same key, therefore reproduces E5's numbers by construction.
"""
from __future__ import annotations

import collections
import dataclasses
import zlib

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.data.calibrate import calibrated_instance, head_spectrum
from jaxpa.data.coverage import log_grid, user_coverage, users_needed
from jaxpa.data.evaluate import fit_at, heldout_comparison, with_population
from jaxpa.data.fit import PopulationFit, feature_scale, fit_population
from jaxpa.data.panels import PanelError, PreferencePanel, subset
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance

Array = jax.Array

DEFAULT_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # shrinkage values (pseudo-choices) of E5
HELDOUT_FIELDS = ("shrinkage", "grid", "validation_loglik", "n_train", "n_test", "max_grad_norm",
                  "table")


@dataclasses.dataclass(frozen=True)
class PanelStudy:
    """What ``panel_study`` computes (module docstring). population: PopulationFit on all
    choices; heldout: the held-out study (HELDOUT_FIELDS of ``heldout_comparison``); heads [U, d]
    and grad_norm [U]: the personalized fits on all choices (raw feature units, thin users = the
    population fit); shrinkage: the chosen value; instance: the calibrated instance; scale [d]: the
    feature scale it standardized by (other raw heads enter it as heads * scale); reference: what
    y0(x) is, in words."""

    panel: PreferencePanel
    population: PopulationFit
    heldout: dict
    heads: np.ndarray
    grad_norm: np.ndarray
    shrinkage: float
    instance: Instance
    scale: np.ndarray
    reference: str


def study_key(seed: int, label: str) -> Array:
    """The key of the first draw of the population labelled ``label`` under key(seed):
    fold_in(fold_in(key(seed), crc32(label)), 0), the rule of jaxpa/experiment/spec.py
    (``label_key``), restated here because jaxpa.data sits below jaxpa.experiment (a test checks
    that the two agree). E5's population ``train`` and an audit of ``train.csv`` both study the
    log under this key."""
    slot = zlib.crc32(label.encode()) & 0x7FFFFFFF
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), slot), 0)


def check_grid(grid) -> np.ndarray:
    """The shrinkage grid [S] as float64: positive finite values."""
    try:
        g = np.asarray(grid, np.float64)
    except (TypeError, ValueError):
        raise PanelError(f"grid: expected positive shrinkage values, got {grid!r}") from None
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise PanelError(f"grid: expected positive shrinkage values, got {g}")
    return g


def check_study_inputs(panel: PreferencePanel, grid, n_test: int, prompts: int | None) -> np.ndarray:
    """Host checks that would otherwise fail mid-study (before anything is fitted): the grid, a
    held-out split that tests someone and still validates, complete choice sets to calibrate on.
    Returns the grid as float64."""
    g = check_grid(grid)
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
        raise PanelError(f"n_test: expected a positive integer, got {n_test!r}")
    counts = np.bincount(np.asarray(panel.user), minlength=panel.n_users)
    if not np.any(counts > n_test + 1):
        raise PanelError(f"n_test: no user has more than {n_test + 1} choices, so nothing can be "
                         f"held out and validated (largest: {counts.max()})")
    if prompts is not None and (isinstance(prompts, bool) or not isinstance(prompts, (int, np.integer))
                                or prompts < 1):
        raise PanelError(f"prompts: expected a positive integer, got {prompts!r}")
    if not np.asarray(panel.available).all(axis=1).any():
        raise PanelError("no complete choice set (all alternatives present) to serve as a "
                         "prompt of the calibrated simulator")
    return g


def calibration_panel(panel: PreferencePanel, reference=None) -> PreferencePanel:
    """The complete choice sets, with the reference alternative (``reference`` [n] slots, if
    given) moved to slot 0, so that ``calibrated_instance(reference="first")`` uses it."""
    full = np.asarray(panel.available).all(axis=1)
    if reference is None:
        return panel if full.all() else subset(panel, full)
    f = np.asarray(panel.features)
    ref = np.asarray(reference)
    rows = np.arange(f.shape[0])
    swapped = f.copy()
    swapped[rows, 0], swapped[rows, ref] = f[rows, ref], f[rows, 0]
    return subset(panel.replace(features=jnp.asarray(swapped, panel.features.dtype)), full)


def panel_study(panel: PreferencePanel, grid=DEFAULT_GRID, n_test: int = 2,
                prompts: int | None = 200, key: Array | None = None, *, thin=None,
                reference=None, n_iter: int = 30) -> PanelStudy:
    """Steps 1-4 of the module docstring. thin: [U] bool, users served the population fit;
    reference: [n] slot of each choice set's reference alternative (None: the population fit's
    choice); key: the study's key (default key(0)): prompts are drawn with fold_in(key, 1)."""
    grid = check_study_inputs(panel, grid, n_test, prompts)
    key = jax.random.key(0) if key is None else key
    population = fit_population(panel, n_iter=n_iter)
    held = heldout_comparison(panel, grid, n_test=n_test, n_iter=n_iter, thin=thin)
    heads, grad_norm = fit_at(panel, population, held["shrinkage"], grid.size, n_iter)
    heads = with_population(heads, population.theta, thin)
    cal = calibration_panel(panel, reference)
    inst = calibrated_instance(cal, heads, population.theta, n_prompts=prompts,
                               key=jax.random.fold_in(key, 1),
                               reference="population" if reference is None else "first")
    return PanelStudy(panel=panel, population=population,
                      heldout={k: held[k] for k in HELDOUT_FIELDS},
                      heads=np.asarray(heads, np.float64), grad_norm=np.asarray(grad_norm),
                      shrinkage=float(held["shrinkage"]), instance=inst,
                      scale=np.asarray(feature_scale(cal), np.float64),
                      reference="population fit's choice" if reference is None
                      else "the log's reference column")


def population_summary(fit: PopulationFit) -> dict:
    """The population fit as plain values: theta, std_errors (arrays), loglik, grad_norm, n."""
    return {"theta": np.asarray(fit.theta, np.float64),
            "std_errors": np.asarray(fit.std_errors(), np.float64), "loglik": float(fit.loglik),
            "grad_norm": float(fit.grad_norm), "n": int(fit.n)}


def heads_instance(base: Instance, heads_std, counts=None) -> Instance:
    """``base`` with other standardized heads [U, d] and, optionally, user multiplicities [U]
    (a bootstrap resample of users: nu = counts / sum)."""
    inst = base.replace(heads=jnp.asarray(heads_std, base.heads.dtype))
    if counts is not None:
        counts = np.asarray(counts, np.float64)
        inst = inst.replace(user_probs=jnp.asarray(counts / counts.sum(), base.user_probs.dtype))
    return inst


def panel_diagnostics(inst: Instance, feedback: str | FeedbackModel = "bt_ref",
                      diag=None) -> tuple[object, dict]:
    """(the Diagnostics of the personalized design, {"spectrum": head_spectrum of the heads,
    "personalized": its summary, "population": the summary of the population design (one shared
    reward)}). ``diag``: the personalized diagnostics when already computed."""
    from jaxpa.diagnostics import diagnose, diagnostics_summary

    feedback = make_feedback(feedback)
    diag = diagnose(inst, feedback) if diag is None else diag
    return diag, {"spectrum": head_spectrum(inst.heads, float(diag.rtol)),
                  "personalized": diagnostics_summary(diag),
                  "population": diagnostics_summary(diagnose(inst, feedback,
                                                             featurizer="population"))}


def coverage_sizes(n_users: int, points: int = 12) -> np.ndarray:
    """About ``points`` subset sizes spread geometrically over [1, n_users], unique, both ends
    included."""
    return log_grid(1, n_users, points)


def panel_coverage(inst: Instance, diag, draws: int, key: Array,
                   feedback: str | FeedbackModel = "bt_ref") -> dict:
    """Random subsets of m users (m on ``coverage_sizes``, ``draws`` each) covering D
    (``coverage.user_coverage``), with ``users_needed_90``: the smallest m covering D in 90% of
    the draws (None if none)."""
    cov = user_coverage(inst, diag, coverage_sizes(inst.n_users), draws, key,
                        feedback=make_feedback(feedback))
    cov["users_needed_90"] = users_needed(cov, 0.9)
    return cov


# ----- E5's populations: calibrated panels, built on the host ---------------------------------
_STUDIES: collections.OrderedDict = collections.OrderedDict()
MAX_STUDIES = 8


def calibrated_panel_study(key: Array, panel: str = "train", grid=DEFAULT_GRID, n_test: int = 2,
                           prompts: int = 200) -> PanelStudy:
    """``panel_study`` of a packaged panel (``panels.load_panel``; needs the data extra) under
    ``key``, memoized (the last MAX_STUDIES): the population build and the analysis of E5 share
    one fit."""
    from jaxpa.data.panels import load_panel

    memo = (panel, tuple(float(g) for g in grid), int(n_test), int(prompts),
            np.asarray(jax.random.key_data(key)).tobytes())
    if memo not in _STUDIES:
        _STUDIES[memo] = panel_study(load_panel(panel), grid, n_test, prompts, key)
        while len(_STUDIES) > MAX_STUDIES:
            _STUDIES.popitem(last=False)
    _STUDIES.move_to_end(memo)
    return _STUDIES[memo]


def calibrated_panel(key: Array, panel: str = "train", grid=DEFAULT_GRID, n_test: int = 2,
                     prompts: int = 200) -> Instance:
    """E5's population: the calibrated instance of ``calibrated_panel_study``."""
    return calibrated_panel_study(key, panel, grid, n_test, prompts).instance
