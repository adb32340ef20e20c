"""Feedback models (MODEL.md §2), one file each, and their registry.

``make_feedback(name, **options)`` builds one by name; ``FEEDBACK_MODELS`` maps names to classes.
A model of your own is a subclass of ``FeedbackModel`` (or ``SingleIndexFeedback``, the common
case) passed wherever a model is expected: nothing needs registering (docs/extending.md).
"""
from __future__ import annotations

from jaxpa.envs.feedback.base import FeedbackModel, SingleIndexFeedback
from jaxpa.envs.feedback.bt_duel import BTDuel
from jaxpa.envs.feedback.bt_ref import BTRef
from jaxpa.envs.feedback.mnl import MNL
from jaxpa.envs.feedback.scalar import Scalar
from jaxpa.envs.instance import InstanceError

FEEDBACK_MODELS: dict[str, type[FeedbackModel]] = {
    cls.name: cls for cls in (Scalar, BTRef, BTDuel, MNL)}


def make_feedback(name: str | FeedbackModel, **options) -> FeedbackModel:
    """A feedback model by name (options are its fields, e.g. ``make_feedback("bt_duel",
    second="runner_up")``); a model passed in is returned as it is. Unknown names and options
    raise InstanceError (a ValueError) listing the known ones."""
    if isinstance(name, FeedbackModel):
        if options:
            raise InstanceError(f"make_feedback: options {sorted(options)} given with a model "
                             f"object {name.label!r}")
        return name
    if name not in FEEDBACK_MODELS:
        raise InstanceError(f"unknown feedback model {name!r}; known: {sorted(FEEDBACK_MODELS)}")
    try:
        return FEEDBACK_MODELS[name](**options)
    except ValueError as err:  # an option out of range: the model's own message
        raise InstanceError(str(err)) from None
    except TypeError:
        fields = [f for f in FEEDBACK_MODELS[name].__dataclass_fields__]
        raise InstanceError(f"feedback {name!r}: unknown options {sorted(options)}; it takes "
                         f"{fields}") from None
