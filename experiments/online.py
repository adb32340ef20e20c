"""E1 online: every learner on F1 (UD holds), F2 (homogeneous) and F3 (clustered: heads span, UD
fails), all meeting the same random stream (MODEL.md §6)."""
from jaxpa.experiment import Experiment, Learners, Population, Size

EXPERIMENT = Experiment(
    name="online",
    title="E1 online: the learner zoo on F1, F2 and F3",
    populations=[Population("f1", family="f1"), Population("f2", family="f2"),
                 Population("f3", family="f3")],
    learners=[Learners("greedy", "greedy", hparams={"warm_start": [0, 200]},
                       labels=["greedy", "greedy+warm200"]),
              Learners("eps_t=c/t", "eps_decay"), Learners("etc(c log T)", "etc_log"),
              Learners("ucb", "ucb"), Learners("ts", "ts"), Learners("greedy_pop", "greedy_pop"),
              Learners("uniform", "uniform"), Learners("oracle", "oracle")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=4), "quick": Size(horizon=4_000, seeds=32),
           "default": Size(horizon=50_000, seeds=128)},
)
