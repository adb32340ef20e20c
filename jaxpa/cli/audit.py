"""``jaxpa audit``: audit your own preference log: is personalization cheap for this population?

    jaxpa audit prefs.csv --out DIR [--user id --choice-set set --alternative alt ...]

Reads a long-format CSV (one row per alternative of a choice set; jaxpa.audit.reading) and
rejects bad input with the file line and column before anything is fitted or written; then runs
the audit (jaxpa.audit.steps.run_audit): fits, UD verdict with bootstrap uncertainty, coverage,
simulated learners, diversity versus volume. Each step is a stored part of DIR/parts/ (keyed by
the CSV's content hash, the options and the code), so an interrupted audit resumes and the same
command run again computes nothing. Outputs, written as one unit with a manifest
(jaxpa/audit/report.py): DIR/report.md (a decision box first, then the verdict),
summary.json, curves.npz, heads.csv, heads.png, verdict.png, coverage.png, regret.png, budget.png.

Compilation: the audit's programs are small and compile once each; by default XLA's backend
optimisation is turned down for this process (``--optimize`` keeps it: worth it only for logs of
thousands of users), which halves the compile time, and the persistent compilation cache of the
session options (``--cache-dir``) makes a second audit of logs of the same shapes faster still.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from jaxpa.envs.instance import InstanceError

HELP = ("audit a preference log (CSV): UD verdict with uncertainty, coverage, simulated cost, "
        "diversity versus volume")
FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true")


def _defaults():
    from jaxpa.audit.config import AuditConfig

    return AuditConfig()


def add_arguments(p) -> None:
    from jaxpa.cli import commands

    d = _defaults()
    p.add_argument("csv", help="the preference log (long format: one row per alternative)")
    p.add_argument("--out", default="results/audit", help="output folder")
    g = p.add_argument_group("columns")
    g.add_argument("--user", default="user", help="user id column")
    g.add_argument("--choice-set", default="choice_set", help="choice-set id column (per user)")
    g.add_argument("--alternative", default="alternative", help="alternative id column")
    g.add_argument("--chosen", default="chosen", help="0/1 column: the chosen alternative")
    g.add_argument("--features", default=None,
                   help="comma-separated feature columns (default: every other column)")
    g.add_argument("--reference", default="auto",
                   help="optional 0/1 column marking the reference alternative (auto: a column "
                        "named reference, if any; none: no such column)")
    g.add_argument("--context", default="auto",
                   help="optional prompt/context id column (auto: context or prompt, if any; none)")
    g.add_argument("--min-choices", type=int, default=5,
                   help="users with fewer choices are served the population fit")
    a = p.add_argument_group("audit")
    a.add_argument("--grid", default=",".join(f"{v:g}" for v in d.grid),
                   help="shrinkage values (pseudo-choices) tried on the validation split")
    a.add_argument("--n-test", type=int, default=d.n_test, help="held-out choices per user")
    a.add_argument("--prompts", type=int, default=d.prompts,
                   help="choice sets used as prompts of the calibrated simulator")
    a.add_argument("--draws", type=int, default=d.draws, help="random subsets per coverage size")
    a.add_argument("--boot", type=int, default=d.n_boot, help="bootstrap replicates")
    a.add_argument("--no-early-stop", action="store_true",
                   help="compute every bootstrap replicate (default: stop once the verdict at "
                        "--boot replicates is decided with 99%% predictive probability)")
    a.add_argument("--level", type=float, default=d.level, help="verdict threshold and CI level")
    a.add_argument("--horizon", type=int, default=d.horizon, help="rounds of simulated learners")
    a.add_argument("--seeds", type=int, default=d.seeds, help="seeds per simulated learner")
    a.add_argument("--learners", default=",".join(d.learners),
                   help="simulated learners: greedy (with and without a warm start), greedy_pop (one "
                        "shared model), uniform, ucb")
    a.add_argument("--warm-start", type=int, default=d.warm_start,
                   help="uniform rounds of greedy + warm start")
    a.add_argument("--budget-draws", type=int, default=d.budget_draws,
                   help="random subsets x logs per diversity-versus-volume cell")
    a.add_argument("--log-policy", default=d.log_policy, choices=("optimal", "uniform"),
                   help="logging policy of the offline diversity-versus-volume study")
    a.add_argument("--sections", default=",".join(d.sections),
                   help="steps to run after the fits (ud, coverage, simulate, budget)")
    a.add_argument("--feedback", default="bt_ref",
                   help="the feedback model of the verdict and the simulations (NAME[:OPT=V])")
    a.add_argument("--label", default=None,
                   help="population label of the key rule (default: the CSV's file name without "
                        "its extension; a log named train.csv draws what `jaxpa run real`'s "
                        "population 'train' draws)")
    a.add_argument("--seed", type=int, default=d.seed, help="master random seed")
    a.add_argument("--optimize", action="store_true",
                   help="keep XLA's full backend optimisation (slower to compile; for big logs)")
    commands.add_session_arguments(p)


def _split(text: str | None) -> tuple:
    return tuple(v.strip() for v in (text or "").split(",") if v.strip())


def config_from(args):
    """(columns, audit config, feedback model) from the arguments, checked."""
    from jaxpa.cli.diagnose import parse_feedback
    from jaxpa.audit.config import AuditConfig
    from jaxpa.audit.reading import LogColumns

    try:
        grid = tuple(float(v) for v in args.grid.split(","))
    except ValueError:
        raise InstanceError(f"--grid: expected comma-separated numbers, got {args.grid!r}") from None
    columns = LogColumns(user=args.user, choice_set=args.choice_set, alternative=args.alternative,
                         chosen=args.chosen, features=_split(args.features) or None,
                         reference=None if args.reference == "none" else args.reference,
                         context=None if args.context == "none" else args.context)
    config = AuditConfig(grid=grid, n_test=args.n_test, prompts=args.prompts, draws=args.draws,
                         horizon=args.horizon, seeds=args.seeds, warm_start=args.warm_start,
                         seed=args.seed, n_boot=args.boot, level=args.level,
                         early_stop=not args.no_early_stop,
                         budget_draws=args.budget_draws, log_policy=args.log_policy,
                         sections=_split(args.sections), learners=_split(args.learners),
                         label=args.label or Path(args.csv).stem)
    config.check()
    models = parse_feedback(args.feedback)
    if len(models) != 1:
        raise InstanceError(f"--feedback: expected one model, got {args.feedback!r}")
    return columns, config, models[0]


def _fast_compile(optimize: bool) -> None:
    """Turn XLA's backend optimisation down for this process (module docstring), unless asked
    not to, the flags are set already, or the backend has started (in-process callers)."""
    from jax._src import xla_bridge

    flags = os.environ.get("XLA_FLAGS", "")
    if optimize or xla_bridge.backends_are_initialized() or "xla_backend_optimization_level" in flags:
        return
    os.environ["XLA_FLAGS"] = " ".join([flags] + list(FAST_COMPILE)).strip()


def run(args) -> int:
    from jaxpa.cli import commands
    from jaxpa.audit.steps import check_audit, run_audit, STEPS
    from jaxpa.audit.reading import read_preference_log
    from jaxpa.results import Store, check_writable

    t0 = time.perf_counter()
    columns, config, feedback = config_from(args)
    out = check_writable(args.out)
    _fast_compile(args.optimize)
    commands.setup_session(args)
    log = read_preference_log(args.csv, columns, min_choices=args.min_choices)
    check_audit(log, config)
    if "budget" in config.sections:
        from jaxpa.offline.logging_policies import check_policy
        check_policy(config.log_policy, feedback)
    # everything is checked: the output folder may now be created
    say = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    store = Store(out, log=say)
    results = run_audit(log, config, part=lambda name, cfg, fn: store.compute(name, cfg, fn)[0],
                        progress=say, feedback=feedback)
    from jaxpa.audit.decision import decision_box
    from jaxpa.audit.report import verdict_paragraph, write_audit
    from jaxpa.experiment.outputs import run_metadata

    summary_config = dict(dataclasses.asdict(config), csv=str(args.csv), log=log.digest,
                          columns=dataclasses.asdict(log.columns), min_choices=log.min_choices,
                          feedback=feedback.label, steps=[s for s in STEPS if s in results
                                                          or s in ("fits",)])
    seconds = time.perf_counter() - t0
    names = sorted(write_audit(store, results, summary_config, run_metadata(), seconds))
    print("## Decision\n\n" + "\n".join(f"- {line}" for line in decision_box(results)) + "\n")
    if "ud" in results:
        print(verdict_paragraph(results, summary_config))
    print(f"wrote {out}/ ({', '.join(names)}) in {time.perf_counter() - t0:.1f} s")
    return 0
