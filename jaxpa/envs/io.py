"""Instances to and from plain dicts and .npz files, so that an instance found by an experiment
(or fitted from real data) can be saved, shared and diagnosed again (``jaxpa diagnose --instance``).

An .npz holds one array per ``Instance`` field under the field's name; a batch of instances is the
same with a leading axis on every array. Loading validates the instance (``validate``).
"""
from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import jax.numpy as jnp

from jaxpa.envs.instance import Instance, InstanceError, as_indices, validate

FIELDS = tuple(f.name for f in dataclasses.fields(Instance))


def instance_to_dict(inst: Instance) -> dict[str, np.ndarray]:
    """Field name -> NumPy array, for every field of the instance."""
    return {name: np.asarray(getattr(inst, name)) for name in FIELDS}


def instance_from_dict(arrays, dtype=None) -> Instance:
    """Instance from a mapping of field arrays (``shared`` may be absent: zeros). Floating fields
    keep their dtype unless ``dtype`` is given; the result is validated."""
    missing = [n for n in FIELDS if n not in arrays and n != "shared"]
    if missing:
        raise InstanceError(f"instance file: missing fields {missing}; expected {list(FIELDS)}")
    values = {n: np.asarray(arrays[n]) for n in FIELDS if n in arrays}
    if "shared" not in values:
        feats = values["features"]
        values["shared"] = np.zeros(feats.shape[:-3] + feats.shape[-1:], feats.dtype)
    inst = Instance(**{n: as_indices(v, n) if n == "reference" else jnp.asarray(v, dtype or v.dtype)
                       for n, v in values.items()})
    validate(inst)
    return inst


def save_instance(path, inst: Instance) -> Path:
    """Write the instance (or batch) to ``path`` (.npz, compressed). Returns the path written."""
    validate(inst)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **instance_to_dict(inst))
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load_instance(path, dtype=None) -> Instance:
    """Read an instance (or batch) written by ``save_instance``; validated. A file that is not
    such an archive (truncated, text, a single .npy array, non-numeric fields) raises
    InstanceError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"instance file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise InstanceError(f"{path}: not a readable .npz instance ({err})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InstanceError(f"{path}: a single array, not an .npz archive of Instance fields "
                            f"{list(FIELDS)}")
    try:
        with data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise InstanceError(f"{path}: the archive is damaged ({err})") from None
    bad = [k for k, v in arrays.items() if k in FIELDS and not np.issubdtype(v.dtype, np.number)]
    if bad:
        raise InstanceError(f"{path}: fields {bad} are not numeric")
    return instance_from_dict(arrays, dtype=dtype)
