"""Experiments as data (``spec``), their one execution path (``execute.run``), their outputs
(``outputs``, ``figures``) and claims (``claims``)."""
from jaxpa.experiment.claims import Claim
from jaxpa.experiment.execute import ExperimentResults, Run, run
from jaxpa.experiment.outputs import Section
from jaxpa.experiment.spec import Experiment, LearnerGrid, Population, Size
