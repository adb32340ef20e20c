"""The experiments: one file per experiment (compare.py, default.py, ...) or, where it has its own
analysis, one folder (dial/, lock/, online/, offline/, real/: the declaration experiment.py with its
measurement, claims, report section, figures and tests beside it). Each defines
``EXPERIMENT = jaxpa.experiment.Experiment(...)``; ``jaxpa run NAME`` finds it by name, and
those declared with ``claim_order`` make up ``jaxpa reproduce``. No experiment imports another."""
