"""Checking a run's arguments on the host before anything compiles (``check_run``), and the seed
counts the runner actually runs (``seed_bucket``: a few sizes per octave, so programs are shared
across seed counts)."""
from __future__ import annotations

import numpy as np

from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance, InstanceError, validate, validate_horizon
from jaxpa.envs.keys import check_key
from jaxpa.learners.base import Learner
from jaxpa.learners.hparams import check_hparams

INIT_ROUND = 2**31 - 1  # fold_in index of the learner's init key (rounds stay below it)


def seed_bucket(n_seeds: int) -> int:
    """The number of seeds actually run for n_seeds: n_seeds itself up to 8, then the next
    multiple of 2^(floor(log2 n) - 2) (at most 25% more, four sizes per octave)."""
    if n_seeds <= 8:
        return n_seeds
    step = 2 ** (int(np.floor(np.log2(n_seeds))) - 2)
    return -(-n_seeds // step) * step


MAX_CHECKPOINTS = 100_000  # n_checkpoints beyond this is a mistake (and gigabytes on the host)


def check_run(key, instance: Instance, feedback, learner: Learner, hparams, horizon, n_seeds,
              chunk=None, *, n_checkpoints=50, on_chunk=None, track_cells=False,
              continue_factor=None):
    """Validate a run's arguments before anything compiles: (key, feedback model, horizon,
    hparams as arrays, hp_batched, inst_batched). Raises InstanceError naming what is wrong."""
    if isinstance(n_checkpoints, bool) or not isinstance(n_checkpoints, (int, np.integer)) \
            or not 0 <= n_checkpoints <= MAX_CHECKPOINTS:
        raise InstanceError(f"n_checkpoints: expected an integer in [0, {MAX_CHECKPOINTS}], got "
                            f"{n_checkpoints!r:.60}")
    if on_chunk is not None and not callable(on_chunk):
        raise InstanceError(f"on_chunk: expected a function (t, curves) or None, got "
                            f"{type(on_chunk).__name__}")
    if not isinstance(track_cells, (bool, np.bool_)):
        raise InstanceError(f"track_cells: expected True or False, got {track_cells!r:.60}")
    if continue_factor is not None and (
            isinstance(continue_factor, bool) or not isinstance(continue_factor, (int, np.integer))
            or continue_factor < 2):
        raise InstanceError(f"continue_factor: expected an integer >= 2 or None, got "
                            f"{continue_factor!r:.60}")
    key = check_key(key)
    if not isinstance(learner, Learner):
        raise InstanceError(f"learner: expected a jaxpa Learner, got {type(learner).__name__}")
    if not isinstance(feedback, (str, FeedbackModel)):  # make_feedback would hash it
        raise InstanceError(f"feedback: expected a FeedbackModel or its name, got "
                            f"{type(feedback).__name__}")
    feedback = make_feedback(feedback)
    if learner.feedback != feedback:
        raise InstanceError(f"learner {learner.name} assumes feedback {learner.feedback.label!r} "
                            f"but the environment simulates {feedback.label!r}; build the learner "
                            f"for the environment's model")
    horizon = validate_horizon(horizon)
    if continue_factor is not None:
        validate_horizon(horizon * int(continue_factor), "horizon * continue_factor")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise InstanceError(f"n_seeds: expected a positive integer, got {n_seeds!r:.60}")
    if seed_bucket(n_seeds) > INIT_ROUND:
        raise InstanceError(f"n_seeds: {n_seeds} seeds (run as {seed_bucket(n_seeds)}) exceed "
                            f"the int32 seed index (at most {INIT_ROUND})")
    if chunk is not None:
        validate_horizon(chunk, "chunk")
    validate(instance)
    feedback.check(instance.n_responses)
    hparams, sweep = check_hparams(learner.name, learner.default_hparams(), hparams, horizon)
    return key, feedback, horizon, hparams, sweep is not None, len(instance.batch_shape) == 1
