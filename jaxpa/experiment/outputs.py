"""An experiment's outputs: the tidy summary table (one row per population x instance x learner x
hyperparameter value, with the curve statistics, health and diagnostics), the curves, the figure,
the experiment's own sections and claims, and the Markdown report, written as one unit through
the result store (jaxpa/results.py)."""
from __future__ import annotations

import dataclasses
import platform
import os
from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.envs.instance import optimal_responses
from jaxpa.results import code_identity, config_hash


@dataclasses.dataclass
class Section:
    """A part of the report an experiment's ``analyze`` returns: Markdown text, figures
    (file name -> matplotlib figure), JSON-able data for summary.json, tidy rows for
    <name>.csv, and claims (jaxpa.experiment.claims.Claim)."""

    title: str
    text: str = ""
    figures: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)
    rows: list = dataclasses.field(default_factory=list)
    claims: list = dataclasses.field(default_factory=list)
    name: str = ""


def run_metadata() -> dict[str, Any]:
    """Versions and machine facts recorded beside every result."""
    import flax
    import optax

    return {"code": code_identity(), "jax": jax.__version__, "flax": flax.__version__,
            "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "processes": jax.process_count(),
            "cpu_count": os.cpu_count(), "x64": bool(jax.config.jax_enable_x64)}


DIAG_COLUMNS = ("ud_holds", "lambda_D", "coverage", "head_rank", "dim_D", "min_gap", "kappa")


def summary_rows(results) -> list[dict]:
    """The tidy table: one row per population x instance x learner grid point."""
    rows = []
    for (pop, label), r in results.runs.items():
        p = results.populations[pop]
        s = r.stats
        for b in range(r.regret.shape[0]):
            f = lambda x: float(np.asarray(x)[b])
            row = {"experiment": results.experiment.name, "size": results.size_name,
                   "population": pop, "draw": int(p.meta["draw"][b]),
                   "dial": float(p.meta["dial"][b]), "learner": label, "learner_name": r.learner}
            row.update({f"hp_{k}": v for k, v in r.hparams.items()})
            row.update(horizon=results.size.horizon, seeds=r.regret.shape[1],
                       final_mean=f(s.final_mean), added_mean=f(s.added_mean),
                       added_low=f(s.added_low), added_high=f(s.added_high), slope=f(s.slope),
                       slope_low=f(s.slope_low), slope_high=f(s.slope_high),
                       stuck_fraction=f(s.stuck_fraction), verdict=str(r.verdict[b]),
                       unhealthy_seeds=int((r.nonfinite_at[b] > 0).sum()))
            for name, v in r.extra.items():
                row[f"{name}_final_mean"] = float(v[b, :, -1].mean())
            if r.lock is not None:
                row.update(lock_seed_any=float(r.lock["seed_any"][b]),
                           lock_cell_fraction=float(r.lock["cell_fraction"][b]))
            row.update({f"diag_{k}": p.summaries[b][k] for k in DIAG_COLUMNS})
            rows.append(row)
    return rows


def matching_table(results, pops) -> tuple[str, list[dict]]:
    """Quartiles of Delta_min, kappa and the share of y* = y0 on each side, and the UD status: the
    check that two populations are matched (the online and offline experiments print it)."""
    rows = []
    for pop in pops:
        p = results.populations[pop]
        d = p.diagnostics
        ref_share = np.asarray(jax.vmap(lambda i: jnp.mean((optimal_responses(i) ==
                                                           i.reference[None]).astype(jnp.float32)))(p.instances))
        row = {"population": pop, "draws": int(np.size(d.ud_holds)),
               "UD holds": f"{int(np.sum(d.ud_holds))}/{int(np.size(d.ud_holds))}"}
        for name, v in (("Delta_min", d.min_gap), ("kappa", d.kappa), ("y*=y0 share", ref_share),
                        ("lambda_D", d.lambda_D)):
            q = np.percentile(np.asarray(v, np.float64), [25, 50, 75])
            row[name] = f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]"
        rows.append(row)
    cols = list(rows[0])
    text = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n" + "\n".join(
        "| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)
    return text, rows


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table with right-aligned columns."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def format_ci(c: dict, fmt: str = "{:.3f}") -> str:
    """A {"mean", "low", "high"} dict as 'mean [low, high]'."""
    return f"{fmt.format(c['mean'])} [{fmt.format(c['low'])}, {fmt.format(c['high'])}]"


def brief_table(results) -> str:
    """One line per (population, learner): mean R(T) over instances and seeds, added over
    [T/2, T] (95% CI, single instance) or the verdicts' counts (several), stuck share, health."""
    out = []
    for (pop, label), r in results.runs.items():
        B = r.regret.shape[0]
        if B == 1:
            added = "{:.1f} [{:.1f}, {:.1f}]".format(*(float(np.asarray(x)[0]) for x in (
                r.stats.added_mean, r.stats.added_low, r.stats.added_high)))
            verdict = str(r.verdict[0])
        else:
            added = f"{float(np.mean(r.stats.added_mean)):.1f}"
            kinds, counts = np.unique(r.verdict, return_counts=True)
            verdict = ", ".join(f"{k} {c}/{B}" for k, c in zip(kinds, counts))
        unhealthy = int((r.nonfinite_at > 0).sum())
        out.append({"population": pop, "learner": label,
                    "R(T)": f"{r.regret[..., -1].mean():.1f}", "added [T/2,T]": added,
                    "stuck": f"{float(np.mean(r.stats.stuck_fraction)):.2f}",
                    "verdict": verdict + (f"  !{unhealthy} UNHEALTHY" if unhealthy else "")})
    return format_table(out, ["population", "learner", "R(T)", "added [T/2,T]", "stuck",
                              "verdict"])


