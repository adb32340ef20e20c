"""online experiments E1 and the F6 control: every learner on named families, same random stream.

E1 (MODEL.md §6): F1 (UD holds), F2 (homogeneous) and F3 (clustered: heads span, UD fails).
F6 control: continuous heads, no margin. For each family: the instance's diagnostics, regret
curves of every learner, and per learner the curve statistics (plateau test, late log-slope with
bootstrap CI, stuck fraction) and the verdict of diagnostics/curve_stats.py.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import jax

from jaxpa.diagnostics.curve_stats import curve_stats, curve_verdict
from jaxpa.diagnostics.report import summarize_instance
from jaxpa.envs.families import make_family
from jaxpa.envs.instance import InstanceError, validate_horizon
from jaxpa.experiments import report
from jaxpa.experiments.runs import Spec, run_specs

SIZES = {"quick": dict(horizon=4_000, seeds=32), "default": dict(horizon=50_000, seeds=128)}


def online_specs(warm_start: int = 200) -> list[Spec]:
    """The learners of E1: greedy (with and without warm start), the consistent learners
    (eps_t = c/t, ETC with m = c log T, GLM-UCB, Laplace TS), the non-personalized greedy, and
    the two ends (uniform, oracle)."""
    return [Spec.of("greedy", "greedy"),
            Spec.of(f"greedy+warm{warm_start}", "greedy", warm_start=warm_start),
            Spec.of("eps_t=c/t", "eps_decay"), Spec.of("etc(c log T)", "etc_log"),
            Spec.of("ucb", "ucb"), Spec.of("ts", "ts"), Spec.of("greedy_pop", "greedy_pop"),
            Spec.of("uniform", "uniform"), Spec.of("oracle", "oracle")]


def stats_row(checkpoints, regret, mistakes) -> dict:
    """Curve statistics of one learner's seed curves [S, C] as plain numbers, with the verdict."""
    st = curve_stats(checkpoints=checkpoints, regret=regret, mistakes=mistakes)
    f = lambda x: float(np.asarray(x))
    return {"final_regret": f(st.final_mean), "added_second_half": f(st.added_mean),
            "added_ci": [f(st.added_low), f(st.added_high)], "late_log_slope": f(st.slope),
            "slope_ci": [f(st.slope_low), f(st.slope_high)],
            "stuck_fraction": f(st.stuck_fraction), "verdict": str(curve_verdict(st)),
            "late_start": st.late_start}


def run_online(out, *, families, horizon: int, seeds: int, seed: int = 0, feedback="bt_ref",
               specs: list[Spec] | None = None, chunk=None, log=print) -> dict:
    """Run ``specs`` on each family; write summary.json and regret.png into ``out``."""
    validate_horizon(horizon)
    if seeds < 2:
        raise InstanceError(f"seeds: the curve statistics need at least 2 seeds, got {seeds}")
    specs = specs or online_specs()
    out = Path(out)
    config = dict(families=list(families), horizon=horizon, seeds=seeds, seed=seed,
                  feedback=feedback, specs=[str(s) for s in specs])
    store = report.ResultStore(out, config)
    key = jax.random.key(seed)
    results, curves = {}, {}
    for fam in families:
        tag = f"{fam}"
        fam_key = jax.random.fold_in(key, int.from_bytes(fam.encode(), "little") % 2**31)
        inst = make_family(fam, jax.random.fold_in(fam_key, 1))
        runs = run_specs(store, jax.random.fold_in(fam_key, 2), inst, tag, specs,
                         feedback=feedback, horizon=horizon, n_seeds=seeds, chunk=chunk, log=log)
        curves[fam] = runs
        results[fam] = {"diagnostics": summarize_instance(inst, feedback),
                        "learners": {label: stats_row(**r) for label, r in runs.items()}}
    checkpoints = next(iter(next(iter(curves.values())).values()))["checkpoints"]
    summary = {"config": config, "metadata": report.run_metadata(), "checkpoints": checkpoints,
               "results": results,
               "mean_curves": {fam: {label: r["regret"].mean(0) for label, r in runs.items()}
                               for fam, runs in curves.items()}}
    report.write_json(out / "summary.json", summary)
    _plot(out / "regret.png", checkpoints, curves, results)
    return summary


def _plot(path, checkpoints, curves, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(curves)
    fig, axes = plt.subplots(1, len(fams), figsize=(5.5 * len(fams), 4.2), squeeze=False)
    for ax, fam in zip(axes[0], fams):
        d = results[fam]["diagnostics"]
        title = f"{fam}: UD {'holds' if d['ud_holds'] else 'fails'} (λ_D={d['lambda_D']:.2g})"
        series = {label: r["regret"] for label, r in curves[fam].items() if label != "uniform"}
        report.plot_regret(None, checkpoints, series, title=title, ax=ax)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)


def format_results(results: dict) -> str:
    rows = [{"family": fam, "learner": label, "R(T)": f"{r['final_regret']:.1f}",
             "added [T/2,T] (95% CI)": "{:.1f} [{:.1f}, {:.1f}]".format(
                 r["added_second_half"], *r["added_ci"]),
             "late slope b (95% CI)": "{:.2f} [{:.2f}, {:.2f}]".format(
                 r["late_log_slope"], *r["slope_ci"]),
             "stuck": f"{r['stuck_fraction']:.2f}", "verdict": r["verdict"]}
            for fam, res in results.items() for label, r in res["learners"].items()]
    return report.format_table(rows, list(rows[0]))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--families", default="f1,f2,f3", help="comma-separated (f6: the control)")
    p.add_argument("--size", choices=sorted(SIZES), default="default")
    p.add_argument("--horizon", type=int, default=None, help="override the size's horizon")
    p.add_argument("--seeds", type=int, default=None, help="override the size's seeds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/online")


def run(args) -> int:
    size = dict(SIZES[args.size])
    size.update({k: v for k, v in (("horizon", args.horizon), ("seeds", args.seeds)) if v})
    fams = [f.strip() for f in args.families.split(",") if f.strip()]
    summary = run_online(args.out, families=fams, seed=args.seed, **size)
    print(format_results(summary["results"]))
    print(f"\nwrote {args.out}/summary.json and regret.png")
    return 0
