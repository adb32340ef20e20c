from jaxpa.learners.base import Featurizer, Learner, personalized, population, random_argmax
from jaxpa.learners.glm import GLMState, GreedyHParams, greedy, oracle, uniform
from jaxpa.learners.explore import EpsGreedyHParams, EtcHParams
from jaxpa.learners.optimistic import UcbHParams
from jaxpa.learners.thompson import TsHParams
from jaxpa.learners.registry import LEARNERS, for_horizon, make_learner
