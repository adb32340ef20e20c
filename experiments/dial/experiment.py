"""The diversity dial done right (issue 16): which constant of the population predicts greedy's
plateau? Controlled dials (jaxpa/envs/dials.py: one scalar moves a diversity constant while N, K,
d, Delta_min and kappa stay exactly fixed; each draw moved along its dial is a line) and many
F1 draws of fixed sizes (everything varies), fresh draws of the matched construction at three
shapes (C7' replication), greedy with warm starts n0 in N0 (one vmapped sweep),
lock-in from the runner's cell tracker. Analysis and claims C7 (lambda_D) and C7' (the best
candidate constant): experiments/dial/section.py (with measure.py, claims.py, tables.py
and figure.py beside it).

Dials: rotate (user m's head rotated within the fiber towards user 0's: lambda_D ~ s^2 with three
users per group), rotate_redundant (four users per group: leave-one-user-out coverage moves,
lambda_D hardly), minority (user m's mass p: lambda_D ~ p), runner_up (user m's runner-up reward b
from below the reference to just under y*)."""
import numpy as np

from jaxpa.envs import dials
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size
from experiments.dial.section import dial_analysis

N0 = [0, 100, 300, 1000]
VALUES = 5  # points per dial line
F1 = dict(n_users=6, k=2, d=3, n_responses=4, n_prompts=6, min_gap=0.25)  # fixed sizes

# host=True: the dials are jitted with the value traced, so calling them per draw compiles one
# program per dial instead of one per dial value (the instances are the same)
DIALS = [
    Population("rotate", build=dials.rotate_head, options={"n_per_group": 3},
               dial=("s", np.geomspace(0.05, 1.0, VALUES)), draws=6, host=True),
    Population("rotate_redundant", build=dials.rotate_head, options={"n_per_group": 4},
               dial=("s", np.geomspace(0.05, 1.0, VALUES)), draws=6, host=True),
    Population("minority", build=dials.minority, dial=("p", np.geomspace(0.01, 0.16, VALUES)),
               draws=6, host=True),
    Population("runner_up", build=dials.runner_up, dial=("b", np.linspace(-1.0, 0.5, VALUES)),
               draws=6, host=True),
]
DRAWS = [Population("f1", family="f1", options=F1, draws=64)]
# C7' replication: fresh draws of another construction at three shapes, where C7' checks the
# constant it named on the F1 draws (no re-selection). The matched construction (jaxpa/envs/
# matched.py: a zero-feature reference y0 whose reward is 0 for every user, heads on the unit
# circle, Delta_min and kappa in windows) differs from F1 in how rewards and the reference are
# made; shapes are static in a vmapped population, so the variety of shapes comes from several
# fixed-shape populations: (N, M, K, d) = (6, 2, 5, 3), (8, 3, 4, 3) with UD and leave-one-user-out
# coverage holding, and the robust pair's fragile side (6, 1, 4, 2), where UD holds but greedy can
# lock a user for good (unlock_time = inf: where the constant is undefined, counted in the claim).
REPLICATION = [
    Population("matched", family="matched_holds", draws=24),
    Population("matched_wide", family="matched_holds",
               options={"n_users": 8, "n_prompts": 3, "n_responses": 4}, draws=24),
    Population("robust_fails", family="robust_fails", draws=16),
]

EXPERIMENT = Experiment(
    name="dial",
    title=("Which constant of the population predicts greedy's plateau (controlled dials, F1 "
           "draws, replication draws)"),
    populations=DIALS + DRAWS + REPLICATION,
    learners=[LearnerGrid("greedy", "greedy", hparams={"warm_start": N0})],
    feedback="bt_ref",
    track_cells=True,
    n_checkpoints=120,  # fine enough that R(n0) is read close to n0 (stats.warm_regret)
    # Size.draws, when given, sets the draws of every population (dial lines and F1 draws alike)
    sizes={"tiny": Size(horizon=1_200, seeds=4, draws=2),
           "quick": Size(horizon=4_000, seeds=8, draws=6),
           "default": Size(horizon=40_000, seeds=32)},
    claim_order=4,
    analyze=dial_analysis([p.label for p in DIALS], [p.label for p in DRAWS],
                          [p.label for p in REPLICATION], n0_focus=300),
    description=("Greedy's plateau (R(T) - R(n0) over the seeds that do not lock a cell) and its "
                 "lock-in probability, against every candidate constant of "
                 "jaxpa/diagnostics/constants.py: within controlled dial lines, across F1 draws, "
                 "and again across fresh draws of the matched construction at three shapes."),
)
