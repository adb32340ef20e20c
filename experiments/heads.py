"""Learned heads: greedy told every user's head, against learners that see only user ids and learn
the heads (unknown_heads: alternating ridge on W and H; neural: a Flax model with user embeddings,
Optax), with uniform and oracle, on four draws of F1 (diverse) and F2 (homogeneous)."""
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size

EXPERIMENT = Experiment(
    name="heads",
    title="Known heads against learned heads (unknown_heads, neural)",
    populations=[Population("f1", family="f1", draws=4), Population("f2", family="f2", draws=4)],
    learners=[LearnerGrid("oracle", "oracle"), LearnerGrid("greedy (known heads)", "greedy"),
              LearnerGrid("unknown_heads", "unknown_heads"), LearnerGrid("neural", "neural"),
              LearnerGrid("uniform", "uniform")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=2), "quick": Size(horizon=2_000, seeds=4),
           "default": Size(horizon=5_000, seeds=8)},
)
