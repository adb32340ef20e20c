"""jaxpa: a JAX engine for experiments on personalized alignment (see MODEL.md in the docs).

Importing jaxpa changes nothing global in JAX. The runner compiles its own programs with a faster
CPU lowering of the random draws (the same bits), installed only for its calls;
``jaxpa.fast_cpu_random()`` is the explicit opt-in for your own programs.
"""
from jaxpa.envs import (FEEDBACK_MODELS, Context, FeedbackModel, Instance, InstanceError,
                        SingleIndexFeedback, fast_cpu_random, gaps, make_feedback, min_gap,
                        optimal_responses, rewards, validate)
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.learners import Learner, make_learner, set_hparams
from jaxpa.runner import Curves, rollout, simulate

__version__ = "0.2.0"
