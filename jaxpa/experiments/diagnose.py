"""print the user-diversity diagnostics (MODEL.md §5) of a named family's instance or a saved one.

Examples:
    jaxpa diagnose --family f1                       # F1 drawn with seed 0, bt_ref feedback
    jaxpa diagnose --family f2 --seed 3 --feedback all --param n_users=8
    jaxpa diagnose --instance inst.npz --feedback scalar --noise-std 0.5 --json diag.json
A saved batch of instances (.npz with a leading axis) gets one line per instance and a summary.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import jax

from jaxpa.diagnostics.instance_diagnostics import FEEDBACKS, diagnose_checked
from jaxpa.diagnostics.report import diagnostics_summary, format_diagnostics
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.envs.instance import InstanceError
from jaxpa.envs.io import load_instance
from jaxpa.learners.registry import FEATURIZERS


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--family", help=f"family name ({', '.join(sorted(FAMILIES))})")
    src.add_argument("--instance", help="path of an .npz instance (envs/io.py save_instance)")
    p.add_argument("--seed", type=int, default=0, help="key of the family draw")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="family hyperparameter (repeatable), e.g. --param n_users=8")
    p.add_argument("--feedback", default="bt_ref",
                   help=f"feedback model, a comma-separated list, or 'all' ({', '.join(FEEDBACKS)})")
    p.add_argument("--featurizer", default="personalized", choices=sorted(FEATURIZERS),
                   help="the learner's design z (population: one shared reward model)")
    p.add_argument("--noise-std", type=float, default=1.0, help="noise s of scalar feedback")
    p.add_argument("--slate-size", type=int, default=3, help="slate size of mnl feedback")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative eigenvalue tolerance")
    p.add_argument("--json", default=None, help="also write the summaries to this JSON file")


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InstanceError(f"--param: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = _value(value.strip())
    return out


def check_args(args) -> list[str]:
    """Validate everything before anything compiles; returns the feedback names."""
    names = list(FEEDBACKS) if args.feedback == "all" else [
        f.strip() for f in args.feedback.split(",") if f.strip()]
    unknown = [f for f in names if f not in FEEDBACKS]
    if unknown or not names:
        raise InstanceError(f"--feedback: unknown {unknown}; known: {list(FEEDBACKS)} or 'all'")
    if args.family is not None and args.family not in FAMILIES:
        raise InstanceError(f"--family: unknown {args.family!r}; known: {sorted(FAMILIES)}")
    if not (args.noise_std > 0 and 0 < args.rtol < 1 and args.slate_size >= 2):
        raise InstanceError("need --noise-std > 0, 0 < --rtol < 1 and --slate-size >= 2")
    return names


def load(args):
    """(instance or batch, title)."""
    if args.instance is not None:
        return load_instance(args.instance), str(args.instance)
    params = parse_params(args.param)
    inst = make_family(args.family, jax.random.key(args.seed), **params)
    extra = "".join(f", {k}={v}" for k, v in sorted(params.items()))
    return inst, f"family {args.family} (seed {args.seed}{extra})"


def _batch_report(diag, title: str) -> str:
    holds = np.asarray(diag.ud_holds)
    lam = np.asarray(diag.lambda_D, np.float64)
    lines = [f"diagnostics of {title}: {holds.size} instances, {diag.feedback} / {diag.featurizer}",
             f"  UD holds in {holds.sum()} of {holds.size}",
             "  lambda_D quantiles (0, .25, .5, .75, 1): "
             + " ".join(f"{q:.4g}" for q in np.quantile(lam, [0, .25, .5, .75, 1]))]
    for i in range(holds.size):
        lines.append(f"  [{i}] head rank {int(diag.head_rank[i])}  dim D {int(diag.dim_D[i])}  "
                     f"lambda_D {lam[i]:.4g}  residual {float(diag.residual[i]):.3g}  "
                     f"{'holds' if holds[i] else 'FAILS'}")
    return "\n".join(lines)


def run(args) -> int:
    names = check_args(args)
    inst, title = load(args)
    results = {}
    for name in names:
        diag = diagnose_checked(inst, name, noise_std=args.noise_std, rtol=args.rtol,
                                slate_size=args.slate_size, featurizer=args.featurizer)
        if inst.batch_shape:
            print(_batch_report(diag, title))
            results[name] = [diagnostics_summary(jax.tree.map(lambda x: x[i], diag))
                             for i in range(inst.batch_shape[0])]
        else:
            print(format_diagnostics(diag, title))
            results[name] = diagnostics_summary(diag)
        print()
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"source": title, "diagnostics": results}, indent=2))
        print(f"wrote {path}")
    return 0
