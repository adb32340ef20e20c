"""The commands behind ``jaxpa``: argument declarations, the session set-up, and the run,
reproduce, list and diagnose commands. Arguments are validated before anything compiles."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import runpy
import sys
from pathlib import Path

from jaxpa.envs.instance import InstanceError, validate_horizon

REPO_EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _positive(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
        return value
    return parse


def _horizon(text):
    value = _positive("--horizon")(text)
    try:
        return validate_horizon(value, "rounds")
    except InstanceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2^31), got {value}")
    return value


def add_session_arguments(p) -> None:
    g = p.add_argument_group("session")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--cache-dir", default=None,
                   help="persistent compilation cache (default $JAXPA_CACHE_DIR or "
                        "~/.cache/jaxpa/xla)")
    g.add_argument("--no-cache", action="store_true", help="do not use the compilation cache")
    g.add_argument("--cpu-devices", type=_positive("--cpu-devices"), default=None,
                   help="CPU devices to shard runs over (default: one per core, at most 8)")
    g.add_argument("--coordinator", default=os.environ.get("JAXPA_COORDINATOR"),
                   help="host:port of process 0 for a multi-process run (jax.distributed)")
    g.add_argument("--num-processes", type=_positive("--num-processes"),
                   default=int(os.environ.get("JAXPA_NUM_PROCESSES", 0)) or None)
    g.add_argument("--process-id", type=int, default=int(os.environ.get("JAXPA_PROCESS_ID", -1)))
    g.add_argument("--distributed", action="store_true",
                   help="jax.distributed.initialize() from the cluster's environment (SLURM, ...)")


def add_run_arguments(p) -> None:
    p.add_argument("--size", default="default", help="a size the experiment declares "
                   "(quick, default, ...)")
    p.add_argument("--seed", type=_seed, default=0, help="master random seed")
    p.add_argument("--out", default=None, help="output folder (default results/<experiment>)")
    p.add_argument("--horizon", type=_horizon, default=None,
                   help="override the size's horizon")
    p.add_argument("--seeds", type=_positive("--seeds"), default=None,
                   help="override the size's seeds")
    p.add_argument("--draws", type=_positive("--draws"), default=None,
                   help="override the instance draws per population")
    p.add_argument("--check", action="store_true",
                   help="validate the experiment and arguments, print the plan, run nothing")
    add_session_arguments(p)


def add_reproduce_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="every experiment at its quick size")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", default="results/reproduce")
    p.add_argument("--skip", default="", help="comma-separated experiments to skip (those "
                   "declared with claim_order: jaxpa list marks them)")
    add_session_arguments(p)


def add_diagnose_arguments(p) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--family", help="family name (jaxpa list)")
    src.add_argument("--instance", help="path of an .npz instance (jaxpa.envs.io.save_instance)")
    p.add_argument("--seed", type=_seed, default=0, help="key of the family draw")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="family hyperparameter (repeatable), e.g. --param n_users=8")
    p.add_argument("--feedback", default="bt_ref",
                   help="feedback model(s), comma-separated, or 'all'; options as NAME:OPT=V, "
                        "e.g. scalar:noise_std=0.5, bt_duel:second=reference, mnl:slate_size=2")
    p.add_argument("--featurizer", default="personalized",
                   help="the learner's design (personalized, personalized+shared, population)")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative eigenvalue tolerance")
    p.add_argument("--json", default=None, help="also write the summaries to this JSON file")


def setup_session(args) -> None:
    """Set JAX up before anything touches a device: processes, devices, cache."""
    import jax

    from jax._src import xla_bridge

    started = xla_bridge.backends_are_initialized()  # (in-process callers, e.g. tests)
    if not started and (getattr(args, "cpu_devices", None) or not getattr(args, "coordinator", None)):
        n = args.cpu_devices if getattr(args, "cpu_devices", None) else min(os.cpu_count() or 1, 8)
        jax.config.update("jax_num_cpu_devices", n)
    if not started and (getattr(args, "coordinator", None) or getattr(args, "distributed", False)):
        if args.coordinator and (args.num_processes is None or args.process_id < 0):
            raise InstanceError("--coordinator needs --num-processes and --process-id")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if args.coordinator:
            if not 0 <= args.process_id < args.num_processes:
                raise InstanceError(f"--process-id: expected 0 <= id < {args.num_processes}, "
                                    f"got {args.process_id}")
            jax.distributed.initialize(coordinator_address=args.coordinator,
                                       num_processes=args.num_processes,
                                       process_id=args.process_id)
        else:
            jax.distributed.initialize()
    if not getattr(args, "no_cache", True):
        folder = args.cache_dir or os.environ.get("JAXPA_CACHE_DIR") or \
            os.path.join(os.path.expanduser("~"), ".cache", "jaxpa", "xla")
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


DECLARATION = "experiment.py"  # an experiment folder's declaration file


def known_experiments() -> dict[str, Path]:
    """Every experiment by name: experiments/<name>.py and experiments/<name>/experiment.py, under
    the repository jaxpa was installed from, then under the current folder (which wins)."""
    found = {}
    for folder in (REPO_EXPERIMENTS, Path.cwd() / "experiments"):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.py"))
                          if not p.stem.startswith(("_", "test_"))})
            found.update({p.parent.name: p for p in sorted(folder.glob(f"*/{DECLARATION}"))})
    return found


def find_experiment(name: str) -> Path:
    """A .py path as it is; a name: one of ``known_experiments``."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise InstanceError(f"experiment file not found: {path}")
        return path
    known = known_experiments()
    if name not in known:
        raise InstanceError(f"unknown experiment {name!r}; known: {sorted(known)}")
    return known[name]


