"""compare every learner on F1 (diverse, UD holds) and F2 (homogeneous, UD fails): one plot of mean
cumulative regret against log t with 95% bands, and a table of curve statistics.

All learners on a family meet the same users, prompts and feedback noise (one key per family, the
same as ``jaxpa run``'s). Learners that differ only in hyperparameters run as one vmapped sweep:
greedy and greedy+warm (n0 = --warm-start), eps_greedy (constant eps) and eps_decay (eps_t = c/t),
etc (fixed m) and etc_log (m = c log T, with the horizon set to --horizon). Every learner uses its
registry defaults (learners/registry.py), untuned.

Outputs (in --out, default results/compare): compare.png, summary.json (config, versions, the
table), curves.npz (every seed's curve). Expected ordering: MODEL.md §6.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.diagnostics.curve_stats import curve_stats, curve_verdict
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.envs.feedback import make_feedback
from jaxpa.envs.instance import InstanceError, validate_horizon
from jaxpa.experiments import report
from jaxpa.learners.base import SECOND_RESPONSES
from jaxpa.learners.registry import LEARNERS, for_horizon, make_learner
from jaxpa.runner import simulate

TITLES = {"f1": "F1 diverse (UD holds)", "f2": "F2 homogeneous (UD fails)"}
DEFAULT_LEARNERS = ("oracle", "greedy", "eps_greedy", "eps_decay", "etc", "etc_log", "ucb", "ts",
                    "greedy_pop", "ucb_pop", "ts_pop", "uniform")
SWEEP_BASE = {"eps_decay": "eps_greedy", "etc_log": "etc"}  # same code, other default hparams
OWN = {"ucb": "optimistic", "ucb_pop": "optimistic", "ts": "sampled", "ts_pop": "sampled"}
NO_SECOND = ("uniform", "oracle")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--horizon", type=int, default=5000, help="rounds T per run")
    p.add_argument("--seeds", type=int, default=32, help="seeds per (family, learner)")
    p.add_argument("--learners", default=",".join(DEFAULT_LEARNERS),
                   help=f"comma-separated registry names (known: {', '.join(sorted(LEARNERS))})")
    p.add_argument("--warm-start", type=int, default=200,
                   help="n0 of the extra greedy+warm curve (0: no such curve)")
    p.add_argument("--families", default="f1,f2", help="comma-separated family names")
    p.add_argument("--feedback", default="bt_ref", help="feedback model")
    p.add_argument("--slate-size", type=int, default=3, help="slate size S for --feedback mnl")
    p.add_argument("--second", default="reference", choices=SECOND_RESPONSES + ("own",),
                   help="bt_duel second response (learners/duel.py); own: ucb's optimistic and "
                        "ts's sampled challenger, runner_up for the other learners")
    p.add_argument("--seed", type=int, default=0, help="master random seed")
    p.add_argument("--out", default="results/compare", help="output folder")


def _names(text: str, known, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise InstanceError(f"--{what}: unknown {unknown or names}; known: {sorted(known)}")
    return names


def check_args(args):
    """Validate everything before compiling: (families, learner names, feedback model)."""
    validate_horizon(args.horizon)
    if args.seeds < 2:
        raise InstanceError(f"--seeds: need >= 2 for confidence bands, got {args.seeds}")
    if args.warm_start < 0:
        raise InstanceError(f"--warm-start: expected >= 0, got {args.warm_start}")
    options = {"slate_size": args.slate_size} if args.feedback == "mnl" else {}
    feedback = make_feedback(args.feedback, **options)
    return (_names(args.families, FAMILIES, "families"), _names(args.learners, LEARNERS, "learners"),
            feedback)


def learner_options(name: str, feedback, second: str) -> dict:
    """The ``second`` option of a learner under bt_duel (none elsewhere, nor for uniform/oracle)."""
    if feedback.name != "bt_duel" or name in NO_SECOND:
        return {}
    return {"second": OWN.get(name, "runner_up") if second == "own" else second}


def sweep_groups(names, feedback, horizon: int, warm_start: int, second: str = "reference"):
    """Group curves that share a learner's code into sweeps: [(learner, labels, hparams)], hparams
    stacked along a leading axis when a group has several labels."""
    groups: dict[str, tuple[list, list]] = {}
    for name in names:
        try:
            learner = make_learner(name, feedback, **learner_options(name, feedback, second))
        except TypeError as e:
            raise InstanceError(f"--second: learner {name!r} takes no second-response policy "
                                f"({e})") from None
        hp = for_horizon(learner.default_hparams(), horizon)
        labels, hps = groups.setdefault(SWEEP_BASE.get(name, name), ([], []))
        labels.append(name)
        hps.append(hp)
        if name == "greedy" and warm_start > 0:
            labels.append(f"greedy+warm{warm_start}")
            hps.append(hp.replace(warm_start=jnp.int32(warm_start)))
    out = []
    for base, (labels, hps) in groups.items():
        stacked = hps[0] if len(hps) == 1 else jax.tree.map(lambda *x: jnp.stack(x), *hps)
        out.append((make_learner(base, feedback, **learner_options(base, feedback, second)),
                    labels, stacked))
    return out


def run_family(key, inst, groups, horizon: int, seeds: int) -> dict[str, dict]:
    """{label: {"regret": [S, C], "mistakes": [S, C]}} plus "checkpoints"; prints timings."""
    curves = {}
    for learner, labels, hp in groups:
        t0 = time.perf_counter()
        c = simulate(key, inst, learner, hp, horizon=horizon, n_seeds=seeds)
        regret, mistakes = np.asarray(c.regret), np.asarray(c.mistakes)
        for i, label in enumerate(labels):
            pick = (lambda x: x[i]) if len(labels) > 1 else (lambda x: x)
            curves[label] = {"regret": pick(regret), "mistakes": pick(mistakes)}
        curves["checkpoints"] = np.asarray(c.checkpoints)
        print(f"  {', '.join(labels):28s} {time.perf_counter() - t0:6.1f} s", flush=True)
    return curves


def table_rows(family: str, curves: dict) -> list[dict]:
    rows = []
    for label, c in curves.items():
        if label == "checkpoints":
            continue
        s = curve_stats(checkpoints=curves["checkpoints"], regret=c["regret"],
                        mistakes=c["mistakes"])
        rows.append({"family": family, "learner": label, "R(T)": f"{float(s.final_mean):.1f}",
                     "added [T/2,T]": f"{float(s.added_mean):.1f} "
                                      f"[{float(s.added_low):.1f}, {float(s.added_high):.1f}]",
                     "slope b/log t": f"{float(s.slope):.1f} "
                                      f"[{float(s.slope_low):.1f}, {float(s.slope_high):.1f}]",
                     "stuck": f"{float(s.stuck_fraction):.2f}",
                     "verdict": str(curve_verdict(s))})
    return rows


def run(args) -> int:
    families, names, feedback = check_args(args)
    out = Path(args.out)
    key = jax.random.key(args.seed)
    groups = sweep_groups(names, feedback, args.horizon, args.warm_start, args.second)
    results, rows, t_start = {}, [], time.perf_counter()
    for fi, fam in enumerate(families):
        print(f"{fam}:", flush=True)
        inst = make_family(fam, jax.random.fold_in(key, 1000 + fi))  # as in `jaxpa run`
        results[fam] = run_family(jax.random.fold_in(key, fi), inst, groups, args.horizon,
                                  args.seeds)
        rows += table_rows(fam, results[fam])
    config = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
    report.write_npz(out / "curves.npz", **{f"{fam}__{label}__{k}": v
                                           for fam, by in results.items()
                                           for label, c in by.items() if label != "checkpoints"
                                           for k, v in c.items()},
                     checkpoints=next(iter(results.values()))["checkpoints"])
    report.write_json(out / "summary.json", {"config": config, "metadata": report.run_metadata(),
                                             "table": rows})
    plot(out / "compare.png", families, results, f"{feedback.name} feedback, "
         f"{args.seeds} seeds, mean and 95% band")
    columns = ["family", "learner", "R(T)", "added [T/2,T]", "slope b/log t", "stuck", "verdict"]
    print(f"\nT = {args.horizon}, {args.seeds} seeds, {feedback.name} feedback; added: regret "
          f"over [T/2, T] (95% CI); slope: R(t) ~ a + b log t on [T/10, T] (bootstrap CI)")
    print(report.format_table(rows, columns))
    print(f"\n{time.perf_counter() - t_start:.0f} s; wrote {out / 'compare.png'}, "
          f"{out / 'summary.json'}, {out / 'curves.npz'}")
    return 0


def _y_top(by: dict, labels) -> float:
    """Linear y axis up to 1.3 x the largest mean R(T) of the learners that do not ignore the user
    or the data (uniform and *_pop curves, linear on F1, leave the panel at the top)."""
    ends = [by[k]["regret"][:, -1].mean() for k in labels
            if k != "uniform" and not k.endswith("_pop")]
    return 1.3 * max(max(ends, default=0.0), 1.0)


def plot(path, families, results, subtitle: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    labels = [k for k in results[families[0]] if k != "checkpoints"]
    colors = [plt.cm.tab10(i % 10) for i in range(len(labels))]
    styles = ["-" if i < 10 else "--" for i in range(len(labels))]
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families) + 2, 5), squeeze=False)
    for ax, fam in zip(axes[0], families):
        ax.set_prop_cycle(cycler(color=colors, linestyle=styles))
        by = results[fam]
        report.plot_regret(None, by["checkpoints"], {k: by[k]["regret"] for k in labels},
                           title=f"{TITLES.get(fam, fam)}\n{subtitle}", ax=ax)
        ax.set_ylim(0, _y_top(by, labels))
        ax.get_legend().remove()
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="center right", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))
    report.write_png(path, fig)
    plt.close(fig)
