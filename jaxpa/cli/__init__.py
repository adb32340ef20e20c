"""The ``jaxpa`` command line (``jaxpa.cli.main``)."""
from jaxpa.cli.main import build_parser, main
