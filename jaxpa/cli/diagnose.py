"""``jaxpa diagnose``: the user-diversity diagnostics (MODEL.md §5) of a named family's instance or
a saved one.

    jaxpa diagnose --family f1                       # F1 drawn with seed 0, bt_ref feedback
    jaxpa diagnose --family f2 --seed 3 --feedback all --param n_users=8
    jaxpa diagnose --instance inst.npz --feedback scalar:noise_std=0.5 --json diag.json
A saved batch of instances (.npz with a leading axis) gets one line per instance and a summary.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import jax

from jaxpa.diagnostics.instance_diagnostics import diagnose_checked
from jaxpa.diagnostics.report import diagnostics_summary, format_diagnostics
from jaxpa.envs.families import check_family_options, make_family
from jaxpa.envs.feedback import FEEDBACK_MODELS, make_feedback
from jaxpa.envs.instance import InstanceError
from jaxpa.envs.io import load_instance
from jaxpa.learners.design import make_featurizer


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str], flag: str = "--param") -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InstanceError(f"{flag}: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = _value(value.strip())
    return out


def parse_feedback(text: str) -> list:
    """'all', or comma-separated NAME[:OPT=V[:OPT=V]] specs -> feedback models."""
    specs = list(FEEDBACK_MODELS) if text == "all" else [s for s in text.split(",") if s.strip()]
    if not specs:
        raise InstanceError("--feedback: none given")
    models = []
    for spec in specs:
        name, *opts = spec.strip().split(":")
        models.append(make_feedback(name, **parse_params(opts, "--feedback")))
    return models


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


def run_diagnose(args) -> int:
    models = parse_feedback(args.feedback)
    make_featurizer(args.featurizer)
    if not 0 < args.rtol < 1:
        raise InstanceError(f"--rtol: expected 0 < rtol < 1, got {args.rtol}")
    json_path = Path(args.json) if args.json else None
    if json_path is not None and not json_path.parent.is_dir():
        raise InstanceError(f"--json: folder {json_path.parent} does not exist")
    if args.instance is not None:
        inst, title = load_instance(args.instance), str(args.instance)
    else:
        params = parse_params(args.param)
        check_family_options(args.family, params)
        inst = make_family(args.family, jax.random.key(args.seed), **params)
        title = f"family {args.family} (seed {args.seed}" + "".join(
            f", {k}={v}" for k, v in sorted(params.items())) + ")"
    results = {}
    for model in models:
        diag = diagnose_checked(inst, model, rtol=args.rtol, featurizer=args.featurizer)
        if inst.batch_shape:
            print(_batch_report(diag, title))
            results[model.label] = [diagnostics_summary(jax.tree.map(lambda x: x[i], diag))
                                    for i in range(inst.batch_shape[0])]
        else:
            print(format_diagnostics(diag, title))
            results[model.label] = diagnostics_summary(diag)
        print()
    if json_path is not None:
        json_path.write_text(json.dumps({"source": title, "diagnostics": results}, indent=2))
        print(f"wrote {json_path}")
    return 0
