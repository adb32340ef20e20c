"""The main job: greedy with and without a warm start, uniform and oracle on F1 (diverse: UD
holds) and F2 (homogeneous: UD fails), bt_ref feedback."""
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size

EXPERIMENT = Experiment(
    name="default",
    title="Greedy on a diverse (F1) and a homogeneous (F2) population",
    populations=[Population("f1", family="f1"), Population("f2", family="f2")],
    learners=[LearnerGrid("greedy", "greedy", hparams={"warm_start": [0, 200]},
                       labels=["greedy", "greedy+warm200"]),
              LearnerGrid("uniform", "uniform"), LearnerGrid("oracle", "oracle")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=4), "quick": Size(horizon=5_000, seeds=64),
           "default": Size(horizon=60_000, seeds=256)},
)
