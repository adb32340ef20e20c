"""How many choices per user does the audit need to get the UD verdict right?

Synthetic logs of matched populations (jaxpa.audit.synthetic.matched_populations: 8 user types
x 3 copies = 24 users, 20 prompts, K = 3 candidates, d = 3 features, k = 2; a diverse population,
UD holds, and a homogeneous one, UD fails, with the same prompts, features, W and reference), each
user answering c choice sets (conditional logit). For every c and draw: the audit's fits (default
shrinkage grid, 2 held-out choices per user), calibration on all distinct choice sets, the UD
bootstrap (--boot replicates) and its verdict, against the known status (diagnose of the same
calibrated instance with the true user vectors).

    python benchmarks/audit_verdicts.py                       # c = 10, 20, 40, 80; 5 draws each
    python benchmarks/audit_verdicts.py --choices 20 --draws 2 --boot 20   # a quick look

Prints one line per (c, status) with the counts of right / undetermined / wrong verdicts and
writes benchmarks/audit_verdicts.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax

from jaxpa.audit.steps import AuditConfig
from jaxpa.audit.synthetic import matched_populations, verdict_on_synthetic


def _relative(path: str) -> str:
    """The path relative to the repository when it lies inside it."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--choices", default="10,20,40,80", help="choices per user, comma-separated")
    p.add_argument("--draws", type=int, default=5, help="populations per status and c")
    p.add_argument("--boot", type=int, default=50, help="bootstrap replicates")
    p.add_argument("--grid", default=",".join(f"{v:g}" for v in AuditConfig().grid),
                   help="shrinkage values tried on validation (the audit's default)")
    p.add_argument("--status", default="holds,fails", help="which populations to audit")
    p.add_argument("--min-gap", type=float, default=0.1,
                   help="smallest gap of the homogeneous population (draws rejected below it)")
    p.add_argument("--scale", type=float, default=1.0, help="reward scale (size of W)")
    p.add_argument("--prompts", type=int, default=20, help="prompts of the populations")
    p.add_argument("--out", default=str(Path(__file__).with_name("audit_verdicts.json")))
    args = p.parse_args()
    rows, t0 = [], time.perf_counter()
    grid = [float(v) for v in args.grid.split(",")]
    pair = lambda s: matched_populations(jax.random.key(s), n_prompts=args.prompts,
                                         scale=args.scale, min_gap=args.min_gap)
    for c in (int(v) for v in args.choices.split(",")):
        for status, index in (("holds", 0), ("fails", 1)):
            if status not in args.status.split(","):
                continue
            runs = [dict(verdict_on_synthetic(jax.random.key(s), pair(s)[index], c, grid=grid,
                                              n_boot=args.boot), seed=s)
                    for s in range(args.draws)]
            right = sum(r["verdict"] == status for r in runs)
            und = sum(r["verdict"] == "undetermined" for r in runs)
            known_ok = all(r["known"] == (status == "holds") for r in runs)
            rows.append({"choices_per_user": c, "status": status, "right": right,
                         "undetermined": und, "wrong": len(runs) - right - und,
                         "known_status_checked": known_ok, "runs": runs})
            print(f"c = {c:4d}  UD {status:5s}: right {right}/{len(runs)}, undetermined {und}, "
                  f"wrong {len(runs) - right - und}  (known status checked: {known_ok}; "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)
    config = dict(vars(args), out=_relative(args.out))  # no path of this machine in the record
    Path(args.out).write_text(json.dumps({"config": config, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
