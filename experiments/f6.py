"""F6 control: continuous heads, no margin (Delta_min as small as the draw makes it), over many
draws: even greedy after a warm start is expected to pay about log T (claim C6, MODEL.md §6),
judged draw by draw on the instances whose diagnostics say UD holds."""
import numpy as np

from jaxpa.diagnostics.curve_stats import growth
from jaxpa.experiment import Experiment, LearnerGrid, Population, Section, Size
from jaxpa.experiment import rules

WARM = "greedy+warm200"


def claims(results):
    run = results.run("f6", WARM)
    g = growth(run.checkpoints, run.regret)
    diag = results.populations["f6"].diagnostics
    c6 = rules.judge(
        "C6 margin matters", "Without a margin (F6), even greedy after a warm start pays ~ log T.",
        rules.no_margin_log_t(g["class"], diag.ud_holds),
        f"Per F6 draw (median Delta_min {np.median(np.asarray(diag.min_gap)):.2g}), {WARM}'s "
        f"per-doubling increments must persist; median late slope {np.median(g['slope']):.2f}.")
    return [Section("No margin", text=f"- **{c6.name}** ({c6.verdict}): {c6.evidence}",
                    claims=[c6])]


EXPERIMENT = Experiment(
    name="f6",
    title="F6 control: no margin",
    populations=[Population("f6", family="f6", draws=16)],
    learners=[LearnerGrid(WARM, "greedy", hparams={"warm_start": 200}),
              LearnerGrid("ucb", "ucb"), LearnerGrid("ts", "ts"), LearnerGrid("oracle", "oracle")],
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=400, seeds=4, draws=2), "quick": Size(horizon=4_000, seeds=8, draws=6),
           "default": Size(horizon=20_000, seeds=16, draws=16)},
    claim_order=2,
    analyze=claims,
)
