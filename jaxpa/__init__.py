"""jaxpa: a JAX engine for experiments on personalized alignment (see MODEL.md in the docs).

Importing jaxpa changes nothing global in JAX. The runner draws JAX's default Threefry stream
with the hash unrolled (the same bits, faster on the CPU) through JAX's public key API
(``jaxpa.envs.threefry``), inside its own programs only.
"""
from jaxpa.envs import (FEEDBACK_MODELS, Context, FeedbackModel, Instance, InstanceError,
                        SingleIndexFeedback, gaps, make_feedback, min_gap,
                        optimal_responses, rewards, validate)
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.learners import Learner, make_learner, set_hparams
from jaxpa.runner import Curves, rollout, simulate

__version__ = "0.2.0"
