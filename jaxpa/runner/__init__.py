from jaxpa.runner.simulate import (Curves, Record, advance, advance_batched, init_carry,
                                   log_checkpoints,
                                   play_round, rollout, seed_keys, simulate)
