"""The environment: instances (data), feedback models (components), families (generators)."""
from jaxpa.envs.env import Context, context_rewards, draw_context, respond
from jaxpa.envs.feedback import FEEDBACK_MODELS, FeedbackModel, SingleIndexFeedback, make_feedback
from jaxpa.envs.instance import (Instance, InstanceError, gaps, min_gap, optimal_responses, rewards,
                                 support_mask, validate, validate_horizon)
