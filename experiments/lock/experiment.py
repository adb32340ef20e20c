"""C9 (permanent lock-in) on the robust pair: UD holds on both sides, robust UD (leave-one-user-
out coverage) holds on one and fails on the other (jaxpa/envs/matched.py ``robust_pair``; same N,
M, K, d, reference, Delta_min and kappa windows). greedy (online Newton) and greedy_exact (the
ridge MLE refitted every round) over the same draws and keys, each with warm starts n0; every run
continues to 4 T, and a seed locks for good when a (user, prompt) cell locked over [T/2, T] is
still locked on the same response over [2T, 4T] (diagnostics.permanent_lock). Claims C9a/b/c/d per
learner and n0 (experiments/lock/rules.py); C9d against each draw's strict self-consistent locks
(diagnostics.fixed_points, enumerated on the host: 4^6 configurations a draw)."""
from jaxpa.experiment import Experiment, LearnerGrid, Population, Size
from experiments.lock.claims import lock_claims

N0 = [0, 100, 300]
LEARNERS = ("greedy", "greedy_exact")

EXPERIMENT = Experiment(
    name="lock",
    title="C9 permanent lock-in: the robust pair (UD holds; robust UD holds or fails)",
    populations=[Population("robust", family="robust_holds", draws=16),
                 Population("fragile", family="robust_fails", draws=16)],
    learners=[LearnerGrid(name, name, hparams={"warm_start": N0}) for name in LEARNERS],
    feedback="bt_ref",
    track_cells=True,
    continue_factor=4,
    sizes={"tiny": Size(horizon=300, seeds=4, draws=2),
           "quick": Size(horizon=1_000, seeds=16, draws=6),
           "default": Size(horizon=10_000, seeds=16, draws=16)},
    claim_order=7,
    analyze=lock_claims("robust", "fragile", learners=LEARNERS, n0=N0),
)