def write(results, elapsed: Callable[[], float], log=print) -> list:
    """Compute the experiment's sections, then write every output as one unit; returns the
    sections."""
    from jaxpa.experiment.figures import regret_figure

    exp = results.experiment
    sections = list(exp.analyze(results)) if exp.analyze is not None else []
    rows = summary_rows(results)
    figure = (exp.figure or regret_figure)(results) if results.runs else None
    config = {"experiment": exp.name, "size": results.size_name,
              "horizon": results.size.horizon, "seeds": results.size.seeds,
              "options": (dataclasses.asdict(results.size.options)
                          if results.size.options is not None else None), "seed": results.seed,
              "feedback": exp.feedback_model().label,
              "populations": [p.describe() for p in exp.populations],
              "learners": [dataclasses.asdict(g) for g in exp.learners]}
    stamp = config_hash(config)
    claims = [c for s in sections for c in s.claims]
    unhealthy = [f"{pop}/{lab}" for (pop, lab), r in results.runs.items()
                 if (r.nonfinite_at > 0).any()]
    store = results.store
    store.begin_outputs()
    store.write_csv("summary.csv", rows, stamp)
    store.write_npz("curves.npz", _curves(results), stamp)
    if figure is not None:
        store.write_png("regret.png", figure, stamp)
    for s in sections:
        for name, fig in s.figures.items():
            store.write_png(name, fig, stamp)
        if s.rows:
            store.write_csv(f"{s.name or 'section'}.csv", s.rows, stamp)
    metadata = run_metadata()
    minutes = elapsed() / 60
    timing = time_note(store, minutes)
    store.write_json("summary.json", {
        "config": config, "metadata": metadata, "minutes": minutes,
        "compute_minutes": store.compute_seconds() / 60, "parts_loaded": len(store.loaded),
        "rows": rows,
        "unhealthy": unhealthy, "diagnostics": {p: r.summaries for p, r in results.populations.items()},
        "sections": {s.title: s.data for s in sections},
        "claims": [c.as_dict() for c in claims]}, stamp)
    store.write_text("report.md", _markdown(results, sections, claims, unhealthy, timing,
                                            metadata), stamp)
    store.finish_outputs(stamp, metadata)
    _close([f for f in [figure] if f is not None] + [f for s in sections for f in s.figures.values()])
    log(f"\n{exp.title}: T = {results.size.horizon}, {results.size.seeds} seeds, "
        f"{exp.feedback_model().label} feedback ({timing})")
    if results.runs:
        log(brief_table(results))
    for c in claims:
        log(f"  {c.verdict:14s} {c.name}")
    if unhealthy:
        log(f"\nWARNING: the learner's state went non-finite (NaN/inf) in {unhealthy}; no verdict "
            "is drawn from those runs")
    log(f"\nwrote {store.folder}/ (summary.csv, summary.json, curves.npz, report.md, figures)")
    return sections


def _curves(results) -> dict[str, np.ndarray]:
    out = {}
    for (pop, label), r in results.runs.items():
        out[f"{pop}__{label}__regret"] = r.regret
        out[f"{pop}__{label}__mistakes"] = r.mistakes
        out[f"{pop}__{label}__nonfinite_at"] = r.nonfinite_at
        out[f"{pop}__{label}__checkpoints"] = r.checkpoints
        for name, v in r.extra.items():
            out[f"{pop}__{label}__{name}"] = v
    return out


def time_note(store, minutes: float) -> str:
    """The run's time; after a resume, also what the parts it loaded took to compute (so the
    report does not show a resume's seconds as the cost of the results)."""
    if not store.loaded:
        return f"{minutes:.1f} min"
    return (f"{store.compute_seconds() / 60:.1f} min of computation in its parts, "
            f"{len(store.loaded)} of {len(store.seconds)} loaded from an earlier run; "
            f"{minutes:.1f} min in this run")


def _markdown(results, sections, claims, unhealthy, timing, metadata) -> str:
    exp = results.experiment
    lines = [f"# {exp.title}\n",
             f"Command: `jaxpa run {exp.name} --size {results.size_name} --seed {results.seed}`;"
             f" T = {results.size.horizon}, {results.size.seeds} seeds, feedback "
             f"{exp.feedback_model().label}; {timing} on {metadata['backend']} "
             f"({len(metadata['devices'])} device(s), {metadata['cpu_count']} CPUs), "
             f"{metadata['code']}.\n"]
    if exp.description:
        lines.append(exp.description + "\n")
    if unhealthy:
        lines.append(f"**Warning: non-finite learner state in {', '.join(unhealthy)}; those runs "
                     "are marked 'unhealthy' and no verdict is drawn from them.**\n")
    if claims:
        lines += ["| claim | verdict | evidence |", "|---|---|---|"]
        lines += [f"| {c.name}: {c.statement} | **{c.verdict}** | {c.evidence} |" for c in claims]
        lines.append("")
    if results.runs:
        lines += ["![regret](regret.png)\n", "```", brief_table(results), "```\n"]
    for s in sections:
        lines.append(f"## {s.title}\n")
        lines += [f"![{name}]({name})\n" for name in s.figures]
        lines.append(s.text + "\n")
    return "\n".join(lines)


def _close(figs) -> None:
    import matplotlib.pyplot as plt
    for f in figs:
        plt.close(f)
