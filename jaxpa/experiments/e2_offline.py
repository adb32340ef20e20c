"""run E2 (offline): SubOpt(n) of the plug-in policy for datasets logged by optimal-vs-reference,
uniform and online-learner-prefix policies, on a UD-holds (F1) and a UD-fails (F2) family.

For each family (instance drawn as in ``jaxpa run``; its diagnostics give the UD verdict) and
each logging policy: SubOpt(n) on a log-spaced grid of n up to n_max over many seeds (exact
ridge MLE per n, exact SubOpt; jaxpa.offline), the fitted decay (rate, exponent, bootstrap CIs,
verdict: jaxpa.offline.rates), n(eps), the identifiable SubOpt (what the log can ever reveal) and,
for stationary policies, the Gaussian-approximation rate (jaxpa.offline.theory) to compare with.

n_max "auto" (the default): 6 / (the smallest positive predicted rate of the family's stationary
policies), rounded up, within [1e3, 1e6]: past it the mean over the seeds cannot resolve SubOpt.
Online-learner prefixes are rolled out round by round (stationary policies are sampled as
sufficient statistics, jaxpa.offline.sampled), so they use fewer seeds and n <= n_max_rollout.

Outputs (--out, default results/offline): summary.json, curves.npz, subopt.png (log SubOpt vs n,
one panel per family, linear and log n), n_eps.png (n(eps) vs log 1/eps), parts/ (resumable).
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import jax

from jaxpa.diagnostics import diagnose, diagnostics_summary
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.envs.instance import InstanceError
from jaxpa.experiments import report
from jaxpa.experiments.e2_report import (eps_grid, expected_verdict, markdown_section,
                                         offline_claims, plot_n_eps, plot_subopt, summary_table)
from jaxpa.offline.curves import subopt_curves
from jaxpa.offline.logging import check_policy
from jaxpa.offline.rates import bootstrap_means, decay_fit
from jaxpa.offline.sampled import STATIONARY
from jaxpa.offline.subopt import n_epsilon
from jaxpa.offline.theory import gaussian_rate

DEFAULT_CONFIG = {"families": ["f1", "f2"], "feedback": "bt_ref",
                  "policies": ["optimal", "uniform", "greedy"], "n_max": "auto",
                  "n_max_rollout": 50_000, "grid_points": 80, "seeds": 1024, "rollout_seeds": 128,
                  "ridge": 1.0, "n_iter": 15, "n_boot": 1000, "eps_points": 40, "seed": 0,
                  "batch": None}
QUICK_CONFIG = dict(DEFAULT_CONFIG, grid_points=36, rollout_seeds=32, n_max_rollout=5_000,
                    n_boot=300)


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = DEFAULT_CONFIG
    p.add_argument("--quick", action="store_true",
                   help="small sizes (fewer seeds, grid points and rollout rounds)")
    p.add_argument("--families", default=",".join(d["families"]), help="comma-separated families")
    p.add_argument("--policies", default=",".join(d["policies"]),
                   help="comma-separated logging policies: optimal, uniform, greedy, "
                        "greedy_warm or any learner name (its online prefix)")
    p.add_argument("--feedback", default=d["feedback"], help="bt_ref, bt_duel or scalar")
    p.add_argument("--n-max", default=None, help="largest dataset size: an integer or 'auto'")
    p.add_argument("--n-max-rollout", type=int, default=None,
                   help="cap on n for rolled-out policies")
    p.add_argument("--grid-points", type=int, default=None, help="log-spaced dataset sizes")
    p.add_argument("--seeds", type=int, default=None, help="seeds of stationary policies")
    p.add_argument("--rollout-seeds", type=int, default=None, help="seeds of rolled-out policies")
    p.add_argument("--ridge", type=float, default=None, help="ridge lambda of the MLE")
    p.add_argument("--seed", type=int, default=None, help="master random seed")
    p.add_argument("--batch", type=int, default=None,
                   help="seeds per compiled step (default: 16 on the CPU, all on a GPU)")
    p.add_argument("--out", default="results/offline", help="output folder")


def config_from_args(args) -> dict:
    config = copy.deepcopy(QUICK_CONFIG if args.quick else DEFAULT_CONFIG)
    config["families"] = [f.strip() for f in args.families.split(",") if f.strip()]
    config["policies"] = [s.strip() for s in args.policies.split(",") if s.strip()]
    config["feedback"] = args.feedback
    for name in ("n_max", "n_max_rollout", "grid_points", "seeds", "rollout_seeds", "ridge", "seed",
                 "batch"):
        value = getattr(args, name)
        if value is not None:
            config[name] = value
    if config["n_max"] != "auto":
        try:
            config["n_max"] = int(config["n_max"])
        except ValueError:
            raise InstanceError(f"--n-max: expected an integer or 'auto', got "
                                f"{args.n_max!r}") from None
    return config


def check_config(config: dict) -> dict:
    """Validate a config (defaults filled in) before anything compiles."""
    config = dict(DEFAULT_CONFIG, **config)
    unknown = [f for f in config["families"] if f not in FAMILIES]
    if unknown or not config["families"]:
        raise InstanceError(f"families: unknown {unknown}; known: {sorted(FAMILIES)}")
    if not config["policies"]:
        raise InstanceError("policies: none given")
    for policy in config["policies"]:
        check_policy(policy, config["feedback"])
    for name in ("n_max_rollout", "grid_points", "seeds", "rollout_seeds", "n_iter", "n_boot",
                 "eps_points"):
        if isinstance(config[name], bool) or int(config[name]) != config[name] or config[name] < 1:
            raise InstanceError(f"{name}: expected a positive integer, got {config[name]!r}")
    if config["grid_points"] < 8:
        raise InstanceError("grid_points: need at least 8 dataset sizes")
    n_max = config["n_max"]
    if n_max != "auto" and not (isinstance(n_max, int) and not isinstance(n_max, bool)
                                and n_max >= 10):
        raise InstanceError(f"n_max: expected 'auto' or an integer >= 10, got {config['n_max']!r}")
    if config["batch"] is not None and not (int(config["batch"]) == config["batch"] >= 1):
        raise InstanceError(f"batch: expected a positive integer or None, got {config['batch']!r}")
    if not float(config["ridge"]) > 0:
        raise InstanceError(f"ridge: expected > 0, got {config['ridge']!r}")
    return config


def auto_n_max(rates: list[float]) -> int:
    """6 / (smallest positive rate), rounded up to 2 significant digits, within [1e3, 1e6]."""
    positive = [r for r in rates if np.isfinite(r) and r > 0]
    if not positive:
        return 10_000
    n = 6.0 / min(positive)
    step = 10 ** max(int(np.floor(np.log10(n))) - 1, 0)
    return int(min(max(np.ceil(n / step) * step, 1_000), 1_000_000))


def size_grid(n_max: int, points: int) -> np.ndarray:
    """0, about ``points`` log-spaced sizes in [1, n_max], and n_max // 2 (for the stall test)."""
    g = np.round(np.geomspace(1, n_max, points)).astype(np.int64)
    return np.unique(np.concatenate([[0, n_max // 2, n_max], g]))


def analyse(ns, subopt, identifiable, config: dict, eps) -> dict:
    """Everything summary.json says about one (family, policy) curve set."""
    mean, half = report.mean_ci(subopt, axis=0)
    fit = decay_fit(ns, subopt, n_boot=config["n_boot"], seed=config["seed"])
    boots = bootstrap_means(subopt, config["n_boot"], config["seed"])
    n_eps = n_epsilon(ns, mean, eps)
    n_eps_boot = n_epsilon(ns, boots, eps)
    with np.errstate(invalid="ignore"):  # targets some resamples never reach: inf
        lo, hi = (np.percentile(n_eps_boot, q, axis=0, method="nearest") for q in (2.5, 97.5))
    # below the smallest positive mean the curve is at the Monte-Carlo floor (every seed optimal
    # at some n): n(eps) there measures the seed count, not SubOpt; plots and the slope skip it
    floor = float(mean[mean > 0].min()) if np.any(mean > 0) else float("inf")
    fin = np.isfinite(n_eps) & (eps <= mean[0] / 10) & (eps >= floor)
    slope = (float(np.polyfit(np.log(1 / eps[fin]), n_eps[fin], 1)[0]) if fin.sum() >= 3
             else float("nan"))
    return {"fit": fit, "verdict": fit["verdict"], "n_seeds": int(subopt.shape[0]),
            "n_max": int(ns[-1]), "identifiable_subopt": float(np.mean(identifiable)),
            "mean": mean, "ci": half, "n_eps": n_eps, "n_eps_low": lo, "n_eps_high": hi,
            "n_eps_slope": slope, "resolution_floor": floor}


def run_family(fi: int, fam: str, config: dict, store: report.ResultStore, log=print) -> dict:
    key = jax.random.key(config["seed"])
    inst = make_family(fam, jax.random.fold_in(key, 1000 + fi))  # the instance of `jaxpa run`
    diag = diagnostics_summary(diagnose(inst, config["feedback"]))
    stationary = [p for p in config["policies"] if p in STATIONARY]
    theory = {p: gaussian_rate(inst, p, config["feedback"]) for p in stationary}
    n_max = (auto_n_max([t["rate"] for t in theory.values()]) if config["n_max"] == "auto"
             else config["n_max"])
    grid = size_grid(n_max, config["grid_points"])
    fp = report.fingerprint(inst)
    raw = {}
    for policy in config["policies"]:
        rolled = policy not in STATIONARY
        ns = grid[grid <= min(n_max, config["n_max_rollout"])] if rolled else grid
        part = f"{fam}__{policy}__{fp}"
        done = store.get(part)
        if done is None:
            t0 = time.perf_counter()
            out = subopt_curves(jax.random.fold_in(key, fi), inst, policy, ns,
                                feedback=config["feedback"], ridge=config["ridge"],
                                n_iter=config["n_iter"],
                                n_seeds=config["rollout_seeds" if rolled else "seeds"],
                                batch=config["batch"])
            done = {k: out[k] for k in ("ns", "subopt", "identifiable")}
            store.put(part, **done)
            log(f"  {fam:3s} {policy:12s} n_max {int(ns[-1]):8d} {time.perf_counter() - t0:6.1f} s")
        else:
            log(f"  {fam:3s} {policy:12s} (already done, loaded from {store.path(part)})")
        raw[policy] = done
    subopt0 = float(np.mean([r["subopt"][:, 0].mean() for r in raw.values()]))
    eps = eps_grid(subopt0, config["eps_points"])
    results = {p: analyse(r["ns"], r["subopt"], r["identifiable"], config, eps)
               for p, r in raw.items()}
    for p, res in results.items():
        res["expected"] = expected_verdict(p, diag["ud_holds"])
        res["matches_expectation"] = (None if res["expected"] is None
                                      else res["verdict"] in res["expected"])
        if p in theory:
            res["predicted_rate"] = theory[p]
    return {"diagnostics": diag, "n_max": n_max, "subopt_at_zero": subopt0, "eps": eps,
            "policies": results, "raw": raw}


def run_e2(config: dict | None, out_dir, log=print) -> dict:
    """Run E2 with ``config`` (missing keys: DEFAULT_CONFIG) into ``out_dir``; returns the
    summary written to summary.json (finished parts in out_dir/parts are reused)."""
    config = check_config(dict(config or {}))
    out = Path(out_dir)
    # parts depend on what shapes the curves, not on the analysis (n_boot, eps_points)
    store = report.ResultStore(out, {k: v for k, v in config.items()
                                     if k not in ("n_boot", "eps_points", "batch")})
    families = {fam: run_family(fi, fam, config, store, log)
                for fi, fam in enumerate(config["families"])}
    report.write_npz(out / "curves.npz", **{f"{fam}__{p}__{k}": v for fam, res in families.items()
                                            for p, r in res["raw"].items() for k, v in r.items()})
    plot_subopt(out / "subopt.png", families)
    plot_n_eps(out / "n_eps.png", families)
    summary = {"config": config, "metadata": report.run_metadata(),
               "families": {fam: {k: v for k, v in res.items() if k != "raw"}
                            for fam, res in families.items()}}
    report.write_json(out / "summary.json", _finite(summary))
    return summary


def _finite(obj):
    """A copy with every non-finite float (inf: a target never reached; NaN: no fit) as None, so
    summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def run(args) -> int:
    config = config_from_args(args)
    t0 = time.perf_counter()
    summary = run_e2(config, args.out)
    print(f"\nE2 offline, {summary['config']['feedback']} feedback "
          f"({time.perf_counter() - t0:.0f} s)")
    print(summary_table(summary))
    print(f"\nwrote {Path(args.out) / 'summary.json'}, curves.npz, subopt.png, n_eps.png")
    return 0


def reproduce_section(out_dir, size: str, seed: int, found: list) -> tuple[list, str]:
    """For ``jaxpa reproduce``: run E2 at size 'quick' or 'default' into out_dir; returns the
    claims found so far plus the offline ones, and the report's Markdown section."""
    config = dict(QUICK_CONFIG if size == "quick" else DEFAULT_CONFIG, seed=seed)
    summary = run_e2(config, out_dir)
    return list(found) + offline_claims(summary), markdown_section(summary, Path(out_dir).name)
