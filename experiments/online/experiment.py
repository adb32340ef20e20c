"""E1 online, judged on matched populations: many draws of a UD-holds and a UD-fails family that
share N, M, K, d, the reference, and the gap and BT-slope distributions (jaxpa/envs/matched.py),
every learner meeting the same random stream. Claims C1 (UD: greedy after a warm start is
bounded), C2 (no UD: consistent learners pay log T, and much less so with UD), C3 (no UD: greedy
locks users more often) and C5 (spanning heads are not enough), draw by draw
(jaxpa/experiment/rules.py), with lock-in against the warm start n0. eps_t = c/t pays c log T with
or without UD (it explores on a schedule), so C2's control excludes it: it is the learner that
shows the control at work. Thompson sampling is in experiments/compare.py: at this horizon it is
still exploring with UD too, so it would be excluded the same way."""
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size
from experiments.online.claims import online_claims

N0 = [0, 100, 300, 1000]
GREEDY = [f"greedy[warm_start={n}]" for n in N0]

EXPERIMENT = Experiment(
    name="online",
    title="E1 online: matched UD-holds and UD-fails populations",
    populations=[Population("holds", family="matched_holds", draws=24),
                 Population("fails", family="matched_fails", draws=24)],
    learners=[LearnerGrid("greedy", "greedy", hparams={"warm_start": N0}),
              LearnerGrid("ucb", "ucb"), LearnerGrid("eps_t=c/t", "eps_decay"),
              LearnerGrid("uniform", "uniform"), LearnerGrid("oracle", "oracle")],
    feedback="bt_ref",
    track_cells=True,
    sizes={"tiny": Size(horizon=1_200, seeds=4, draws=3), "quick": Size(horizon=4_000, seeds=8, draws=8),
           "default": Size(horizon=20_000, seeds=24, draws=24)},
    claim_order=1,
    continue_factor=2,
    analyze=online_claims("holds", "fails", greedy=GREEDY, warm="greedy[warm_start=1000]",
                          cold="greedy[warm_start=0]", consistent=("ucb", "eps_t=c/t")),
)
