from jaxpa.envs import fast_random  # noqa: F401  (installs the unrolled Threefry lowering on the CPU)
from jaxpa.envs.env import Context, context_rewards, draw_context
from jaxpa.envs.feedback import FEEDBACK_MODELS, FeedbackModel, make_feedback
from jaxpa.envs.instance import (Instance, InstanceError, gaps, min_gap, optimal_responses, rewards,
                                 support_mask, validate, validate_horizon)
