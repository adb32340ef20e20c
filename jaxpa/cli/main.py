"""The ``jaxpa`` command line: run an experiment (a file of ``experiments/`` or a copy of one),
reproduce the claims, list what is registered, diagnose an instance, audit a preference log.

    jaxpa run [EXPERIMENT] [--size quick]      # EXPERIMENT: a name in experiments/ or a .py path
    jaxpa NAME [--size quick]                  # `jaxpa run NAME`, for every experiment of experiments/
    jaxpa reproduce [--quick]
    jaxpa list
    jaxpa diagnose --family f3 | --instance x.npz
    jaxpa audit prefs.csv --out DIR

Every argument and input file is checked before anything compiles: a bad one is a one-line error
and exit status 2, never a traceback. An error raised while running (an experiment file that
raises, a population builder that fails) is one line too, naming the file and line of the code
that raised it; ``jaxpa --debug ...`` (or JAXPA_DEBUG=1) shows the traceback instead. Before running, the command line sets up JAX for the
session: several processes (``jax.distributed``) when asked, the persistent compilation cache,
and one CPU device per core.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from jaxpa.cli import commands
from jaxpa.cli.errors import error_line

COMMANDS = ("run", "reproduce", "list", "diagnose", "audit")
DESCRIPTION = ("jaxpa: experiments on personalized alignment. Run an experiment (a name of "
               "experiments/ or a copy of one), reproduce the paper's claims, list what is "
               "registered, diagnose an instance, audit a preference log.")
EPILOG = "`jaxpa COMMAND --help` lists a command's options with their defaults."


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line and exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from jaxpa import __version__

    parser = Parser(prog="jaxpa", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"jaxpa {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also JAXPA_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    p = sub.add_parser("run", help="run an experiment (default: the main job)")
    p.add_argument("experiment", nargs="?", default="default",
                   help="a name of experiments/ (default, online, ...) or a path to a .py file")
    commands.add_run_arguments(p)
    for name in sorted(set(commands.known_experiments()) - set(COMMANDS)):  # discovered
        p = sub.add_parser(name, help=f"jaxpa run {name}")
        p.set_defaults(experiment=name)
        commands.add_run_arguments(p)
    p = sub.add_parser("reproduce", help="every claim: the experiments composed into one report")
    commands.add_reproduce_arguments(p)
    p = sub.add_parser("list", help="registered learners, families, feedback models, experiments")
    p = sub.add_parser("diagnose", help="user-diversity diagnostics of an instance")
    commands.add_diagnose_arguments(p)
    try:
        from jaxpa.cli import audit
        p = sub.add_parser("audit", help=audit.HELP)
        audit.add_arguments(p)
        p.set_defaults(handler=audit.run)
    except ImportError:  # the audit command needs the data extra
        pass
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv or ["run"])
    except SystemExit as exit_:  # usage errors (one line, status 2) and --help (status 0)
        return int(exit_.code or 0)
    debug = args.debug or os.environ.get("JAXPA_DEBUG", "") not in ("", "0")
    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        print(f"jaxpa {args.command}: interrupted; finished parts are kept: rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001: the one place every error becomes one line
        if debug:
            traceback.print_exc()
        print(f"jaxpa {args.command}: error: {error_line(err, hint=not debug)}",
              file=sys.stderr)
        return 2 if isinstance(err, (ValueError, KeyError, OSError)) else 1


if __name__ == "__main__":
    sys.exit(main())
