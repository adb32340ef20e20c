"""The compiled runner: simulate (curves at checkpoints; optionally continued past the horizon with
the cell tracker read at T and at the end), rollout (every round), sharding."""
from jaxpa.runner.cells import CellTracker
from jaxpa.runner.simulate import (Curves, Record, check_run, init_state, log_checkpoints,
                                   play_round, rollout, seed_bucket, seed_keys, simulate)
