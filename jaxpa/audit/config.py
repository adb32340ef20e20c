"""The options of ``jaxpa audit`` (jaxpa/audit/steps.py), in a module of their own so that the
command line can declare its arguments without importing the audit's machinery."""
from __future__ import annotations

import dataclasses

import numpy as np

from jaxpa.envs.instance import InstanceError, validate_horizon

# greedy runs with and without a warm start; greedy_pop (one shared reward model) and uniform play
# are the baselines personalization is measured against; all in one compiled program
LEARNERS = ("greedy", "greedy_pop", "uniform", "ucb")
DEFAULT_LEARNERS = ("greedy", "greedy_pop", "uniform")
LOG_POLICIES = ("optimal", "uniform")  # jaxpa.offline.sampled.STATIONARY

SECTIONS = ("ud", "coverage", "simulate", "budget")  # optional steps (fits and raw always run)


@dataclasses.dataclass(frozen=True)
class AuditConfig:
    """Sizes of the audit; grid, n_test and prompts are ``jaxpa run real``'s options of the same name
    (E5; the grid wider: a homogeneous population needs strong shrinkage before its users look
    alike; benchmarks/audit_verdicts.py). Draws, horizon and seeds are smaller than E5's: the
    audit should answer in a minute."""

    grid: tuple = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
    n_test: int = 2          # held-out choices per user (the last ones)
    prompts: int = 200       # choice sets in the calibrated instance
    draws: int = 32          # random user subsets per coverage size
    horizon: int = 5_000     # rounds of the simulated learners
    seeds: int = 16          # seeds per simulated learner
    warm_start: int = 200    # uniform rounds of greedy + warm start
    seed: int = 0
    n_boot: int = 100        # bootstrap replicates for the UD verdict
    early_stop: bool = True  # stop the bootstrap once the verdict at n_boot is decided
    level: float = 0.95      # verdict threshold and CI level
    budget_draws: int = 16   # random subsets x logs per diversity-versus-volume cell
    log_policy: str = "optimal"  # logging policy of the offline diversity-versus-volume study
    sections: tuple = SECTIONS
    learners: tuple = DEFAULT_LEARNERS  # simulated (config.LEARNERS)
    label: str | None = None     # population label of the key rule (default: the log's name)

    def check(self) -> None:
        validate_horizon(self.horizon)
        for name in ("n_test", "prompts", "draws", "seeds", "n_boot", "budget_draws"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InstanceError(f"{name}: expected a positive integer, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or not 0 <= self.seed < 2**31:
            raise InstanceError(f"seed: expected an integer in [0, 2^31), got {self.seed!r}")
        if isinstance(self.warm_start, bool) or not isinstance(self.warm_start, (int, np.integer)) \
                or not 0 <= self.warm_start <= self.horizon:
            raise InstanceError(f"warm_start: expected an integer in [0, horizon = "
                                f"{self.horizon}], got {self.warm_start!r}")
        if not 0.5 < self.level < 1:
            raise InstanceError(f"level: expected a value in (0.5, 1), got {self.level}")
        if self.log_policy not in LOG_POLICIES:
            raise InstanceError(f"log_policy: expected one of {LOG_POLICIES}, got "
                                f"{self.log_policy!r}")
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:
            raise InstanceError(f"sections: unknown {sorted(unknown)}; known: {list(SECTIONS)}")
        needs_ud = {"coverage", "simulate", "budget"} & set(self.sections)
        if needs_ud and "ud" not in self.sections:
            raise InstanceError(f"sections: {sorted(needs_ud)} run on the resolved population of "
                                f"the ud section; add ud")
        unknown = set(self.learners) - set(LEARNERS)
        if unknown or not self.learners:
            raise InstanceError(f"learners: expected some of {list(LEARNERS)}, got "
                                f"{list(self.learners)}")
