"""``jaxpa reproduce``: the experiments that test the paper's claims, composed into one report.

Each experiment runs through the one ``Experiment`` path into its own folder under --out (its
parts make an interrupted reproduce resumable); the report gathers their claims (each judged by
the experiment's own rules, on the statistics of the runs) and links their reports and figures.
"""
from __future__ import annotations

import time
from pathlib import Path

from jaxpa.experiment import run
from jaxpa.experiment.outputs import run_metadata
from jaxpa.results import Store, config_hash


def _agree(c) -> str:
    if c.total is None:
        return "one instance"
    ci = f" [{c.ci[0]:.2f}, {c.ci[1]:.2f}]" if c.ci else ""
    return f"{c.agree}/{c.total}{ci}"


UNDERPOWERED = ("--quick runs every experiment at its quick size (fewer draws, seeds and rounds, "
                "horizons that may sit below the burn-in): its verdicts are underpowered, a "
                "smoke test of the pipeline, not evidence; `jaxpa reproduce` gives the claims.")


def reproduce(experiments, args) -> int:
    size = "quick" if args.quick else "default"
    if args.quick:
        print(f"note: {UNDERPOWERED}", flush=True)
    out = Path(args.out)
    t0 = time.perf_counter()
    done = []
    for exp in experiments:
        print(f"\n== {exp.name}: {exp.title}", flush=True)
        done.append(run(exp, size, out=out / exp.name, seed=args.seed, quiet=args.quiet))
    minutes = (time.perf_counter() - t0) / 60
    meta = run_metadata()
    lines = ["# jaxpa: reproducing the user-diversity claims\n",
             f"Command: `jaxpa reproduce{' --quick' if args.quick else ''} --seed {args.seed}`; "
             f"{minutes:.1f} min on {meta['backend']} ({meta['cpu_count']} CPUs), {meta['code']}.\n",
             *([f"**{UNDERPOWERED}**\n"] if args.quick else []),
             "Every verdict follows a fixed rule of its experiment (experiments/) on the "
             "statistics of the runs; 'not supported' and 'inconclusive' are reported as measured. "
             "'agree' is the share of instance draws whose own verdict agrees with the claim "
             "(95% Wilson interval).\n",
             "| experiment | claim | verdict | agree | evidence |", "|---|---|---|---|---|"]
    for r in done:
        for s in r.sections:
            for c in s.claims:
                lines.append(f"| {r.experiment.name} | {c.name}: {c.statement} | **{c.verdict}** "
                             f"| {_agree(c)} | {c.evidence} |")
    for r in done:
        lines += [f"\n## {r.experiment.title}\n"]
        if r.runs:
            lines.append(f"![{r.experiment.name}]({r.experiment.name}/regret.png)\n")
        lines.append(f"Full report: [{r.experiment.name}/report.md]({r.experiment.name}/report.md)\n")
        for s in r.sections:
            lines.append(f"### {s.title}\n")
            lines += [f"![{n}]({r.experiment.name}/{n})\n" for n in s.figures]
            lines.append(s.text + "\n")
    claims = [dict(c.as_dict(), experiment=r.experiment.name)
              for r in done for s in r.sections for c in s.claims]
    stamp = config_hash({"reproduce": [r.experiment.name for r in done], "size": size,
                         "seed": args.seed})
    store = Store(out)
    store.begin_outputs()
    store.write_text("report.md", "\n".join(lines), stamp)
    store.write_json("claims.json", {"claims": claims, "minutes": minutes}, stamp)
    store.finish_outputs(stamp, meta)
    print("\n" + "\n".join(f"  {c['verdict']:14s} {c['experiment']}: {c['name']}" for c in claims))
    if args.quick:
        print("\n(quick size: underpowered verdicts; `jaxpa reproduce` gives the claims)")
    print(f"\nwrote {out / 'report.md'} ({minutes:.1f} min)")
    return 0
