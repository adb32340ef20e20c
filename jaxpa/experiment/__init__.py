"""The experiment engine: experiments as data (``spec``), their one execution path
(``execute.run``), their outputs and the tables experiments share (``outputs``), figure helpers
(``figures``), claims and claim rules (``claims``, ``rules``). The experiments themselves, with
their own analyses, live in the top-level experiments/ folder."""
from jaxpa.experiment.claims import Claim
from jaxpa.experiment.execute import ExperimentResults, Run, run
from jaxpa.experiment.outputs import Section
from jaxpa.experiment.spec import Experiment, LearnerGrid, Population, Size
