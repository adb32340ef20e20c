"""The learner zoo under bt_duel, dueling-bandit conventions: each learner picks both responses
by its own rule (UCB an optimistic challenger, TS a second posterior sample, greedy its runner-up);
average regret r* - (r(y) + r(y'))/2 and weak regret r* - max side by side (summary.csv:
weak_final_mean). A fixed second response is another model: make_feedback("bt_duel",
second="reference") (average regret then linear for every learner, by construction)."""
from jaxpa.envs.feedback import make_feedback
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size

EXPERIMENT = Experiment(
    name="compare_duel",
    title="The learner zoo under bt_duel (own second responses)",
    populations=[Population("f1", family="f1"), Population("f2", family="f2")],
    learners=[LearnerGrid(n, n) for n in ("oracle", "greedy", "eps_decay", "ucb", "ts", "uniform")],
    feedback=make_feedback("bt_duel", second="own"),
    sizes={"tiny": Size(horizon=300, seeds=4), "quick": Size(horizon=2_000, seeds=16),
           "default": Size(horizon=5_000, seeds=32)},
)
