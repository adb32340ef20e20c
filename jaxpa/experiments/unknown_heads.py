"""heads: known-heads greedy against learners that learn the heads (unknown_heads, neural), with
uniform and oracle, on F1 (diverse) and F2 (homogeneous); a table of regret statistics and a plot.

Every learner on a family meets the same users, prompts and feedback noise (one key per family; the
instance drawn as in ``jaxpa run`` / ``jaxpa compare``, plus more draws with --instances). The
unknown-heads learners see only user ids; they are compared with the known-heads learner through
regret, since (W, H) are identified only up to an invertible k×k map. All learners take the same
--warm-start n0 (uniform rounds before acting on their estimates) and otherwise their registry
defaults (learners/registry.py), untuned.

The table reads each curve set (instances × seeds) with diagnostics/curve_stats.py: R(T); regret
added over [T/2, T] (95% CI); late slope of R(t) on log t; stuck share; the verdict; and t95, the
first checkpoint at which the mean curve reaches 95% of R(T) (how late it levels off). Beside it,
per instance, ``head_identifiability``: how well each user's own optimal play pins down its head.

Outputs (in --out, default results/heads): heads.png, summary.json (config, versions, table),
curves.npz (every run's curve).
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
from jaxpa.envs.instance import (Instance, InstanceError, optimal_responses, support_mask,
                                 validate_horizon)
from jaxpa.experiments import report
from jaxpa.learners.registry import make_learner
from jaxpa.runner import simulate

TITLES = {"f1": "F1 diverse (UD holds)", "f2": "F2 homogeneous (UD fails)"}
LEARNERS = (("oracle", "oracle"), ("greedy (known heads)", "greedy"),
            ("unknown_heads", "unknown_heads"), ("neural", "neural"), ("uniform", "uniform"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--horizon", type=int, default=5000, help="rounds T per run")
    p.add_argument("--seeds", type=int, default=8, help="seeds per (instance, learner)")
    p.add_argument("--instances", type=int, default=4, help="instance draws per family")
    p.add_argument("--learners", default=",".join(n for _, n in LEARNERS),
                   help=f"comma-separated subset of {', '.join(n for _, n in LEARNERS)}")
    p.add_argument("--warm-start", type=int, default=0, help="n0 uniform rounds of every learner")
    p.add_argument("--families", default="f1,f2", help="comma-separated family names")
    p.add_argument("--feedback", default="bt_ref", help="feedback model")
    p.add_argument("--seed", type=int, default=0, help="master random seed")
    p.add_argument("--out", default="results/heads", help="output folder")


def check_args(args):
    """Validate before compiling: (families, feedback model, [(label, learner name)])."""
    validate_horizon(args.horizon)
    if min(args.seeds, args.instances) < 1 or args.seeds * args.instances < 2:
        raise InstanceError(f"--seeds, --instances: need >= 1 each and >= 2 runs per family, got "
                            f"{args.seeds} and {args.instances}")
    if args.warm_start < 0:
        raise InstanceError(f"--warm-start: expected >= 0, got {args.warm_start}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise InstanceError(f"--families: unknown {unknown or families}; known: {sorted(FAMILIES)}")
    names = [n.strip() for n in args.learners.split(",") if n.strip()]
    known = [n for _, n in LEARNERS]
    if not names or any(n not in known for n in names):
        raise InstanceError(f"--learners: got {names}; known: {known}")
    return families, make_feedback(args.feedback), [(l, n) for l, n in LEARNERS if n in names]


def draw_instances(name: str, key, family_index: int, n: int) -> Instance:
    """n draws stacked along a leading axis; draw 0 is ``jaxpa run``'s instance of the family."""
    base = jax.random.fold_in(key, 1000 + family_index)
    draws = [make_family(name, base if i == 0 else jax.random.fold_in(base, i)) for i in range(n)]
    return jax.tree.map(lambda *x: jnp.stack(x), *draws)


def head_identifiability(inst: Instance, feedback: str = "bt_ref") -> np.ndarray:
    """Per user u: the smallest singular value of the k × M_u matrix [W g_u(x)]_x over the user's
    prompts, g_u(x) = phi(x, y*_u(x)) - phi(x, y0(x)) (bt_ref) or phi(x, y*_u(x)) (scalar): how
    well u's own optimal play identifies its head once W is known (0: not at all). [N] (NaN for
    other feedback models or users outside the support)."""
    N, k = inst.n_users, inst.k
    if feedback not in ("bt_ref", "scalar"):
        return np.full((N,), np.nan)
    phi, W = np.asarray(inst.features, np.float64), np.asarray(inst.W, np.float64)
    ys, mask = np.asarray(optimal_responses(inst)), np.asarray(support_mask(inst))
    ref = np.asarray(inst.reference)
    out = np.full((N,), np.nan)
    for u in range(N):
        xs = np.flatnonzero(mask[u])
        g = phi[xs, ys[u, xs]] - (phi[xs, ref[xs]] if feedback == "bt_ref" else 0.0)
        if xs.size:
            sv = np.linalg.svd(g @ W.T, compute_uv=False)
            out[u] = sv[k - 1] if sv.size >= k else 0.0
    return out


