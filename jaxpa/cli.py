"""The ``jaxpa`` command line: one subcommand per job.

Each job module exposes ``add_arguments(parser)`` and ``run(args) -> int``; register it in
``COMMANDS`` below (name -> module path). Arguments are validated before anything compiles.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "run": "jaxpa.experiments.default_job",
    "online": "jaxpa.experiments.online",
    "dial": "jaxpa.experiments.dial",
    "offline": "jaxpa.experiments.e2_offline",
    "reproduce": "jaxpa.experiments.reproduce",
    "compare": "jaxpa.experiments.compare",
    "diagnose": "jaxpa.experiments.diagnose",
    "heads": "jaxpa.experiments.unknown_heads",
    "real": "jaxpa.experiments.e5_real",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxpa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    for name, module_path in COMMANDS.items():
        module = importlib.import_module(module_path)
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv if argv is not None else sys.argv[1:])
    if args.command is None:
        args = build_parser().parse_args(["run"] + list(argv or sys.argv[1:]))
    try:
        return args._module.run(args)
    except (ValueError, KeyError) as err:  # InstanceError and unknown names: no traceback
        print(f"jaxpa {args.command}: error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
