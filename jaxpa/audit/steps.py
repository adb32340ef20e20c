"""The audit of a preference log: is personalization cheap for this population?

``run_audit(log, config, part=...)`` chains the steps, each a function of its own module, and
returns one dict (NumPy arrays and plain values; jaxpa/audit/report.py writes it):

1. ``fits``: the panel study shared with ``jaxpa run real`` (jaxpa.data.study.panel_study):
   population and personalized conditional-logit fits, held-out comparison, shrinkage chosen on
   validation, the calibrated population;
2. ``raw``: its diagnostics exactly as E5 reports them (study.panel_diagnostics: the fitted
   heads as they are, rtol 1e-5, personalized and population designs);
3. ``ud``: UD with uncertainty (bootstrap.py): resolved head rank, bootstrap over users and
   choices, the verdict holds / fails / undetermined;
4. ``coverage`` on the resolved population (coverage.py, study.panel_coverage): worst covered
   directions in the data's feature names, random-subset coverage curve, greedy pick of users;
5. ``simulate`` and ``budget`` on the resolved population (simulation.py): regret curves of the
   simulated learners; diversity versus volume, offline and online.

Every step is a stored part (``part(name, config, compute)``, e.g. ``jaxpa.results.Store.compute``):
its config holds the log's content hash, the columns, every option the step depends on (those
of the steps it reads included) and the feedback model's label, and the store adds the code
identity; an interrupted audit resumes from its finished steps and a second run of the same
command computes nothing. Steps read their inputs from the stored parts before them (the
calibrated instance is stored with the fits), so resuming never refits what is stored.

Keys: the log is audited as a population labelled ``config.label`` (default: the file's stem)
under the experiments' key rule (jaxpa/experiment/spec.py): with K = key(seed), the study's key
is k = fold_in(fold_in(K, crc32(label)), 0), what the population of that label in an experiment
draws its first instance from; the study draws its prompts with fold_in(k, 1) (study.py),
coverage uses fold_in(k, 2), the simulations fold_in(k, 3), the bootstrap fold_in(k, 4), the
budget study fold_in(k, 5) (offline) and fold_in(k, 6) (online). So ``jaxpa audit train.csv`` of
a CSV export of Ecdat Train, with E5's grid, draws the same prompts, and fits the same heads, as
the population "train" of ``jaxpa run real``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.audit.coverage import exchange_rate, greedy_pick, worst_directions
from jaxpa.audit.config import AuditConfig
from jaxpa.audit.progress import budget_sizes, step_plan
from jaxpa.audit.convergence import FitError, heads_convergence, population_convergence
from jaxpa.audit.heads import direction_words, heads_table, taste_directions
from jaxpa.audit.simulation import (gap_profile, greedy_for_budget, learner_stats,
                                    simulate_learners, subopt_for_budget)
from jaxpa.data.fit import PopulationFit, heads_covariance
from jaxpa.audit.reading import PreferenceLog
from jaxpa.data.study import (check_study_inputs, heads_instance, panel_coverage,
                              panel_diagnostics, panel_study, population_summary, study_key)
from jaxpa.audit.bootstrap import ud_bootstrap
from jaxpa.diagnostics import diagnose, diagnostics_summary
from jaxpa.envs.feedback import make_feedback
from jaxpa.envs.instance import InstanceError
from jaxpa.envs.io import instance_from_dict, instance_to_dict
from jaxpa.results import pack, unpack

STEPS = ("fits", "raw", "ud", "coverage", "simulate", "budget")


def check_audit(log: PreferenceLog, config: AuditConfig) -> None:
    """Everything that can be checked before a fit (the log itself was checked on reading)."""
    config.check()
    check_study_inputs(log.panel, config.grid, config.n_test, config.prompts)
    if log.panel.n_users < 2:
        raise InstanceError(f"user: the log has {log.panel.n_users} user; a diversity audit "
                            f"needs at least 2")


def budget_grids(n_users: int, n_choices: int) -> tuple[np.ndarray, np.ndarray]:
    """Users (2 .. N, about 5 values) and budgets (N .. 4 x the log's size, 6 values)."""
    return budget_sizes(n_users, n_choices)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _no_store(name: str, config: dict, compute: Callable[[], dict]) -> dict:
    return compute()


# ----- the audit --------------------------------------------------------------------------------
def input_config(log: PreferenceLog, config: AuditConfig, feedback) -> dict:
    """What every step depends on: the log's content and reading, the study's options, the key."""
    return {"kind": "jaxpa audit", "log": log.digest, "columns": dataclasses.asdict(log.columns),
            "min_choices": log.min_choices, "label": config.label or log.panel.name,
            "seed": int(config.seed), "grid": [float(g) for g in config.grid],
            "n_test": int(config.n_test), "prompts": int(config.prompts),
            "feedback": make_feedback(feedback).label}


def step_configs(log: PreferenceLog, config: AuditConfig, feedback) -> dict[str, dict]:
    """The config of every step's part (module docstring)."""
    base = input_config(log, config, feedback)
    ud = dict(base, n_boot=int(config.n_boot), level=float(config.level),
              early_stop=bool(config.early_stop))
    return {"fits": base, "raw": base, "ud": ud,
            "coverage": dict(ud, draws=int(config.draws)),
            "simulate": dict(ud, horizon=int(config.horizon), seeds=int(config.seeds),
                             warm_start=int(config.warm_start), learners=list(config.learners)),
            "budget": dict(ud, budget_draws=int(config.budget_draws),
                           log_policy=config.log_policy, warm_start=int(config.warm_start))}


def log_units(log: PreferenceLog) -> np.ndarray:
    """[d] the factor each feature was divided by before fitting (reading.standardize_extreme):
    estimates in the data's units are the fitted ones divided by it."""
    d = log.panel.d
    return np.ones(d) if log.feature_units is None else np.asarray(log.feature_units, np.float64)


def log_facts(log: PreferenceLog) -> dict:
    panel = log.panel
    return {"source": log.source, "rows": log.n_rows, "choices": panel.n_choices,
            "users": panel.n_users, "alternatives": panel.n_alternatives,
            "features": list(panel.feature_names), "thin_users": [str(u) for u in log.thin_users],
            "min_choices": log.min_choices, "reference_column": log.reference is not None,
            "contexts": None if log.context is None else int(np.unique(log.context).size),
            "choices_per_user": np.bincount(np.asarray(panel.user)).tolist(),
            "feature_units": log_units(log).tolist(), "digest": log.digest}


def population_fit(pop: dict, dtype) -> PopulationFit:
    """The stored population fit (the fits part's ``population``) as a PopulationFit."""
    return PopulationFit(theta=jnp.asarray(pop["theta"], dtype),
                         information=jnp.asarray(pop["information"], dtype),
                         loglik=jnp.asarray(pop["loglik"]), grad_norm=jnp.asarray(pop["grad_norm"]),
                         n=int(pop["n"]))


def head_summary(log: PreferenceLog, f: dict) -> dict:
    """The personalized heads in the data's units with their standard errors, and their
    coordinates (with standard errors) on the top two taste directions of the standardized heads
    (heads.py; heads.csv and heads.png): from the stored fits, no refit."""
    panel = log.panel
    pop = population_fit(f["population"], panel.features.dtype)
    theta = np.asarray(f["heads"]["theta"], np.float64)
    cov = heads_covariance(panel, pop, theta, f["heads"]["shrinkage"])
    thin = np.asarray(log.thin_mask, bool)
    cov[thin] = np.linalg.inv(pop.n * np.asarray(pop.information, np.float64))
    std = np.asarray(f["scale"], np.float64)
    directions = taste_directions(theta * std)
    table = heads_table(theta, cov, std, log_units(log), directions)
    return {"theta": table["theta"], "std_errors": table["std_errors"],
            "directions": directions, "coords": table["coords"], "coord_se": table["coord_se"],
            "direction_words": [direction_words(v, panel.feature_names) for v in directions],
            "labels": [str(u) for u in panel.user_labels],
            "choices": np.bincount(np.asarray(panel.user), minlength=panel.n_users),
            "thin": thin}


def run_audit(log: PreferenceLog, config: AuditConfig = AuditConfig(), *,
              part: Callable = _no_store, progress: Callable[[str], None] = print,
              feedback="bt_ref") -> dict:
    """The whole audit (module docstring). part: ``part(name, config, compute) -> arrays`` (a
    store's ``compute``; default: compute everything); progress: called with one line per step;
    feedback: the model the verdict and the simulations are about (bt_ref: a user's choice
    against the reference answer)."""
    check_audit(log, config)
    feedback = make_feedback(feedback)
    configs = step_configs(log, config, feedback)
    key = study_key(config.seed, configs["fits"]["label"])
    panel, t0 = log.panel, time.perf_counter()

    plan = step_plan(panel, config)

    def step(name: str, compute: Callable[[], dict], note=lambda r: "") -> dict:
        t = time.perf_counter()
        fresh = []

        def run():
            fresh.append(True)
            what, eta = plan[name]
            progress(f"[audit] {name}: {what}; ETA ~{_duration(eta)}")
            return pack(compute())

        out = unpack(part(name, configs[name], run))
        how = f"computed in {time.perf_counter() - t:.1f} s" if fresh else "stored"
        progress(f"[audit] {name}: {how}{note(out)} ({time.perf_counter() - t0:.1f} s)")
        return out

    out = {"log": log_facts(log)}

    def fits():
        s = panel_study(panel, config.grid, config.n_test, config.prompts, key,
                        thin=log.thin_mask, reference=log.reference)
        pop = dict(population_summary(s.population), information=np.asarray(s.population.information))
        return {"population": pop, "heldout": s.heldout,
                "heads": {"theta": s.heads, "grad_norm": s.grad_norm, "shrinkage": s.shrinkage,
                          "max_grad_norm": float(np.max(s.grad_norm))},
                "instance": instance_to_dict(s.instance), "scale": s.scale,
                "reference": s.reference}

    f = step("fits", fits)
    base = instance_from_dict(f["instance"])
    pop = f["population"]
    units = log_units(log)
    out["population_fit"] = dict({k: v for k, v in pop.items() if k != "information"},
                                 theta=pop["theta"] / units, std_errors=pop["std_errors"] / units)
    out["heldout"] = f["heldout"]
    out["heads"] = dict(f["heads"], **head_summary(log, f))
    out["instance"] = {"n_prompts": base.n_prompts, "K": base.n_responses, "d": base.d,
                       "scale": f["scale"], "reference": f["reference"]}
    fits_ok = population_convergence(panel, pop["theta"], pop["std_errors"])
    counts = np.bincount(np.asarray(panel.user), minlength=panel.n_users)
    heads_ok = heads_convergence(f["heads"]["grad_norm"], counts, log.thin_mask, panel.user_labels)
    out["convergence"] = {"population": fits_ok, "heads": heads_ok}
    if not fits_ok["converged"]:
        raise FitError(f"{log.source}: {fits_ok['reason']}; rescale the features or check the "
                       f"log for separable choices")
    out["raw"] = step("raw", lambda: panel_diagnostics(base, feedback)[1])
    if "ud" not in config.sections:
        return out

    def ud():
        population = population_fit(pop, panel.features.dtype)
        boot = ud_bootstrap(jax.random.fold_in(key, 4), panel, base, f["scale"],
                            f["heads"]["theta"], population, config.grid, log.thin_mask,
                            n_boot=config.n_boot, level=config.level, feedback=feedback,
                            early_stop=config.early_stop)
        resolved = diagnose(heads_instance(base, boot["resolved_heads_std"]), feedback)
        return dict(boot, resolved=diagnostics_summary(resolved))

    out["ud"] = step("ud", ud, lambda r: f": {r['verdict']} ({r['n_computed']} of "
                                         f"{config.n_boot} replicates)")
    if not heads_ok["converged"]:
        out["ud"] = dict(out["ud"], verdict="undetermined", reason=heads_ok["reason"])
    inst = heads_instance(base, out["ud"]["resolved_heads_std"])
    diag = []

    def diagnostics():  # of the resolved population, computed once when a step needs them
        if not diag:
            diag.append(diagnose(inst, feedback))
        return diag[0]

    if "coverage" in config.sections:
        out["coverage"] = step("coverage", lambda: {
            "worst": worst_directions(diagnostics(), panel.feature_names,
                                      heads=np.asarray(inst.heads), probs=np.asarray(inst.user_probs)),
            "random": panel_coverage(inst, diagnostics(), config.draws, jax.random.fold_in(key, 2),
                                     feedback),
            "greedy": greedy_pick(inst, diagnostics(), feedback=feedback),
            "user_labels": [str(u) for u in panel.user_labels]})
    if "simulate" in config.sections:
        def simulate():
            runs = simulate_learners(jax.random.fold_in(key, 3), inst, feedback,
                                     horizon=config.horizon, n_seeds=config.seeds,
                                     warm_start=config.warm_start, learners=config.learners)
            return {label: dict(r, stats=learner_stats(r)) for label, r in runs.items()}

        out["simulate"] = step("simulate", simulate)
        out["gap_profile"] = gap_profile(inst, config.horizon)
    if "budget" in config.sections:
        def budget():
            users, budgets = budget_grids(panel.n_users, panel.n_choices)
            sub = subopt_for_budget(jax.random.fold_in(key, 5), inst, users, budgets, feedback,
                                    n_draws=config.budget_draws, policy=config.log_policy)
            online_budget = int(budgets[-2])
            online = greedy_for_budget(jax.random.fold_in(key, 6), inst, users, online_budget,
                                       feedback, n_draws=max(config.budget_draws // 2, 2),
                                       warm_start=min(config.warm_start, online_budget // 4))
            return {"users": users, "budgets": budgets, "subopt": sub, "online": online,
                    "online_budget": online_budget, "policy": config.log_policy,
                    "exchange": exchange_rate(users, budgets, sub)}

        out["budget"] = step("budget", budget)
    return out
