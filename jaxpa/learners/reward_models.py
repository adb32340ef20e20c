"""Reward models for the neural learner (learners/neural.py), as pure functions of a parameter
pytree (``RewardModel``: ``init(key, n_users, features) -> params`` and
``apply(params, user, features) -> rewards [K]``), built from a Flax NNX module or factory
(``from_nnx``), a linen module or factory (``from_linen``) or a pure pair (``reward_model``); the
default ``PersonalizedReward`` (a shared torso and one embedding per user). ``check_output``
checks a model's output shape before anything compiles."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax import nnx, struct

Array = jax.Array


class PersonalizedReward(nn.Module):
    """r̂_u(phi) = <e_u, torso(phi)>: user id (int32 scalar), features [K, d] -> rewards [K]."""

    n_users: int
    embed_dim: int = 8
    hidden: Sequence[int] = (32,)

    @nn.compact
    def __call__(self, user: Array, features: Array) -> Array:
        x = features
        for width in self.hidden:
            x = nn.gelu(nn.Dense(width)(x))
        x = nn.Dense(self.embed_dim, use_bias=False)(x)  # a bias would add b.e_u to every y
        return x @ nn.Embed(self.n_users, self.embed_dim, name="users")(user)


# ----- bring your own reward model -------------------------------------------------------------
class RewardModel(NamedTuple):
    """A reward model as pure functions (module docstring): ``init(key, n_users, features [K, d])
    -> params`` (a pytree of float arrays, every leaf trained) and ``apply(params, user,
    features [K, d]) -> [K]`` (user an int32 scalar); ``name`` is what the learner's name shows."""

    init: Callable[[Array, int, Array], Any]
    apply: Callable[[Any, Array, Array], Array]
    name: str = "custom"


@struct.dataclass
class ModelParams:
    """The parameters of an adapted Flax model: ``variables`` (a pytree of arrays: linen's
    variable dict, or NNX's ``nnx.State`` of the module's ``nnx.Param``s) and ``static`` (not a
    pytree node: what rebuilds the module in ``apply``: the number of users for a linen factory,
    the ``nnx.GraphDef`` for NNX, None for a linen module instance)."""

    variables: Any
    static: Any = struct.field(pytree_node=False, default=None)


def _factory_name(obj) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__


def _linen_variables(variables, name: str):
    extra = sorted(set(variables) - {"params"})
    if extra:
        raise ValueError(f"neural: the linen model {name} has variable collections {extra} "
                         "besides 'params'; the neural learner trains 'params' only and applies "
                         "the model without mutable collections (no BatchNorm statistics)")
    return variables


def from_linen(module: nn.Module | Callable[[int], nn.Module], name: str | None = None
               ) -> RewardModel:
    """A ``RewardModel`` from a flax.linen module ``module(user, features) -> [K]``, or a factory
    ``n_users -> module`` (called with the run's number of users: what sizes an embedding table).
    ``init`` is ``module.init(key, user 0, features)``; only the ``params`` collection may exist."""
    if isinstance(module, nn.Module):
        label = name or type(module).__name__

        def init(key, n_users, features):
            return ModelParams(_linen_variables(module.init(key, jnp.int32(0), features), label))

        def apply(params, user, features):
            return module.apply(params.variables, user, features)

        return RewardModel(init, apply, label)
    if not callable(module):
        raise TypeError(f"from_linen: expected a flax.linen Module or a factory n_users -> "
                        f"Module, got {type(module).__name__}")
    factory, label = module, name or _factory_name(module)

    def build(n_users):
        made = factory(n_users)
        if not isinstance(made, nn.Module):
            raise TypeError(f"from_linen: the factory {label} returned {type(made).__name__}, not "
                            "a flax.linen Module (an NNX factory goes to from_nnx)")
        return made

    def init(key, n_users, features):
        variables = build(n_users).init(key, jnp.int32(0), features)
        return ModelParams(_linen_variables(variables, label), int(n_users))

    def apply(params, user, features):
        return build(params.static).apply(params.variables, user, features)

    return RewardModel(init, apply, label)


