"""A team's own preference log, read from a CSV in the long format of choice-modelling tools, and
checked row by row before anything is fitted.

Format: one row per alternative of a choice set. Columns (names set by ``LogColumns``): the user
id, the choice-set id (a set is identified by (user, set id), so set ids may restart for each
user, as Ecdat Train's ``choiceid`` does), the alternative id, ``chosen`` (1 for the alternative
picked, 0 otherwise), numeric feature columns (default: every other column), and optionally a 0/1
``reference`` column (the alternative a non-personalized system would serve, e.g. the base model's
answer; one per set) and a ``context`` / prompt id (constant within a set); by default, columns
named ``reference`` and ``context`` (or ``prompt``) are taken as such when present.

Mapping onto ``PreferencePanel`` (jaxpa/data/panels.py): one panel row per choice set, its J slots holding the
alternatives. When the alternative ids come from one list no longer than the largest set (Train's
ticket 1 / 2, brand names), slot j is always the same alternative, in order of first appearance
in the file; otherwise slots follow the rows' order within the set. Smaller sets leave slots
unavailable. Ids (user, choice set, alternative) are the strings written in the file: "01", "1"
and "1.0" are three users. Users are ordered by id (numerically when every id is written as an
integer, strings otherwise), a user's choices by the first line of their set: the file's order.
A feature whose scale float32 cannot fit (RMS outside ``SAFE_SCALE``) is divided by its RMS
before fitting and the factor recorded (``PreferenceLog.feature_units``): the audit reports
estimates in the data's units.

Every error is an ``InstanceError`` (a ValueError) whose one-line message names the CSV column and
the file line (line 1 is the header; the first data row is line 2). Thin users (fewer than
``min_choices`` choices) are not an error: they are listed in ``PreferenceLog.thin_users`` and the
audit serves them the population fit.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

try:  # the optional ``data`` extra; the CLI imports this module without reading a file
    import pandas as pd
except ImportError:  # pragma: no cover - exercised only without the extra
    pd = None

from jaxpa.data.panels import PreferencePanel, from_arrays, require_extra
from jaxpa.envs.instance import InstanceError

PARQUET = (".parquet", ".pq")
FIRST_LINE = 2  # file line of data row 0 (line 1 is the header)


AUTO = "auto"
AUTO_NAMES = {"reference": ("reference",), "context": ("context", "prompt")}


@dataclasses.dataclass(frozen=True)
class LogColumns:
    """Column names of a long-format log; ``features`` None means every other column. The
    optional ``reference`` and ``context`` columns: a name, None (absent) or "auto" (the column
    named reference, resp. context or prompt, when the header has one)."""

    user: str = "user"
    choice_set: str = "choice_set"
    alternative: str = "alternative"
    chosen: str = "chosen"
    features: tuple[str, ...] | None = None
    reference: str | None = AUTO
    context: str | None = AUTO

    def resolve(self, header) -> "LogColumns":
        """``auto`` columns replaced by the header's matching name or None."""
        found = {}
        for field, names in AUTO_NAMES.items():
            if getattr(self, field) == AUTO:
                found[field] = next((n for n in names if n in header), None)
        return dataclasses.replace(self, **found)

    def named(self) -> list[str]:
        return [c for c in (self.user, self.choice_set, self.alternative, self.chosen,
                            self.reference, self.context) if c is not None]


@dataclasses.dataclass(frozen=True)
class PreferenceLog:
    """A validated log. panel: n choice sets [n, J, d]; reference: [n] slot of each set's reference
    alternative (None without a reference column); context: [n] context ids (or None); lines: [n]
    file line of each set's first row; thin_users: source ids of users with < min_choices choices;
    n_rows: data rows read; feature_units: [d] the factor each feature was divided by before
    fitting (``standardize_extreme``; 1 for features fitted as written); digest: SHA-256 of the file's bytes (of the table's CSV text for a
    table given in memory): what stored results of this log are keyed by."""

    panel: PreferencePanel
    columns: LogColumns
    reference: np.ndarray | None
    context: np.ndarray | None
    lines: np.ndarray
    thin_users: tuple
    min_choices: int
    source: str
    n_rows: int
    digest: str = ""
    feature_units: np.ndarray | None = None

    @property
    def thin_mask(self) -> np.ndarray:
        """[n_users] bool, True for thin users (in the panel's user order)."""
        thin = set(self.thin_users)
        return np.array([u in thin for u in self.panel.user_labels], bool)


def _fail(line, column: str, what: str):
    where = f"line {int(line)}, " if line is not None else ""
    raise InstanceError(f"{where}column {column!r}: {what}")


