"""E2 offline, judged on matched populations: SubOpt(n) of the plug-in policy fitted on datasets
logged by optimal-vs-reference and uniform play (and, at the full size, greedy's online prefix
on the first draw), on many draws of a UD-holds and a UD-fails family that share N, M, K, d, the
reference, and the gap and BT-slope distributions (jaxpa/envs/matched.py). Per draw, n(eps) is
tested against log(1/eps) (slope and curvature on the last resolved decade of n, bootstrap CIs
over seeds: jaxpa/offline/complexity.py), and claim C4 is judged draw by draw
(experiments/offline/claims.py): under UD optimal logging gives n(eps) = O(log 1/eps),
without UD it stalls or grows faster, uniform logging gives O(log 1/eps) on both sides.

No online learners run. Size fields: ``horizon`` caps the largest dataset size n_max (chosen per
draw from the Gaussian-approximation rate, >= n_max_low); ``seeds``: seeds of the stationary
logging policies (sampled logs); ``options``: an ``OfflineOptions`` (experiments/offline/records.py:
grid_points, n_boot, rollout (rolled-out policies on the first draw), rollout_seeds, ...)."""
from jaxpa.experiment import Experiment, Population, Size
from experiments.offline.records import OfflineOptions
from experiments.offline.section import offline_analysis

EXPERIMENT = Experiment(
    name="offline",
    title="E2 offline: n(eps) against log(1/eps) on matched UD-holds and UD-fails populations",
    populations=[Population("holds", family="matched_holds", draws=8),
                 Population("fails", family="matched_fails", draws=8)],
    learners=(),
    feedback="bt_ref",
    sizes={"tiny": Size(horizon=2_000, seeds=64, draws=2,
                        options=OfflineOptions(grid_points=16, n_boot=100)),
           "quick": Size(horizon=100_000, seeds=1024, draws=2,
                         options=OfflineOptions(grid_points=28, n_boot=300)),
           "default": Size(horizon=1_000_000, seeds=4096, draws=8, options=OfflineOptions()),
           # the evidence size: 8 matched draws a side, 4096 seeds (the tail of SubOpt resolved
           # by >= 16 of them), greedy's online prefix on the first draw
           "full": Size(horizon=1_000_000, seeds=4096, draws=8,
                        options=OfflineOptions(rollout=("greedy",)))},
    claim_order=3,
    analyze=offline_analysis(("holds", "fails"), ("optimal", "uniform")),
    description=__doc__.split("\n\n")[0].replace("\n", " "),
)
