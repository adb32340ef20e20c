"""dial experiments E3 and E4: diversity dialled by F4 (eta) and F5 (minority mass p) over
hundreds to thousands of instances in one compiled call per learner.

E3: does greedy's plateau (R(T) - R(n0), the regret paid after an n0-round warm start) and burn-in shrink as lambda_D grows, and does
the plateau scale like 1/lambda_D? Spearman correlation across instances, and the log-log slope of
the plateau against lambda_D with a bootstrap CI over instances (-1 means plateau ∝ 1/lambda_D).
E4: when does personalization pay? The regret of the non-personalized greedy (one shared reward)
over the personalized one, as a function of eta (eta = 0: a homogeneous population).

Burn-in (a documented choice): the first checkpoint after the warm start by which the seeds' mean
count of post-warm-start mistakes has reached 90% of its final value.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.stats
import jax
import jax.numpy as jnp

from jaxpa.diagnostics.curve_stats import value_at
from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.envs.families import f4_interpolation, f5_minority
from jaxpa.envs.instance import validate
from jaxpa.experiments import report
from jaxpa.experiments.runs import Spec, run_specs

SIZES = {"quick": dict(n_instances=16, n_dial=6, horizon=2_000, seeds=4),
         "default": dict(n_instances=64, n_dial=10, horizon=5_000, seeds=8)}
WARM = 100
SPECS = [Spec.of("greedy", "greedy", warm_start=WARM),
         Spec.of("greedy_pop", "greedy_pop", warm_start=WARM)]


def dial_batch(family: str, values: np.ndarray, n_instances: int, key):
    """Instances on a dial: [len(values) * n_instances] flattened (value-major), and the dial
    value of each. The same n_instances keys are used at every dial value."""
    fn = {"f4": lambda k, v: f4_interpolation(k, eta=v),
          "f5": lambda k, v: f5_minority(k, p=v)}[family]
    keys = jax.random.split(key, n_instances)
    vals = jnp.repeat(jnp.asarray(values, jnp.float32), n_instances)
    batch = jax.jit(jax.vmap(fn))(jnp.tile(keys, (len(values),)), vals)
    validate(batch)
    return batch, np.asarray(vals)


def after_warm_start(checkpoints, curves) -> np.ndarray:
    """Cumulative curves [..., C] minus their value at the end of the warm start, R(t) - R(n0):
    what greedy pays after its identification phase (the warm start costs the same everywhere)."""
    return np.asarray(curves, np.float64) - value_at(checkpoints, curves, WARM)[..., None]


def burn_in(checkpoints, mistakes) -> np.ndarray:
    """[B, S, C] mistakes -> [B] first checkpoint after the warm start by which the seeds' mean
    count of post-warm-start mistakes reaches 90% of its final value."""
    m = after_warm_start(checkpoints, mistakes).mean(-2)
    ck = np.asarray(checkpoints)
    reached = (m >= 0.9 * m[..., -1:]) & (ck >= WARM)
    return ck[np.argmax(reached, axis=-1)]


def loglog_slope(x, y, n_boot: int = 2000, seed: int = 0) -> dict:
    """Least-squares slope of log y on log x with a percentile bootstrap CI over points."""
    lx, ly = np.log(x), np.log(y)
    slope = lambda i: np.polyfit(lx[i], ly[i], 1)[0]
    rng = np.random.default_rng(seed)
    boots = [slope(rng.integers(0, len(lx), len(lx))) for _ in range(n_boot)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"slope": float(slope(np.arange(len(lx)))), "ci": [float(lo), float(hi)],
            "n": int(len(lx))}


def analyse(values, diag, plateau, burn) -> dict:
    """E3 statistics over the instances where UD holds with a resolved lambda_D."""
    lam = np.asarray(diag.lambda_D, np.float64)
    ok = np.asarray(diag.ud_holds) & np.isfinite(lam) & (lam > np.asarray(diag.tol)) & \
        (plateau > 0) & (values > 0)
    rho, pval = scipy.stats.spearmanr(lam[ok], plateau[ok])
    rho_b, pval_b = scipy.stats.spearmanr(lam[ok], burn[ok])
    scale = np.asarray(diag.plateau_scale, np.float64)
    ok_s = ok & np.isfinite(scale)
    return {"n_used": int(ok.sum()), "n_total": int(len(ok)),
            "spearman_lambda_plateau": [float(rho), float(pval)],
            "spearman_lambda_burn_in": [float(rho_b), float(pval_b)],
            "loglog_plateau_vs_lambda": loglog_slope(lam[ok], plateau[ok]),
            "loglog_plateau_vs_hypothesis_scale": loglog_slope(scale[ok_s], plateau[ok_s]),
            "by_value": {f"{v:.3g}": {"lambda_D_median": float(np.median(lam[values == v])),
                                      "plateau_mean": float(plateau[values == v].mean()),
                                      "burn_in_median": float(np.median(burn[values == v]))}
                         for v in np.unique(values)}}


def run_dial(out, *, n_instances: int, n_dial: int, horizon: int, seeds: int, seed: int = 0,
             log=print) -> dict:
    out = Path(out)
    config = dict(n_instances=n_instances, n_dial=n_dial, horizon=horizon, seeds=seeds, seed=seed,
                  warm_start=WARM)
    store = report.ResultStore(out, config)
    key = jax.random.key(seed)
    dials = {"f4": np.linspace(0.0, 1.0, n_dial), "f5": np.geomspace(0.01, 0.5, n_dial)}
    results, raw = {}, {}
    for i, (fam, values) in enumerate(dials.items()):
        batch, vals = dial_batch(fam, values, n_instances, jax.random.fold_in(key, 10 + i))
        diag = jax.jit(jax.vmap(lambda inst: diagnose(inst, "bt_ref")))(batch)
        runs = run_specs(store, jax.random.fold_in(key, 20 + i), batch, fam, SPECS,
                         feedback="bt_ref", horizon=horizon, n_seeds=seeds, log=log)
        ck = runs["greedy"]["checkpoints"]
        plateau = after_warm_start(ck, runs["greedy"]["regret"])[..., -1].mean(-1)
        pop = after_warm_start(ck, runs["greedy_pop"]["regret"])[..., -1].mean(-1)
        burn = burn_in(ck, runs["greedy"]["mistakes"])
        res = analyse(vals, diag, plateau, burn)
        res["e4_pop_over_personalized"] = {
            f"{v:.3g}": dict(zip(("mean", "ci"), _ratio(pop[vals == v], plateau[vals == v])))
            for v in np.unique(vals)}
        results[fam] = res
        raw[fam] = dict(values=vals, lambda_D=np.asarray(diag.lambda_D), plateau=plateau,
                        burn_in=burn, pop=pop, ud=np.asarray(diag.ud_holds))
    summary = {"config": config, "metadata": report.run_metadata(), "results": results}
    report.write_json(out / "summary.json", summary)
    report.write_npz(out / "per_instance.npz", **{f"{f}__{k}": v for f, d in raw.items()
                                                   for k, v in d.items()})
    _plot(out / "dial.png", raw)
    return summary


def _ratio(num, den):
    """Mean of per-instance ratios and its 95% normal CI."""
    r = num / np.maximum(den, 1e-9)
    m, h = report.mean_ci(r)
    return float(m), [float(m - h), float(m + h)]


def _plot(path, raw):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for fam, d in raw.items():
        ok = d["ud"] & (d["lambda_D"] > 0) & (d["plateau"] > 0) & (d["values"] > 0)
        axes[0].scatter(d["lambda_D"][ok], d["plateau"][ok], s=6, alpha=0.5, label=fam)
        axes[1].scatter(d["lambda_D"][ok], d["burn_in"][ok], s=6, alpha=0.5, label=fam)
    for ax, yl in ((axes[0], "greedy plateau R(T)"), (axes[1], "burn-in (rounds)")):
        ax.set(xscale="log", yscale="log", xlabel="λ_D", ylabel=yl)
        ax.legend()
        ax.grid(alpha=0.3)
    d = raw["f4"]
    etas = np.unique(d["values"])
    ratio = [np.mean(d["pop"][d["values"] == e] / np.maximum(d["plateau"][d["values"] == e], 1e-9))
             for e in etas]
    axes[2].plot(etas, ratio, "o-")
    axes[2].set(yscale="log", xlabel="η (F4 head spread)", ylabel="R_pop(T) / R_personalized(T)",
                title="E4: when personalization pays")
    axes[2].grid(alpha=0.3)
    axes[0].set_title("E3: plateau against λ_D")
    axes[1].set_title("E3: burn-in against λ_D")
    axes[0].set_ylabel(f"greedy plateau R(T) - R({WARM})")
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", choices=sorted(SIZES), default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/dial")


def run(args) -> int:
    summary = run_dial(args.out, seed=args.seed, **SIZES[args.size])
    for fam, res in summary["results"].items():
        print(fam, {k: v for k, v in res.items() if k != "by_value"})
    return 0
