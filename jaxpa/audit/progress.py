"""What each step of the audit does, its size, and a rough ETA, printed before the step runs
(one line per step, terminal or not; the line after it gives the time taken).

The ETA is ``COMPILE[step] + RATE[step] * work``: work counts the step's inner loop (below), and the
rates were measured with benchmarks/bench_audit.py on the project's 2-core machine under load
(benchmarks/RESULTS.md), so it is the right order of magnitude there, not a promise elsewhere.
"""
from __future__ import annotations

import numpy as np

from jaxpa.audit.config import AuditConfig
from jaxpa.data.coverage import log_grid

# seconds to compile a step's programs, and seconds per unit of work (CPU seconds measured with
# benchmarks/bench_audit.py at 752 and 1,000 users; wall time on a loaded machine is longer)
COMPILE = {"fits": 6.0, "raw": 2.5, "ud": 8.0, "coverage": 1.5, "simulate": 2.0, "budget": 8.0}
RATE = {"fits": 6e-5, "raw": 6e-7, "ud": 2.5e-6, "coverage": 1e-6, "simulate": 1e-5,
        "budget": 6e-9}


def budget_sizes(n_users: int, n_choices: int):
    """(users grid, budgets grid) of the diversity-versus-volume study (steps.budget_grids)."""
    users = log_grid(min(2, n_users), n_users, 5)
    budgets = log_grid(max(n_users, 8), max(4 * n_choices, 2 * n_users), 6)
    return users, budgets


def step_plan(panel, config: AuditConfig) -> dict[str, tuple[str, float]]:
    """{step: (what it does with its size, ETA in seconds)}."""
    U, n, S = panel.n_users, panel.n_choices, len(config.grid)
    L = int(np.bincount(np.asarray(panel.user), minlength=U).max())
    p = panel.d * panel.d
    users, budgets = budget_sizes(U, n)
    online = int(budgets[-2])
    learners = len(config.learners) + ("greedy" in config.learners)  # greedy: two warm starts
    plan = {
        "fits": (f"population and personalized fits: {n} choices of {U} users, {S} shrinkage "
                 f"values", n * S),
        "raw": (f"diagnostics of the calibrated population: {U} users x {config.prompts} "
                f"prompts", U * config.prompts),
        "ud": (f"UD bootstrap: {config.n_boot} replicates x {U} users x {S} shrinkage values "
               f"(<= {L} choices each)", config.n_boot * U * S * L),
        "coverage": (f"coverage: random subsets ({config.draws} draws a size) and a greedy "
                     f"pick of {U} users", U * config.prompts),
        "simulate": (f"{learners} simulated learner(s) x {config.seeds} seeds x "
                     f"{config.horizon} rounds", learners * config.seeds * config.horizon),
        "budget": (f"diversity versus volume: {len(users)} user counts x {len(budgets)} budgets "
                   f"(up to {int(budgets[-1])} comparisons) x {config.budget_draws} draws; "
                   f"online greedy for {online} rounds",
                   len(users) * config.budget_draws * (int(budgets[-1]) + online) * p * p * 15)}
    return {k: (what, COMPILE[k] + RATE[k] * work) for k, (what, work) in plan.items()}
