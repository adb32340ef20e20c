"""E4: when does personalization pay? Greedy with one shared reward model (greedy_pop) against
personalized greedy, both after a 100-round warm start, along F4's head-spread dial eta (eta = 0:
every user has the same head), over many draws moved along the dial (claim C8)."""
import numpy as np

from jaxpa.experiment import Experiment, LearnerGrid, Population, Section, Size
from jaxpa.experiment.rules import personalization_pays

ETAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def claims(results):
    p = results.populations["f4"]
    pers = results.run("f4", "greedy").regret[..., -1].mean(-1)     # [B] mean R(T) per draw
    pop = results.run("f4", "greedy_pop").regret[..., -1].mean(-1)
    c8, rows = personalization_pays(pop / np.maximum(pers, 1e-9), p.meta["dial"])
    text = ("| eta | R_pop(T) / R_personalized(T) [95% CI over draws] | draws |\n|---|---|---|\n"
            + "\n".join(f"| {r['eta']:.2f} | {r['ratio_mean']:.2f} [{r['ci'][0]:.2f}, "
                         f"{r['ci'][1]:.2f}] | {r['draws']} |" for r in rows)
            + f"\n\n- **{c8.name}** ({c8.verdict}): {c8.evidence}")
    return [Section("Personalized against one shared reward model", text=text, claims=[c8],
                    data={"ratios": rows})]


EXPERIMENT = Experiment(
    name="personalization",
    title="E4: personalized greedy against one shared reward model along F4's dial",
    populations=[Population("f4", family="f4", draws=12, dial=("eta", ETAS))],
    learners=[LearnerGrid("greedy", "greedy", hparams={"warm_start": 100}),
              LearnerGrid("greedy_pop", "greedy_pop", hparams={"warm_start": 100})],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=2, draws=2), "quick": Size(horizon=2_000, seeds=4, draws=6),
           "default": Size(horizon=5_000, seeds=8, draws=12)},
    claim_order=5,
    analyze=claims,
)
