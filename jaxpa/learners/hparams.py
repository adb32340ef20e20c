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
from typing import Any, Callable

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


def _outside(bound: Bound, xf: np.ndarray) -> bool:
    """Whether any entry of xf (float64) lies outside the declared bounds."""
    bad = np.zeros(xf.shape, bool)
    if bound.low is not None:
        bad |= (xf <= bound.low) if bound.low_open else (xf < bound.low)
    if bound.high is not None:
        bad |= xf > bound.high
    return bool(np.any(bad))


def _check_leaf(where: str, bound: Bound, value, horizon: int | None, dtype) -> np.ndarray:
    """The leaf as a NumPy array of ``dtype`` (the default's), after checking it: a number or a
    non-empty 1-D sweep, finite, integral for an int, within the bounds, and still so once cast
    to ``dtype`` (1e-50 is > 0 but is 0 in float32)."""
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
    if x.ndim == 1 and x.shape[0] == 0:
        raise InstanceError(f"{where}: an empty sweep (shape (0,)); give at least one value")
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
    if _outside(bound, xf):
        raise InstanceError(f"{where}: expected {bound.describe()}, got {value!r}")
    if bound.max_horizon and horizon is not None and np.any(xf > horizon):
        raise InstanceError(f"{where}: {value!r} exceeds the horizon of {horizon} rounds")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = x.astype(dtype)
    cf = cast.astype(np.float64)
    if not np.all(np.isfinite(cf)) or _outside(bound, cf):
        raise InstanceError(f"{where}: {value!r} becomes {cast.tolist()} in {np.dtype(dtype).name}"
                            f", outside the range ({bound.describe()})")
    return cast


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
        checked[path] = _check_leaf(where, f.metadata.get("hparam", Bound()), value, horizon,
                                    np.asarray(dvalue).dtype)
    swept = {".".join(path): x.shape[0] for path, x in checked.items() if x.ndim == 1}
    if len(set(swept.values())) > 1:
        raise InstanceError(f"hparams of {learner_name}: sweep lengths differ: "
                            + ", ".join(f"{name} has {n}" for name, n in swept.items())
                            + " values (give every swept hyperparameter the same length)")
    n = next(iter(swept.values()), None)
    leaves = [jnp.broadcast_to(jnp.asarray(x), (n,) if n else ()) for x in checked.values()]
    return jax.tree.unflatten(jax.tree.structure(default), leaves), n


def flat_hparams(hp) -> dict[str, Any]:
    """Leaf name -> value (NumPy scalar or array) along the nest: what results are keyed by."""
    return {path[-1]: np.asarray(value) for path, _, value in _fields(hp)}


def set_hparams(hp, **values):
    """A copy of ``hp`` with leaves replaced by name anywhere along the nest (``inner``
    included): ``set_hparams(greedy.default_hparams(), ridge=2.0, warm_start=jnp.array([0,
    200]))``. Each value is checked against its declared range and cast to the leaf's dtype
    (never truncated); unknown names raise InstanceError listing the known ones."""
    known = flat_hparams(hp)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InstanceError(f"unknown hyperparameters {unknown}; known: {sorted(known)}")

    def checked(field, old, new):  # checked, then in the leaf's dtype (no retracing)
        return jnp.asarray(_check_leaf(f"set_hparams: {field.name}",
                                       field.metadata.get("hparam", Bound()), new, None,
                                       jnp.asarray(old).dtype))

    return replace_leaves(hp, values, checked)


def replace_leaves(hp, values: dict, convert: Callable | None = None):
    """A copy of ``hp`` with the leaves named in ``values`` replaced anywhere along the nest, by
    ``convert(field, old, new)`` if given, else as they are (no check: ``set_hparams`` is the
    checked entry point)."""
    def replace(obj):
        updates = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                updates[f.name] = replace(value)
            elif f.name in values:
                updates[f.name] = values[f.name] if convert is None else convert(f, value,
                                                                                 values[f.name])
        return obj.replace(**updates)

    return replace(hp)
