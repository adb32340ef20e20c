"""The audit of a team's own preference log (``jaxpa audit``): is personalization cheap for this
population, and whom should it recruit?

Modules, in the order an audit runs them: ``reading`` (the long-format log, checked line by line),
``config`` (the options), ``steps`` (``run_audit``: the steps as stored parts, on the shared fit
path of jaxpa/data/: study.py, fit.py, panels.py), ``bootstrap`` (UD with its uncertainty),
``coverage`` (worst directions, greedy pick of users, exchange rate), ``simulation`` (simulated
learners, diversity versus volume, the gaps against the horizon), ``heads`` (the heads with their
standard errors on the taste directions), ``decision`` (the decision box), ``report`` and
``figures`` (the outputs), ``synthetic`` (logs
of known status, for tests and benchmarks). The audit sits above jaxpa.data and jaxpa.results and
below jaxpa.experiment; the CLI glue is jaxpa/cli/audit.py."""