def run_family(key, inst, feedback, learners, horizon: int, seeds: int, warm_start: int) -> dict:
    """{label: {"regret": [B*S, C], "mistakes": [B*S, C]}, "checkpoints": [C]}; prints timings."""
    curves = {}
    for label, name in learners:
        learner = make_learner(name, feedback)
        hp = learner.default_hparams()
        if hasattr(hp, "warm_start"):
            hp = hp.replace(warm_start=jnp.int32(warm_start))
        t0 = time.perf_counter()
        c = simulate(key, inst, learner, hp, horizon=horizon, n_seeds=seeds)
        flat = lambda x: np.asarray(x).reshape(-1, x.shape[-1])  # [B, S, C] -> [B*S, C]
        curves[label] = {"regret": flat(c.regret), "mistakes": flat(c.mistakes)}
        curves["checkpoints"] = np.asarray(c.checkpoints)
        print(f"  {label:22s} {time.perf_counter() - t0:6.1f} s", flush=True)
    return curves


def t95(checkpoints, regret) -> int:
    """First checkpoint at which the mean curve reaches 95% of its final value."""
    m = np.asarray(regret).mean(0)
    return int(np.asarray(checkpoints)[np.argmax(m >= 0.95 * m[-1])])


def table_rows(family: str, curves: dict) -> list[dict]:
    rows, t = [], curves["checkpoints"]
    uniform = curves["uniform"]["regret"][:, -1].mean() if "uniform" in curves else np.nan
    for label, c in curves.items():
        if label == "checkpoints":
            continue
        s = curve_stats(checkpoints=t, regret=c["regret"], mistakes=c["mistakes"])
        rows.append({"family": family, "learner": label, "R(T)": f"{float(s.final_mean):.1f}",
                     "R(T)/uniform": f"{float(s.final_mean) / uniform:.3f}",
                     "added [T/2,T]": f"{float(s.added_mean):.1f} "
                                      f"[{float(s.added_low):.1f}, {float(s.added_high):.1f}]",
                     "slope b/log t": f"{float(s.slope):.1f}",
                     "t95": t95(t, c["regret"]) if float(s.final_mean) > 0 else "-",
                     "stuck": f"{float(s.stuck_fraction):.2f}", "verdict": str(curve_verdict(s))})
    return rows


def instance_rows(family: str, curves: dict, ident: list, n_instances: int) -> list[dict]:
    """Per instance: head identifiability and, for each learner, R(T) / regret added over [T/2, T]
    (means over seeds)."""
    rows = []
    for i in range(n_instances):
        row = {"family": family, "instance": i, "min ident.": f"{np.nanmin(ident[i]):.3f}"}
        for label, c in curves.items():
            if label in ("checkpoints", "oracle", "uniform"):
                continue
            R = c["regret"].reshape(n_instances, -1, c["regret"].shape[-1])[i]
            half = int(np.searchsorted(curves["checkpoints"], curves["checkpoints"][-1] // 2))
            added = (R[:, -1] - R[:, half]).mean()  # T // 2 is always a checkpoint
            row[label] = f"{R[:, -1].mean():.0f} / {added:.0f}"
        rows.append(row)
    return rows


def run(args) -> int:
    families, feedback, learners = check_args(args)
    out, key, t_start = Path(args.out), jax.random.key(args.seed), time.perf_counter()
    results, rows, ident, per_instance = {}, [], {}, []
    for fi, fam in enumerate(families):
        print(f"{fam}:", flush=True)
        inst = draw_instances(fam, key, fi, args.instances)
        ident[fam] = [head_identifiability(jax.tree.map(lambda x: x[i], inst), feedback.name)
                      for i in range(args.instances)]
        results[fam] = run_family(jax.random.fold_in(key, fi), inst, feedback, learners,
                                  args.horizon, args.seeds, args.warm_start)
        rows += table_rows(fam, results[fam])
        per_instance += instance_rows(fam, results[fam], ident[fam], args.instances)
    config = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
    report.write_npz(out / "curves.npz", checkpoints=next(iter(results.values()))["checkpoints"],
                     **{f"{fam}__{label}__{k}": v for fam, by in results.items()
                        for label, c in by.items() if label != "checkpoints"
                        for k, v in c.items()})
    report.write_json(out / "summary.json", {"config": config, "metadata": report.run_metadata(),
                                             "table": rows, "per_instance": per_instance,
                                             "head_identifiability": ident})
    plot(out / "heads.png", families, results, f"{feedback.name} feedback, {args.instances} "
         f"instance(s) x {args.seeds} seeds, n0 = {args.warm_start}; mean and 95% band")
    print(f"\nT = {args.horizon}, {args.instances} instance(s) x {args.seeds} seeds, "
          f"{feedback.name} feedback, warm start n0 = {args.warm_start}; added: regret over "
          f"[T/2, T] (95% CI); t95: first checkpoint with mean R(t) >= 0.95 R(T)")
    print(report.format_table(rows, ["family", "learner", "R(T)", "R(T)/uniform", "added [T/2,T]",
                                     "slope b/log t", "t95", "stuck", "verdict"]))
    print("\nper instance: min ident. = min over users of sigma_min[W g_u(x)]_x (how well each "
          "user's optimal play identifies its head); learners: R(T) / added over [T/2, T]")
    print(report.format_table(per_instance, list(per_instance[0])))
    print(f"\n{time.perf_counter() - t_start:.0f} s; wrote {out / 'heads.png'}, "
          f"{out / 'summary.json'}, {out / 'curves.npz'}")
    return 0


def plot(path, families, results, subtitle: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(6.5 * len(families), 5), squeeze=False)
    for ax, fam in zip(axes[0], families):
        by = results[fam]
        report.plot_regret(None, by["checkpoints"],
                           {k: v["regret"] for k, v in by.items() if k != "checkpoints"},
                           title=f"{TITLES.get(fam, fam)}\n{subtitle}", ax=ax)
        ax.set_yscale("symlog", linthresh=10.0)
        ax.set_ylim(bottom=0.0)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)