def _split_nnx(module: nnx.Module, name: str) -> ModelParams:
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    flat = jax.tree_util.tree_flatten_with_path(rest)[0]
    if flat:
        raise ValueError(f"neural: the NNX model {name} holds state other than nnx.Param "
                         f"({[jax.tree_util.keystr(p) for p, _ in flat][:3]}): the "
                         "neural learner trains nnx.Param variables only; build the module "
                         "without stored nnx.Rngs (pass rngs to the constructor only), dropout "
                         "or BatchNorm statistics")
    return ModelParams(params, graphdef)


def from_nnx(module: nnx.Module | Callable[[int, nnx.Rngs], nnx.Module], name: str | None = None
             ) -> RewardModel:
    """A ``RewardModel`` from a Flax NNX module ``module(user, features) -> [K]``, or a factory
    ``(n_users, rngs) -> module`` called in ``init`` with the run's number of users and
    ``nnx.Rngs`` of the seed's key. The module is ``nnx.split`` into its graph (static) and the
    ``nnx.State`` of its ``nnx.Param`` variables (the trained pytree); ``apply`` merges them back
    (``nnx.merge``) and calls the module. A module instance starts every seed from its own
    parameters. Other state (stored ``nnx.Rngs``, BatchNorm statistics) is rejected."""
    if isinstance(module, nnx.Module):
        label = name or type(module).__name__
        start = _split_nnx(module, label)  # on the host, outside any trace
        start = start.replace(variables=jax.tree.map(jnp.array, start.variables))  # a copy

        def init(key, n_users, features):
            return start

    elif callable(module):
        factory, label = module, name or _factory_name(module)

        def init(key, n_users, features):
            made = factory(n_users, nnx.Rngs(key))
            if not isinstance(made, nnx.Module):
                raise TypeError(f"from_nnx: the factory {label} returned {type(made).__name__}, "
                                "not an nnx.Module (a linen factory goes to from_linen)")
            return _split_nnx(made, label)
    else:
        raise TypeError(f"from_nnx: expected an nnx.Module or a factory (n_users, rngs) -> "
                        f"nnx.Module, got {type(module).__name__}")

    def apply(params, user, features):
        return nnx.merge(params.static, params.variables)(user, features)

    return RewardModel(init, apply, label)


def reward_model(model) -> RewardModel:
    """A ``RewardModel`` from a ``RewardModel``, a pure ``(init, apply)`` pair, a flax.linen
    module or an NNX module. Factories are ambiguous (linen or NNX?): pass them through
    ``from_linen`` or ``from_nnx``."""
    if isinstance(model, RewardModel):
        return model
    if isinstance(model, nn.Module):
        return from_linen(model)
    if isinstance(model, nnx.Module):
        return from_nnx(model)
    if isinstance(model, (tuple, list)) and len(model) == 2 and all(map(callable, model)):
        return RewardModel(*model)
    hint = (" (a factory: wrap it in from_linen(factory) or from_nnx(factory))"
            if callable(model) else "")
    raise TypeError(f"neural: model must be a RewardModel, an (init, apply) pair, a flax.linen "
                    f"Module or an nnx.Module, got {type(model).__name__}{hint}")


def check_output(model: RewardModel, params, features: Array) -> None:
    """Raise ValueError unless ``model.apply(params, user, features [K, d])`` is a float [K]
    (checked on shapes only: nothing runs)."""
    K = features.shape[0]
    out = jax.eval_shape(model.apply, params, jnp.int32(0), features)
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != (K,) or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"neural: the reward model {model.name!r} must map (params, user int32 "
                         f"scalar, features [K, d] = {tuple(features.shape)}) to float rewards "
                         f"[K] = ({K},); its apply returned "
                         f"{out if shape is None else f'shape {shape} dtype {dtype}'}")
