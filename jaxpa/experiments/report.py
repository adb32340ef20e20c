"""Shared output helpers for experiments: run metadata, atomic and resumable result files,
summary statistics of curves, regret plots and plain-text tables.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run never leaves a half-written file, and finished parts of an experiment survive.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import jax


def run_metadata() -> dict[str, Any]:
    """Versions and machine facts recorded beside every result."""
    import flax
    import optax
    import jaxpa

    return {"jaxpa": jaxpa.__version__, "jax": jax.__version__, "flax": flax.__version__,
            "optax": optax.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
            "cpu_count": os.cpu_count(), "x64": bool(jax.config.jax_enable_x64)}


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprint(tree) -> str:
    """A short hash of a pytree's array bytes (an instance, say), so that stored parts computed
    from different data are never mistaken for each other."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.asarray(leaf)
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path, obj) -> Path:
    """Write JSON atomically (temporary file + rename)."""
    return _atomic(path, lambda f: f.write(json.dumps(obj, indent=1, default=_jsonable).encode()))


def write_text(path, text: str) -> Path:
    """Write a text file atomically."""
    return _atomic(path, lambda f: f.write(text.encode()))


def write_npz(path, **arrays) -> Path:
    """Write a .npz atomically."""
    return _atomic(path, lambda f: np.savez_compressed(f, **arrays))


def _jsonable(x):
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, (np.generic,)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


class ResultStore:
    """A folder of finished parts, one .npz per part, stamped with the experiment's config hash.

    ``get(name)`` returns a finished part's arrays (or None), so a rerun after an interruption
    recomputes only what is missing; a part written under another config is recomputed.
    """

    def __init__(self, folder, config: dict):
        self.folder = Path(folder) / "parts"
        self.stamp = config_hash(config)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npz"

    def get(self, name: str) -> dict[str, np.ndarray] | None:
        p = self.path(name)
        if not p.exists():
            return None
        with np.load(p) as data:
            if str(data.get("config_hash", "")) != self.stamp:
                return None
            return {k: data[k] for k in data.files if k != "config_hash"}

    def put(self, name: str, **arrays) -> None:
        write_npz(self.path(name), config_hash=np.asarray(self.stamp), **arrays)


def mean_ci(x: np.ndarray, axis: int = 0, z: float = 1.96):
    """Mean and half-width of the normal 95% confidence interval over ``axis``."""
    x = np.asarray(x, np.float64)
    n = x.shape[axis]
    sd = x.std(axis=axis, ddof=1) if n > 1 else np.zeros_like(x.mean(axis=axis))
    return x.mean(axis=axis), z * sd / np.sqrt(n)


def plot_regret(path, checkpoints, series: dict[str, np.ndarray], title: str = "",
                ax=None) -> Path | None:
    """Mean cumulative regret against log t with 95% bands; series: label -> [S, C] curves."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 4))
    t = np.asarray(checkpoints)
    for label, curves in series.items():
        m, h = mean_ci(curves, axis=0)
        line, = ax.plot(t, m, label=label)
        ax.fill_between(t, m - h, m + h, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("round t (log scale)")
    ax.set_ylabel("cumulative regret R(t)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if own:
        fig.tight_layout()
        write_png(path, fig)
        plt.close(fig)
        return Path(path)
    return None


def write_png(path, fig) -> Path:
    """Save a matplotlib figure atomically."""
    return _atomic(Path(path), lambda f: fig.savefig(f, format="png", dpi=120))


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table with right-aligned columns."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])