def _module_name(path: Path) -> tuple[Path, str] | None:
    """(import root, dotted module name) of a file inside a package (folders with __init__.py),
    so an experiment folder's declaration imports its siblings; None for a lone file."""
    path = path.resolve()
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return (folder, ".".join(parts)) if len(parts) > 1 else None


def _namespace(path: Path) -> dict:
    """The names a declaration file defines: imported as a module of its package where it is
    in one (the repository's experiments/ and one's own under the current folder share the
    package name: each folder joins the package's search path), else run as a lone file."""
    package = _module_name(path)
    if package is not None:
        root, name = package
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        top = sys.modules.get(name.split(".")[0])
        folder = str(root / name.split(".")[0])
        if top is not None and isinstance(getattr(top, "__path__", None), list) \
                and folder not in top.__path__:
            top.__path__.append(folder)
        module = importlib.import_module(name)
        if Path(module.__file__).resolve() == path.resolve():
            return vars(module)
    return runpy.run_path(str(path))


def load_experiment(name: str):
    """The ``EXPERIMENT`` an experiment file (a name of ``known_experiments`` or a path) defines."""
    from jaxpa.experiment import Experiment

    path = find_experiment(name)
    try:
        namespace = _namespace(path)
    except SyntaxError as err:
        raise InstanceError(f"{path}: syntax error on line {err.lineno}: {err.msg}") from None
    except Exception as err:  # noqa: BLE001: the file's own error, named with its line
        from jaxpa.cli.errors import error_line
        raise InstanceError(error_line(err)) from err
    exp = namespace.get("EXPERIMENT")
    if not isinstance(exp, Experiment):
        raise InstanceError(f"{path}: defines no EXPERIMENT = jaxpa.experiment.Experiment(...)")
    return exp


def claim_experiments() -> list:
    """The experiments that test the paper's claims (declared with ``claim_order``), in order."""
    loaded = [load_experiment(str(p)) for p in known_experiments().values()]
    return sorted((e for e in loaded if e.claim_order is not None),
                  key=lambda e: (e.claim_order, e.name))


def sized(exp, args):
    """The experiment's size with the command line's overrides (checked by their argument types:
    0 is refused, not ignored)."""
    size = exp.size(args.size)
    changes = {k: getattr(args, k) for k in ("horizon", "seeds", "draws")
               if getattr(args, k, None) is not None}
    return dataclasses.replace(size, **changes) if changes else size


def default_out(exp, path: Path) -> Path:
    """results/<name>; but a copied file that keeps another experiment's name (a copy of
    experiments/default.py still saying name="default") writes to results/<its file's name>, with
    a note, instead of overwriting that experiment's results."""
    known = known_experiments().get(exp.name)
    if known is None or known.resolve() == path.resolve():
        return Path("results") / exp.name
    own = path.parent.name if path.name == DECLARATION else path.stem
    out = Path("results") / own
    print(f"note: {path} declares name={exp.name!r}, the name of {known}; writing to {out} so "
          f"that results/{exp.name} is not overwritten (--out chooses the folder)")
    return out


def dispatch(args) -> int:
    from jaxpa.results import check_writable

    if args.command == "list":
        return list_registered()
    if args.command == "diagnose":
        from jaxpa.cli.diagnose import run_diagnose
        return run_diagnose(args)
    if getattr(args, "handler", None) is not None:  # a command declared elsewhere (audit)
        return args.handler(args)
    if args.command == "reproduce":
        skip = {s.strip() for s in args.skip.split(",") if s.strip()}
        claims = claim_experiments()
        unknown = skip - {e.name for e in claims}
        if unknown:
            raise InstanceError(f"--skip: unknown {sorted(unknown)}; known: "
                                f"{[e.name for e in claims]}")
        experiments = [e for e in claims if e.name not in skip]
        check_writable(args.out)
        setup_session(args)
        from jaxpa.cli.reproduce import reproduce
        return reproduce(experiments, args)
    exp = load_experiment(args.experiment)
    size = sized(exp, args)
    out = check_writable(args.out or default_out(exp, find_experiment(args.experiment)))
    if args.check:
        from jaxpa.experiment.execute import check
        check(exp, size)
        print(f"{exp.name}: {len(exp.populations)} populations x {len(exp.learners)} learner "
              f"groups, T = {size.horizon}, {size.seeds} seeds -> {out}")
        print("\n".join(memory_lines(exp, size)))
        return 0
    setup_session(args)
    from jaxpa.experiment import run
    run(exp, args.size, out=out, seed=args.seed, size=size, quiet=args.quiet)
    return 0


def memory_lines(exp, size) -> list[str]:
    """Each population's run estimated from its shapes (``experiment.execute.estimate_population``),
    one line each; a run that cannot fit raises InstanceError saying how many seeds would."""
    from jaxpa.experiment.execute import estimate_population
    lines = []
    for pop in exp.populations:
        est = estimate_population(exp, pop, size)
        lines.append(f"  {pop.label}: " + (est.line() if est else "memory: no estimate"))
    return lines


def list_registered() -> int:
    from jaxpa.envs.families import FAMILIES
    from jaxpa.envs.feedback import FEEDBACK_MODELS
    from jaxpa.learners.registry import LEARNERS

    print("learners:        " + ", ".join(sorted(LEARNERS)))
    print("families:        " + ", ".join(sorted(FAMILIES)))
    print("feedback models: " + ", ".join(sorted(FEEDBACK_MODELS)))
    print("experiments:")
    for name, path in sorted(known_experiments().items()):
        try:
            exp = load_experiment(str(path))
            claims = " [reproduce]" if exp.claim_order is not None else ""
            print(f"  {name:16s} {exp.title}  (sizes: {', '.join(exp.sizes)}){claims}")
        except (ValueError, OSError) as err:
            print(f"  {name:16s} (cannot load: {err})")
    return 0