def _ids(s: "pd.Series") -> np.ndarray:
    """Ids as the strings written in the file ("01", "1" and "1.0" are three ids): [rows] str."""
    return s.astype(str).to_numpy()


def id_order(ids: np.ndarray) -> np.ndarray:
    """Rank of each of the distinct string ids ``ids`` [m] in the users' order: by integer value
    when every id is written as an integer (then by the string: "01" before "1"), otherwise as
    strings. [m] int."""
    ids = np.asarray(ids, str)
    if ids.size and all(i.lstrip("+-").isdigit() for i in ids):
        keys = sorted(range(ids.size), key=lambda k: (int(ids[k]), ids[k]))
    else:
        keys = list(np.argsort(ids, kind="stable"))
    rank = np.empty(ids.size, np.int64)
    rank[np.asarray(keys, np.int64)] = np.arange(ids.size)
    return rank


def _numbers(df: "pd.DataFrame", column: str) -> np.ndarray:
    """The column as float64, failing on the first empty, non-numeric or infinite cell."""
    raw = df[column]
    num = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = raw.iloc[i]
        what = "missing value" if pd.isna(cell) or str(cell).strip() == "" else \
            f"not a finite number ({str(cell)!r})"
        _fail(i + FIRST_LINE, column, what)
    return num


def _pandas():
    if pd is None:
        require_extra("pandas", "reading a preference log")
    return pd


