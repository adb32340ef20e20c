from jaxpa.envs.env import Context, context_rewards, draw_context
from jaxpa.envs.feedback import FEEDBACK_MODELS, FeedbackModel, make_feedback
from jaxpa.envs.instance import (Instance, InstanceError, gaps, min_gap, optimal_responses, rewards,
                                 support_mask, validate, validate_horizon)
