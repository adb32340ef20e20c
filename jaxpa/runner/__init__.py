"""The compiled runner: simulate (curves at checkpoints), rollout (every round), sharding."""
from jaxpa.runner.cells import CellTracker
from jaxpa.runner.simulate import (Curves, Record, check_run, init_state, log_checkpoints,
                                   play_round, rollout, seed_bucket, seed_keys, simulate)
