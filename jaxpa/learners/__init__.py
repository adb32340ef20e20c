from jaxpa.learners.base import Featurizer, Learner, personalized, population, random_argmax
from jaxpa.learners.glm import GLMState, GreedyHParams, greedy, oracle, uniform
from jaxpa.learners.registry import LEARNERS, make_learner
