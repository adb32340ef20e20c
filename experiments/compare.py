"""The learner zoo on F1 (diverse) and F2 (homogeneous) under bt_ref feedback, every learner at
its registry defaults. Copy this file to compare other learners, grids or feedback models: e.g.
feedback=make_feedback("bt_duel") (each learner picks its own second response; average and weak
regret side by side), "scalar" or make_feedback("mnl", slate_size=3)."""
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size

NAMES = ("oracle", "greedy", "eps_greedy", "eps_decay", "etc", "etc_log", "ucb", "ts",
         "greedy_pop", "ucb_pop", "ts_pop", "uniform")

EXPERIMENT = Experiment(
    name="compare",
    title="The learner zoo on F1 and F2",
    populations=[Population("f1", family="f1"), Population("f2", family="f2")],
    learners=[LearnerGrid(name, name) for name in NAMES]
    + [LearnerGrid("greedy+warm200", "greedy", hparams={"warm_start": 200})],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=4), "quick": Size(horizon=2_000, seeds=16),
           "default": Size(horizon=5_000, seeds=32)},
)
