"""F6 control: continuous heads, no margin (Delta_min as small as the draw makes it): even greedy
after a warm start is expected to pay about log T (MODEL.md §6)."""
from jaxpa.experiment import Experiment, Learners, Population, Size

EXPERIMENT = Experiment(
    name="f6",
    title="F6 control: no margin",
    populations=[Population("f6", family="f6")],
    learners=[Learners("greedy+warm200", "greedy", hparams={"warm_start": 200}),
              Learners("ucb", "ucb"), Learners("ts", "ts"), Learners("oracle", "oracle")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=4), "quick": Size(horizon=4_000, seeds=32),
           "default": Size(horizon=50_000, seeds=128)},
)
