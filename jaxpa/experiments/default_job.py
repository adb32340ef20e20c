"""run the default job: greedy, warm-started greedy, uniform and oracle on F1 (diverse, UD holds)
and F2 (homogeneous, UD fails) with bt_ref feedback; curves, plot and summary table.

Outputs (in --out, default results/default): summary.json (config, versions, per-run statistics
and mean curves), curves.npz (every seed's curve), regret.png, and parts/ (one finished run per
file: an interrupted job resumes where it stopped).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import jax

from jaxpa.diagnostics.curve_stats import curve_stats, curve_verdict
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.envs.instance import InstanceError, validate_horizon
from jaxpa.learners import make_learner
from jaxpa.experiments import report
from jaxpa.experiments.runs import Spec, run_specs

FAMILY_TITLES = {"f1": "F1 diverse (UD holds)", "f2": "F2 homogeneous (UD fails)"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--horizon", type=int, default=60_000, help="rounds T per run")
    p.add_argument("--seeds", type=int, default=256, help="seeds per (family, learner)")
    p.add_argument("--warm-start", type=int, default=200, help="n0 uniform rounds of greedy+warm")
    p.add_argument("--families", default="f1,f2", help="comma-separated family names")
    p.add_argument("--feedback", default="bt_ref", help="feedback model")
    p.add_argument("--seed", type=int, default=0, help="master random seed")
    p.add_argument("--chunk", type=int, default=None, help="rounds per compiled chunk (progress)")
    p.add_argument("--out", default="results/default", help="output folder")


def learner_specs(warm_start: int) -> list[Spec]:
    """The default job's learners: greedy with and without a warm start, uniform, oracle."""
    return [Spec.of("greedy", "greedy", warm_start=0),
            Spec.of(f"greedy+warm{warm_start}", "greedy", warm_start=warm_start),
            Spec.of("uniform", "uniform"), Spec.of("oracle", "oracle")]


def check_args(args) -> list[str]:
    validate_horizon(args.horizon)
    if args.seeds < 1:
        raise InstanceError(f"--seeds: expected a positive integer, got {args.seeds}")
    if args.warm_start < 0:
        raise InstanceError(f"--warm-start: expected >= 0, got {args.warm_start}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise InstanceError(f"--families: unknown {unknown}; known: {sorted(FAMILIES)}")
    make_learner("greedy", args.feedback)  # unknown feedback names fail here, before compiling
    return families


def summarize(checkpoints, regret, mistakes) -> dict:
    """Per-run statistics from seed curves [S, C] (diagnostics/curve_stats.py's fixed method)."""
    st = curve_stats(checkpoints=checkpoints, regret=regret, mistakes=mistakes)
    final_m, final_h = report.mean_ci(regret[:, -1])
    mean_curve, band = report.mean_ci(regret, axis=0)
    return {"final_regret": final_m, "final_regret_ci": final_h,
            "added_second_half": float(st.added_mean),
            "added_second_half_ci": [float(st.added_low), float(st.added_high)],
            "late_log_slope": float(st.slope), "late_log_slope_ci": [float(st.slope_low),
                                                                     float(st.slope_high)],
            "stuck_fraction": float(st.stuck_fraction), "verdict": curve_verdict(st),
            "mean_curve": mean_curve, "band": band}


def run(args) -> int:
    families = check_args(args)
    out = Path(args.out)
    config = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"
              and k != "out" and k != "chunk"}
    store = report.ResultStore(out, config)
    key = jax.random.key(args.seed)
    specs = learner_specs(args.warm_start)
    results, raw = {}, {}
    for fi, fam in enumerate(families):
        inst = make_family(fam, jax.random.fold_in(key, 1000 + fi))
        # every learner on a family meets the same stream
        runs = run_specs(store, jax.random.fold_in(key, fi), inst, fam, specs,
                         feedback=args.feedback, horizon=args.horizon, n_seeds=args.seeds,
                         chunk=args.chunk)
        for label, done in runs.items():
            raw[f"{fam}__{label}"] = done
            results.setdefault(fam, {})[label] = summarize(**done)
    checkpoints = next(iter(raw.values()))["checkpoints"]
    report.write_npz(out / "curves.npz", **{f"{p}__{k}": v[k] for p, v in raw.items()
                                           for k in ("regret", "mistakes")},
                     checkpoints=checkpoints)
    report.write_json(out / "summary.json", {"config": config, "metadata": report.run_metadata(),
                                             "checkpoints": checkpoints, "results": results})
    _plot(out / "regret.png", checkpoints, families, specs, raw)
    rows = [{"family": fam, "learner": label,
             "R(T)": f"{s['final_regret']:.1f} ± {s['final_regret_ci']:.1f}",
             "R(T)-R(T/2) [95% CI]": "{:.1f} [{:.1f}, {:.1f}]".format(
                 s["added_second_half"], *s["added_second_half_ci"]),
             "stuck": f"{s['stuck_fraction']:.2f}", "verdict": s["verdict"]}
            for fam, by in results.items() for label, s in by.items()]
    print(f"\nT = {args.horizon}, {args.seeds} seeds, {args.feedback} feedback (mean ± 95% CI; "
          "verdict: diagnostics/curve_stats.py)")
    print(report.format_table(rows, ["family", "learner", "R(T)", "R(T)-R(T/2) [95% CI]", "stuck",
                                     "verdict"]))
    print(f"\nwrote {out / 'summary.json'}, {out / 'curves.npz'}, {out / 'regret.png'}")
    return 0


def _plot(path, checkpoints, families, specs, raw):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, fam in zip(axes[0], families):
        report.plot_regret(None, checkpoints, {label: raw[f"{fam}__{label}"]["regret"]
                                               for label in (s.label for s in specs)},
                           title=FAMILY_TITLES.get(fam, fam), ax=ax)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)
