"""Hyperparameters: declared once, next to each learner, with the range that makes sense; checked
on the host before anything compiles; found by name in nested (wrapped) learners.

A learner's hyperparameters are a frozen pytree dataclass whose fields are arrays (a leading axis
on any leaf is a sweep, run as a ``vmap``). Each field is declared with ``hparam(...)``: its kind
(``"float"`` or ``"int"``) and bounds. A wrapper (learners/explore.py) nests the wrapped learner's
hyperparameters in its field ``inner``; field names are unique along the nest, so
``set_hparams(hp, ridge=..., warm_start=...)`` and ``flat_hparams(hp)`` can address them by name.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

from jaxpa.envs.instance import InstanceError

INT32_MAX = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Bound:
    """kind: "float" or "int"; low/high: bounds (None: none); low_open: low itself excluded;
    max_horizon: the value may not exceed the run's horizon (a number of rounds)."""

    kind: str = "float"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    max_horizon: bool = False

    def describe(self) -> str:
        lo = "" if self.low is None else f"{self.low} {'<' if self.low_open else '<='} "
        hi = "" if self.high is None else f" <= {self.high}"
        cap = ", at most the horizon" if self.max_horizon else ""
        return f"{'an integer' if self.kind == 'int' else 'a finite number'} {lo}x{hi}{cap}".strip()


def hparam(kind: str = "float", *, low=None, high=None, low_open: bool = False,
           max_horizon: bool = False):
    """A hyperparameter field with its declared range (module docstring)."""
    return struct.field(pytree_node=True, metadata={
        "hparam": Bound(kind, low, high, low_open, max_horizon)})


def _fields(hp, path=()):
    """(path, field, value) of every leaf field along the nest, depth first."""
    for f in dataclasses.fields(hp):
        if not f.metadata.get("pytree_node", True):
            continue
        value = getattr(hp, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _fields(value, path + (f.name,))
        else:
            yield path + (f.name,), f, value


def _check_leaf(where: str, bound: Bound, value, horizon: int | None) -> np.ndarray:
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == bool):
        raise InstanceError(f"{where}: expected a number, got a boolean {value!r}")
    try:
        x = np.asarray(value)
    except Exception:
        raise InstanceError(f"{where}: expected a number or an array, got {value!r:.60}") from None
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise InstanceError(f"{where}: expected numbers, got dtype {x.dtype}")
    if x.ndim > 1:
        raise InstanceError(f"{where}: expected a scalar or a 1-D sweep, got shape {x.shape}")
    xf = x.astype(np.float64)
    if not np.all(np.isfinite(xf)):
        raise InstanceError(f"{where}: must be finite, got {value!r}")
    if bound.kind == "int":
        if np.any(xf != np.round(xf)):
            raise InstanceError(f"{where}: expected {bound.describe()}, got the non-integer "
                                f"{value!r}")
        if np.any(np.abs(xf) > INT32_MAX):
            raise InstanceError(f"{where}: {value!r} does not fit the int32 range "
                                f"(|x| <= {INT32_MAX})")
    bad = np.zeros(x.shape, bool)
    if bound.low is not None:
        bad |= (xf <= bound.low) if bound.low_open else (xf < bound.low)
    if bound.high is not None:
        bad |= xf > bound.high
    if np.any(bad):
        raise InstanceError(f"{where}: expected {bound.describe()}, got {value!r}")
    if bound.max_horizon and horizon is not None and np.any(xf > horizon):
        raise InstanceError(f"{where}: {value!r} exceeds the horizon of {horizon} rounds")
    return x


def check_hparams(learner_name: str, default, hparams=None, horizon: int | None = None):
    """Check hyperparameters against the learner's defaults and declared ranges; cast every leaf
    to its default's dtype and broadcast scalars along a sweep. Returns (hparams as arrays,
    sweep length or None). Raises InstanceError naming the hyperparameter."""
    if hparams is None:
        hparams = default
    if jax.tree.structure(hparams) != jax.tree.structure(default):
        raise InstanceError(f"hparams for {learner_name}: expected the structure of "
                            f"{type(default).__name__} {jax.tree.structure(default)}, got "
                            f"{jax.tree.structure(hparams)}")
    checked = {}
    for (path, f, value), (_, _, dvalue) in zip(_fields(hparams), _fields(default)):
        where = f"hparams of {learner_name}: {'.'.join(path)}"
        checked[path] = (_check_leaf(where, f.metadata.get("hparam", Bound()), value, horizon),
                         np.asarray(dvalue).dtype)
    sizes = {x.shape[0] for x, _ in checked.values() if x.ndim == 1}
    if len(sizes) > 1:
        raise InstanceError(f"hparams of {learner_name}: sweep lengths differ: {sorted(sizes)}")
    n = sizes.pop() if sizes else None
    leaves = [jnp.broadcast_to(jnp.asarray(x.astype(dt)), (n,) if n else ())
              for x, dt in checked.values()]
    return jax.tree.unflatten(jax.tree.structure(default), leaves), n


def flat_hparams(hp) -> dict[str, Any]:
    """Leaf name -> value (NumPy scalar or array) along the nest: what results are keyed by."""
    return {path[-1]: np.asarray(value) for path, _, value in _fields(hp)}


def set_hparams(hp, **values):
    """A copy of ``hp`` with leaves replaced by name anywhere along the nest (``inner``
    included): ``set_hparams(greedy.default_hparams(), ridge=2.0, warm_start=jnp.array([0,
    200]))``. Unknown names raise InstanceError listing the known ones."""
    known = flat_hparams(hp)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InstanceError(f"unknown hyperparameters {unknown}; known: {sorted(known)}")

    def replace(obj):
        updates = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                updates[f.name] = replace(value)
            elif f.name in values:
                updates[f.name] = values[f.name]
        return obj.replace(**updates)

    return replace(hp)
