"""The compiled runner: simulate (curves at checkpoints), rollout (every round), sharding,
continue_run (a run continued past its horizon, its cell tracker read at T and at the end)."""
from jaxpa.runner.cells import CellTracker
from jaxpa.runner.continuation import Continuation, continue_run
from jaxpa.runner.simulate import (Curves, Record, check_run, init_state, log_checkpoints,
                                   play_round, rollout, seed_bucket, seed_keys, simulate)