def read_csv(path) -> "pd.DataFrame":
    """The file as strings (no type guessing; blank lines kept so line numbers stay exact, except
    trailing blank lines, which CSV writers add). A header naming a column twice is refused by
    name (pandas would rename the second one ``name.1`` and use it as a feature)."""
    _pandas()
    try:
        table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                            na_values=[""], skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InstanceError(f"{path}: line 1: empty file (no header, no data rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InstanceError(f"{path}: not a readable CSV file: {str(err).splitlines()[0]}") from None
    names = [f"Unnamed: {i}" if pd.isna(c) else str(c)
             for i, c in enumerate(table.iloc[0].tolist())]
    check_header(names)
    df = table.iloc[1:].reset_index(drop=True)
    df.columns = names
    return drop_trailing_blank(df)


def read_parquet(path) -> "pd.DataFrame":
    """A Parquet file as strings, like ``read_csv`` (row k is called line k + 2)."""
    _pandas()
    try:
        df = pd.read_parquet(path)
    except ImportError as err:
        raise InstanceError(f"{path}: reading Parquet needs pyarrow or fastparquet "
                            f"({str(err).splitlines()[0]})") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is one line for the user
        raise InstanceError(f"{path}: not a readable Parquet file: "
                            f"{str(err).splitlines()[0]}") from None
    check_header([str(c) for c in df.columns])
    return df.astype(str).where(df.notna(), None)


def check_header(names: list[str]) -> None:
    """Refuse a header that names a column twice (line 1, the column's name)."""
    seen = set()
    for c in names:
        if c in seen:
            _fail(1, c, "appears twice in the header; rename or drop one of the two columns")
        seen.add(c)


def drop_trailing_blank(df: "pd.DataFrame") -> "pd.DataFrame":
    """The table without its trailing rows whose every cell is empty (a CSV's final blank
    lines); blank rows inside the table stay (and fail with their line)."""
    blank = df.isna().all(axis=1).to_numpy()
    keep = len(blank) - int(np.argmin(blank[::-1])) if not blank.all() else 0
    return df.iloc[:keep]


def read_preference_log(path, columns: LogColumns = LogColumns(), *, min_choices: int = 5,
                        name: str | None = None) -> PreferenceLog:
    """Read and validate a log (module docstring): a CSV file, or a Parquet file (``.parquet``,
    ``.pq``) of the same columns; nothing is fitted or written here."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"{path}: no such file")
    table = read_parquet(path) if path.suffix.lower() in PARQUET else read_csv(path)
    return frame_to_log(table, columns, min_choices=min_choices,
                        name=name or path.stem, source=str(path),
                        digest=hashlib.sha256(path.read_bytes()).hexdigest())


def frame_to_log(df: "pd.DataFrame", columns: LogColumns = LogColumns(), *, min_choices: int = 5,
                 name: str = "log", source: str = "<frame>", digest: str | None = None) -> PreferenceLog:
    """Validate a long-format table (strings or numbers) and build the panel (module docstring).
    digest: the content hash to key results by (default: SHA-256 of the table as CSV text)."""
    _pandas()
    if digest is None:
        digest = hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()
    if isinstance(min_choices, bool) or not isinstance(min_choices, (int, np.integer)) \
            or min_choices < 1:
        raise InstanceError(f"min_choices: expected a positive integer, got {min_choices!r}")
    check_header([str(c) for c in df.columns])
    columns = columns.resolve(list(df.columns))
    if df.shape[0] == 0:
        raise InstanceError(f"{source}: line 2: no data rows after the header (empty log)")
    missing = [c for c in columns.named() + list(columns.features or ()) if c not in df.columns]
    if missing:
        _fail(1, missing[0], f"missing from the header (found {list(df.columns)})")
    features = list(columns.features) if columns.features is not None else \
        [c for c in df.columns if c not in columns.named()]
    if not features:
        _fail(1, "<features>", "no feature columns (every column is an id, chosen, reference or "
                               "context column)")
    for c in columns.named():
        blank = df[c].isna() | (df[c].astype(str).str.strip() == "")
        if blank.any():
            _fail(int(np.flatnonzero(blank.to_numpy())[0]) + FIRST_LINE, c, "missing value")
    flags = {c: _numbers(df, c) for c in (columns.chosen, columns.reference) if c is not None}
    for c, v in flags.items():
        bad = (v != 0) & (v != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            _fail(i + FIRST_LINE, c, f"expected 0 or 1, got {df[c].iloc[i]!r}")
    X = np.stack([_numbers(df, c) for c in features], axis=1)  # [rows, d]
    for j, c in enumerate(features):
        if np.all(X[:, j] == X[0, j]):
            _fail(None, c, f"constant ({X[0, j]:g} on every row): it carries no preference "
                           f"information; drop it with --features")
    return dataclasses.replace(_build(df, columns, features, X, flags, min_choices, name, source),
                               digest=digest)


def _sets(df: "pd.DataFrame", columns: LogColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(set index of each row [rows], first row of each set [n], user id of each set [n]); sets
    numbered in order of first appearance."""
    users = _ids(df[columns.user])
    keys = pd.MultiIndex.from_arrays([users, df[columns.choice_set].astype(str).to_numpy()])
    codes = pd.factorize(keys)[0]  # numbered in order of first appearance
    first = np.unique(codes, return_index=True)[1]
    return codes, first, users[first]


def _check_sets(df, columns, codes, first, flags) -> np.ndarray:
    """Per-set checks; returns the number of alternatives of each set [n]."""
    alt = df[columns.alternative].astype(str).to_numpy()
    dup = pd.DataFrame({"s": codes, "a": alt}).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        earlier = int(np.flatnonzero((codes == codes[i]) & (alt == alt[i]))[0]) + FIRST_LINE
        _fail(i + FIRST_LINE, columns.alternative, f"alternative {alt[i]!r} appears twice in choice "
              f"set {df[columns.choice_set].iloc[i]!r} of user {df[columns.user].iloc[i]!r} "
              f"(first at line {earlier})")
    size = np.bincount(codes)
    name = lambda s: (f"choice set {df[columns.choice_set].iloc[first[s]]!r} of user "
                      f"{df[columns.user].iloc[first[s]]!r}")
    if np.any(size < 2):
        s = int(np.flatnonzero(size < 2)[0])
        _fail(first[s] + FIRST_LINE, columns.choice_set, f"{name(s)} has only {size[s]} "
              f"alternative; a choice needs at least 2")
    for c in [columns.chosen] + ([columns.reference] if columns.reference else []):
        count = np.bincount(codes, weights=flags[c]).astype(np.int64)
        bad = np.flatnonzero(count != 1)
        if bad.size:
            s = int(bad[0])
            _fail(first[s] + FIRST_LINE, c, f"{name(s)} (starting on this line) has {count[s]} "
                  f"rows with {c} = 1; expected exactly one")
    if columns.context is not None:
        ctx = df[columns.context].astype(str).to_numpy()
        differs = ctx != ctx[first[codes]]
        if differs.any():
            i = int(np.flatnonzero(differs)[0])
            _fail(i + FIRST_LINE, columns.context, f"{ctx[i]!r} differs from {ctx[first[codes[i]]]!r}"
                  f" at line {first[codes[i]] + FIRST_LINE}, in the same choice set")
    return size


def _slots(alt: np.ndarray, codes: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Slot of each row in its set and the slot names (module docstring)."""
    labels = pd.unique(alt)
    J = int(size.max())
    if labels.size <= J:
        lookup = {a: j for j, a in enumerate(labels)}
        return np.array([lookup[a] for a in alt], np.int64), tuple(str(a) for a in labels)
    order = pd.Series(np.arange(len(codes))).groupby(codes).cumcount().to_numpy()
    return order, tuple(f"slot{j}" for j in range(J))


def _build(df, columns, features, X, flags, min_choices, name, source) -> PreferenceLog:
    codes, first, set_user = _sets(df, columns)
    size = _check_sets(df, columns, codes, first, flags)
    alt = df[columns.alternative].astype(str).to_numpy()
    slot, slot_names = _slots(alt, codes, size)
    n, J, d = first.size, len(slot_names), X.shape[1]
    feats = np.zeros((n, J, d))
    avail = np.zeros((n, J), bool)
    feats[codes, slot] = X
    avail[codes, slot] = True
    chosen = flags[columns.chosen] == 1
    choice = np.zeros(n, np.int64)
    choice[codes[chosen]] = slot[chosen]
    reference = None
    if columns.reference is not None:
        reference = np.zeros(n, np.int64)
        is_ref = flags[columns.reference] == 1
        reference[codes[is_ref]] = slot[is_ref]
    _check_within_set_variation(feats, avail, features, first)
    # sets ordered by user, then by their first line (file order): the panel's trial order
    labels, inverse = np.unique(set_user, return_inverse=True)
    rank = id_order(labels)[inverse]  # each set's user in the users' order
    order = np.lexsort((first, rank))
    labels = labels[np.argsort(id_order(labels))]
    feats, units = standardize_extreme(feats, avail, features)
    panel = from_arrays(rank[order], feats[order], choice[order], available=avail[order],
                        name=name, feature_names=features, alternative_names=slot_names)
    panel = panel.replace(user_labels=tuple(str(u) for u in labels))
    counts = np.bincount(np.asarray(panel.user), minlength=panel.n_users)
    thin = tuple(u for u, c in zip(panel.user_labels, counts) if c < min_choices)
    ctx = df[columns.context].astype(str).to_numpy()[first][order] if columns.context else None
    return PreferenceLog(panel=panel, columns=columns,
                         reference=None if reference is None else reference[order],
                         context=ctx, lines=first[order] + FIRST_LINE, thin_users=thin,
                         feature_units=units,
                         min_choices=int(min_choices), source=source, n_rows=int(len(df)))


SAFE_SCALE = (1e-4, 1e4)  # feature RMS that float32 fits take as they are


def standardize_extreme(feats: np.ndarray, avail: np.ndarray, names) -> tuple[np.ndarray, np.ndarray]:
    """Features whose RMS (over available alternatives) lies outside SAFE_SCALE are divided by
    it, in float64, before the panel is cast to float32 (squares of 1e20 overflow float32, of
    1e-30 underflow): (features [n, J, d], units [d]: the factor each feature was divided by, 1
    for the others). Estimates in the data's units are the panel's divided by ``units``."""
    sq = (feats**2 * avail[..., None]).sum(axis=(0, 1)) / avail.sum()
    rms = np.sqrt(sq)
    if not np.all(np.isfinite(rms)):
        j = int(np.flatnonzero(~np.isfinite(rms))[0])
        _fail(None, names[j], "values too large to fit even after rescaling (the mean square "
                              "overflows float64); rescale the column")
    extreme = (rms < SAFE_SCALE[0]) | (rms > SAFE_SCALE[1])
    units = np.where(extreme, rms, 1.0)
    return feats / units, units


def _check_within_set_variation(feats, avail, names, first) -> None:
    """A feature that never differs between the alternatives of a set cancels out of every
    conditional-logit choice (a user-level covariate): not estimable, so rejected. Likewise a
    combination of features (collinear columns)."""
    mean = (feats * avail[..., None]).sum(1, keepdims=True) / avail.sum(1)[:, None, None]
    dev = np.where(avail[..., None], feats - mean, 0.0).reshape(-1, feats.shape[-1])
    spread = np.abs(dev).max(axis=0)
    if np.any(spread == 0):
        j = int(np.flatnonzero(spread == 0)[0])
        _fail(None, names[j], "never differs between the alternatives of a choice set, so it "
                              "cancels out of every choice (a user or context covariate?); drop it")
    scale = np.sqrt((dev**2).mean(axis=0))
    s, V = np.linalg.svd(dev / scale, full_matrices=False)[1:]
    if s[-1] < 1e-6 * s[0]:
        v = V[-1]
        combo = " ".join(f"{v[j]:+.2f}*{names[j]}" for j in np.argsort(-np.abs(v)) if abs(v[j]) > 0.05)
        _fail(None, names[int(np.argmax(np.abs(v)))], f"collinear with other features within "
              f"choice sets ({combo} = const); the fit cannot separate them: drop one")
