"""Learners (MODEL.md §4): the protocol, the GLM core, exploration wrappers, the zoo and its
registry, and the helpers a learner of your own needs."""
from jaxpa.envs.draws import random_argmax, top_slate, uniform_index
from jaxpa.learners.base import Learner, NoHParams, keep_state
from jaxpa.learners.baselines import oracle, uniform
from jaxpa.learners.design import FEATURIZERS, Featurizer, design, make_featurizer, personalized, population
from jaxpa.learners.exact import ExactState, greedy_exact
from jaxpa.learners.explore import EpsilonHParams, WarmStartHParams, epsilon_greedy, warm_start
from jaxpa.learners.glm import GLMHParams, GLMState, greedy
from jaxpa.learners.hparams import check_hparams, flat_hparams, hparam, set_hparams
from jaxpa.learners.optimistic import UcbHParams, ucb
from jaxpa.learners.registry import LEARNERS, make_learner
from jaxpa.learners.thompson import TsHParams, ts
