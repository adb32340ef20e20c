"""jaxpa: a JAX engine for experiments on personalized alignment (see MODEL.md in the docs)."""
from jaxpa.envs import (FEEDBACK_MODELS, Context, FeedbackModel, Instance, InstanceError, gaps,
                        make_feedback, min_gap,
                        optimal_responses, rewards, validate)
from jaxpa.envs.families import FAMILIES, make_family
from jaxpa.learners import Learner, make_learner
from jaxpa.runner import Curves, rollout, simulate

__version__ = "0.1.0"
