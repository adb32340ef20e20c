"""E4: when does personalization pay? Greedy with one shared reward model (greedy_pop) against
personalized greedy, both after a 100-round warm start, along F4's head-spread dial eta (eta = 0:
every user has the same head), over many draws moved along the dial (claim C8)."""
import numpy as np

from jaxpa.experiment import Experiment, Learners, Population, Section, Size
from jaxpa.experiment.rules import judge

ETAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def claims(results):
    p = results.populations["f4"]
    pers = results.run("f4", "greedy").regret[..., -1].mean(-1)     # [B] mean R(T) per draw
    pop = results.run("f4", "greedy_pop").regret[..., -1].mean(-1)
    ratio = pop / np.maximum(pers, 1e-9)
    eta = p.meta["dial"]
    lines, rows = [], []
    for v in np.unique(eta):
        r = ratio[eta == v]
        lo, hi = np.percentile(np.random.default_rng(0).choice(r, (2000, r.size)).mean(1),
                               [2.5, 97.5])
        rows.append({"eta": float(v), "ratio_mean": float(r.mean()), "ci": [float(lo), float(hi)],
                     "draws": int(r.size)})
        lines.append(f"| {v:.2f} | {r.mean():.2f} [{lo:.2f}, {hi:.2f}] | {r.size} |")
    top = eta == eta.max()
    # per draw at the largest spread: personalization pays (agree) or costs (contradict)
    outcomes = np.select([ratio[top] > 1.05, ratio[top] < 0.95], ["agree", "contradict"],
                         "undetermined")
    flat = rows[0]
    equal_at_zero = flat["ci"][0] <= 1.0 <= flat["ci"][1] or abs(flat["ratio_mean"] - 1) < 0.05
    c8 = judge("C8 personalization pays", "A single shared reward model does as well as the "
               "personalized one on a homogeneous population (eta = 0) and worse as heads "
               "spread.", outcomes,
               f"Per draw at eta = {eta.max():.2f}: R_pop(T) / R_pers(T) above 1.05 agrees, below "
               "0.95 contradicts.", control=equal_at_zero,
               control_note=f"at eta = 0 the ratio is {flat['ratio_mean']:.2f} "
                            f"[{flat['ci'][0]:.2f}, {flat['ci'][1]:.2f}] (must include 1)")
    text = ("| eta | R_pop(T) / R_personalized(T) [95% CI over draws] | draws |\n|---|---|---|\n"
            + "\n".join(lines) + f"\n\n- **{c8.name}** ({c8.verdict}): {c8.evidence}")
    return [Section("Personalized against one shared reward model", text=text, claims=[c8],
                    data={"ratios": rows})]


EXPERIMENT = Experiment(
    name="personalization",
    title="E4: personalized greedy against one shared reward model along F4's dial",
    populations=[Population("f4", family="f4", draws=12, dial=("eta", ETAS))],
    learners=[Learners("greedy", "greedy", hparams={"warm_start": 100}),
              Learners("greedy_pop", "greedy_pop", hparams={"warm_start": 100})],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=300, seeds=2, draws=2), "quick": Size(horizon=2_000, seeds=4, draws=6),
           "default": Size(horizon=5_000, seeds=8, draws=12)},
    analyze=claims,
)
