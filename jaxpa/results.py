"""The result store every experiment writes through: resumable parts and final outputs that cannot
mix.

Parts. A part is one finished computation (a learner's curves on a population, an offline
SubOpt curve set, a fit). Its file name carries a hash of its *full* config (every option,
the resolved hyperparameters with their defaults, the instance's fingerprint, the seed) and of
the code (``code_identity``: the package version and a hash of jaxpa's sources), so a part
computed under another config or another version of the code is never loaded: it is recomputed.
A part file that cannot be read (truncated by a kill, not an archive) is reported and recomputed.
Parts are written to a temporary file and renamed into place; stale temporary files are removed
when a store opens.

Final outputs. An experiment writes its outputs (CSV, JSON, NPZ, PNG, Markdown) as one unit:
``begin_outputs`` first moves the folder's ``manifest.json`` aside; each file is written
atomically (readable as any file the user writes, not 0600) and stamped with the config hash (a
column, a key, an array, PNG metadata, a comment); the manifest, written last, lists every file
with its SHA-256, and the files an earlier unit listed that this one did not write are removed
then, so a folder never shows an earlier run's figures as this run's. ``load`` refuses a folder
without a manifest (an interrupted write), a manifest of the wrong shape or listing no file, a
file whose hash differs from the manifest's (a mix of runs) and a file whose config stamp is not
the manifest's (a foreign file re-hashed into it).

One run at a time. A writing ``Store`` holds an exclusive lock on ``<folder>/.jaxpa.lock`` from
its creation until its outputs are finished (or the process ends): a second process writing
into the same folder stops at once with a ``ResultsError`` instead of racing the first.
"""
from __future__ import annotations

import csv
import fcntl
import functools
import hashlib
import io
import json
import os
import re
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import jax

MANIFEST = "manifest.json"
PREVIOUS = ".manifest.previous.json"  # the last complete unit's manifest, while a new one is written
LOCK = ".jaxpa.lock"
SECONDS = "compute_seconds"  # a part's reserved array: the seconds it took to compute
_LOCKS: dict[str, Any] = {}  # folder -> open lock file held by this process


class ResultsError(ValueError):
    """An output folder that is incomplete, mixed, or not a jaxpa result."""


@functools.lru_cache(maxsize=1)
def code_identity() -> str:
    """The package version and a hash of every jaxpa source file: 'jaxpa-<version>-<hash12>'."""
    import jaxpa

    root = Path(jaxpa.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return f"jaxpa-{jaxpa.__version__}-{h.hexdigest()[:12]}"


def config_hash(config: dict) -> str:
    """16 hex digits of SHA-256 over the config (JSON, sorted keys) and the code identity."""
    text = json.dumps(config, sort_keys=True, default=_jsonable) + code_identity()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(tree) -> str:
    """A short hash of a pytree's array bytes (an instance, say)."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.asarray(leaf)
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def safe_label(label: str) -> str:
    """A label as a file-name component: characters outside [A-Za-z0-9._+=-] become '_'
    (``eps_t=c/t`` -> ``eps_t=c_t``: never a sub-folder)."""
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", str(label)) or "_"


def _jsonable(x):
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return repr(x)


def finite_json(obj):
    """A copy with non-finite floats as None (strict JSON) and arrays as lists."""
    if isinstance(obj, dict):
        return {str(k): finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, (np.ndarray, jax.Array)):
        return finite_json(np.asarray(obj).tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def atomic_write(path: Path, data: bytes) -> Path:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ResultsError(f"cannot write under {path.parent}: a file is in the way") from None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock(folder: Path) -> None:
    """Hold ``folder``'s run lock for this process (module docstring); a second process fails."""
    key = str(folder.resolve())
    if key in _LOCKS:
        return
    folder.mkdir(parents=True, exist_ok=True)
    f = open(folder / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        who = f.read().strip() or "another process"
        f.close()
        raise ResultsError(f"{folder}: another jaxpa run ({who}) is writing into this folder; "
                           "wait for it to finish or choose another --out") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}")
    f.flush()
    _LOCKS[key] = f


def _unlock(folder: Path) -> None:
    f = _LOCKS.pop(str(folder.resolve()), None)
    if f is not None:
        f.close()


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def check_writable(folder) -> Path:
    """Fail early (before any computation) when ``folder`` cannot hold outputs."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"--out {folder}: exists and is not a folder")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ResultsError(f"--out {folder}: {probe} is not a writable folder")
    return folder


def pack(tree) -> dict[str, np.ndarray]:
    """A nested dict / list of arrays and plain values as flat arrays for a part file (the
    ``compute`` of ``Store.compute`` returns flat arrays): arrays under their own keys, everything
    else as one JSON document (non-finite floats kept)."""
    arrays: dict[str, np.ndarray] = {}

    def walk(x):
        if isinstance(x, dict):
            return {str(k): walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, (np.ndarray, jax.Array)):
            key = f"a{len(arrays)}"
            arrays[key] = np.asarray(x)
            return {"__array__": key}
        if isinstance(x, np.generic):
            return x.item()
        return x

    doc = walk(tree)
    return dict(arrays, __json__=np.asarray(json.dumps(doc)))


def unpack(arrays: dict) -> dict:
    """The inverse of ``pack``."""
    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"__array__"}:
                return np.asarray(arrays[x["__array__"]])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(json.loads(str(arrays["__json__"])))


class Store:
    """Parts and final outputs of one experiment folder (module docstring).

    writer: whether this process writes (in a multi-process run only process 0 does; the others
    compute their shards and read nothing). log: where messages go.
    """

    def __init__(self, folder, *, writer: bool = True, log: Callable[[str], None] = print):
        self.folder = check_writable(folder)
        self.parts = self.folder / "parts"
        self.writer, self.log = writer, log
        self._outputs: dict[str, str] = {}
        self._previous: set[str] = set()
        self.seconds: dict[str, float] = {}  # part name -> seconds it took to compute
        self.loaded: set[str] = set()  # parts read from an earlier run
        if writer:
            _lock(self.folder)
            for d in (self.folder, self.parts):
                for tmp in d.glob(".*.tmp") if d.is_dir() else ():
                    tmp.unlink(missing_ok=True)

    # ----- parts ------------------------------------------------------------------------------
    def part_path(self, name: str, config: dict) -> Path:
        return self.parts / f"{safe_label(name)}__{config_hash(config)}.npz"

    def has(self, name: str, config: dict) -> bool:
        return self.part_path(name, config).is_file()

    def get(self, name: str, config: dict) -> dict[str, np.ndarray] | None:
        """A finished part's arrays, or None (missing, corrupt or foreign: recomputed)."""
        path = self.part_path(name, config)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            if str(arrays.pop("config_hash", "")) != config_hash(config):
                raise ValueError("config stamp differs")
            self.seconds[name] = float(arrays.pop(SECONDS, np.nan))
            self.loaded.add(name)
            return arrays
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as err:
            self.log(f"  part {path.name} is unreadable or foreign ({err}); recomputing it")
            if self.writer:
                path.unlink(missing_ok=True)
            return None

    def put(self, name: str, config: dict, arrays: dict, seconds: float = float("nan")) -> None:
        """Store a finished part with the seconds it took (so a resumed run still reports the
        time its results cost, not only its own)."""
        self.seconds[name] = float(seconds)
        if self.writer:
            atomic_write(self.part_path(name, config), _npz_bytes(dict(
                arrays, config_hash=np.asarray(config_hash(config)),
                **{SECONDS: np.asarray(seconds, np.float64)})))

    def compute_seconds(self) -> float:
        """Seconds the parts this store handed out took to compute, now or in earlier runs."""
        return float(np.nansum(list(self.seconds.values()))) if self.seconds else 0.0

    def compute(self, name: str, config: dict, fn: Callable[[], dict]) -> tuple[dict, bool]:
        """(the part's arrays, whether they were computed now): loaded when finished."""
        done = self.get(name, config)
        if done is not None:
            return done, False
        t0 = time.perf_counter()
        arrays = {k: np.asarray(v) for k, v in fn().items()}
        self.put(name, config, arrays, seconds=time.perf_counter() - t0)
        return arrays, True

    # ----- final outputs ------------------------------------------------------------------------
    def begin_outputs(self, may_write: tuple[str, ...] = ()) -> None:
        """Start a new unit of final outputs: the old manifest is moved aside first (kept as
        ``PREVIOUS`` until the new unit is finished, so an interrupted unit still knows which
        files the last complete one wrote). ``may_write``: every output name this kind of run can
        write; those present and not written by this unit are removed at its end too (an earlier
        run's figure whose manifest was lost)."""
        self._outputs = {}
        if not self.writer:
            return
        manifest, previous = self.folder / MANIFEST, self.folder / PREVIOUS
        if manifest.is_file():
            os.replace(manifest, previous)
        self._previous = set(_listed_files(previous)) | {
            n for n in may_write if (self.folder / n).is_file()}

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        if self.writer:
            atomic_write(path, data)
            self._outputs[name] = hashlib.sha256(data).hexdigest()
        return path

    def write_json(self, name: str, obj: dict, stamp: str) -> Path:
        body = finite_json(dict(obj, config_hash=stamp))
        return self._write(name, json.dumps(body, indent=1, default=_jsonable).encode())

    def write_npz(self, name: str, arrays: dict, stamp: str) -> Path:
        return self._write(name, _npz_bytes(dict(arrays, config_hash=np.asarray(stamp))))

    def write_csv(self, name: str, rows: list[dict], stamp: str) -> Path:
        columns = list(dict.fromkeys(k for row in rows for k in row)) + ["config_hash"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns[:-1]} | {"config_hash": stamp})
        return self._write(name, buf.getvalue().encode())

    def write_text(self, name: str, text: str, stamp: str) -> Path:
        return self._write(name, f"<!-- jaxpa config {stamp} -->\n{text}".encode())

    def write_png(self, name: str, fig, stamp: str) -> Path:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, metadata={"Description": f"jaxpa config {stamp}"})
        return self._write(name, buf.getvalue())

    def finish_outputs(self, stamp: str, metadata: dict | None = None) -> Path:
        """Write the manifest last: the unit of outputs is complete. Files the previous unit
        listed and this one did not write are removed; the folder's lock is released."""
        path = self._write(MANIFEST, json.dumps(
            {"config_hash": stamp, "code": code_identity(), "files": self._outputs,
             "metadata": finite_json(metadata or {})}, indent=1).encode())
        if self.writer:
            for name in self._previous - set(self._outputs) - {MANIFEST}:
                stale = self.folder / name
                if stale.resolve().parent == self.folder.resolve() and stale.is_file():
                    stale.unlink()
                    self.log(f"  removed {name}: an earlier run's output that this run does "
                             "not write")
            (self.folder / PREVIOUS).unlink(missing_ok=True)
            _unlock(self.folder)
        return path


def _listed_files(manifest: Path) -> list[str]:
    """The file names a manifest lists ([] when it is missing or not a manifest)."""
    try:
        files = json.loads(manifest.read_text()).get("files", {})
        return [str(n) for n in files] if isinstance(files, dict) else []
    except (OSError, ValueError, AttributeError):
        return []


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else repr(float(value))
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def load(folder) -> dict[str, Any]:
    """An experiment's final outputs, checked against the manifest: {"manifest", "summary" (the
    JSON), "rows" (the CSV as a list of dicts), "curves" (NPZ arrays), "table" (a pandas
    DataFrame of the CSV when pandas is installed, else None)}."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ResultsError(f"{folder}: no {MANIFEST}: the outputs are incomplete (the run was "
                           "interrupted while writing them) or not a jaxpa result; rerun it")
    manifest = _read_manifest(folder, path)
    stamp = manifest["config_hash"]
    for name, digest in manifest["files"].items():
        f = folder / name
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            raise ResultsError(f"{folder}: {name} does not match the manifest (missing or from "
                               "another run); rerun the experiment")
        found = file_stamp(f)
        if found != stamp:
            raise ResultsError(f"{folder}: {name} carries config stamp {found!r}, the manifest "
                               f"{stamp!r}: a file of another run; rerun the experiment")
    out: dict[str, Any] = {"manifest": manifest, "summary": None, "rows": [], "curves": {},
                           "table": None}
    if "summary.json" in manifest["files"]:
        out["summary"] = _read_json(folder / "summary.json")
    if "summary.csv" in manifest["files"]:
        with open(folder / "summary.csv", newline="") as f:
            out["rows"] = list(csv.DictReader(f))
        try:
            import pandas
            out["table"] = pandas.read_csv(folder / "summary.csv")
        except ImportError:
            pass
    if "curves.npz" in manifest["files"]:
        with np.load(folder / "curves.npz", allow_pickle=False) as data:
            out["curves"] = {k: data[k] for k in data.files}
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: not JSON ({err}); rerun the experiment") from None


def _read_manifest(folder: Path, path: Path) -> dict:
    """The manifest, checked for shape: {"config_hash": str, "files": {name: sha256}, ...} with
    at least one plain file name."""
    manifest = _read_json(path)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not isinstance(manifest.get("config_hash"), str):
        raise ResultsError(f"{path}: not a jaxpa manifest (expected an object with "
                           "'config_hash' and 'files'); rerun the experiment")
    if not files:
        raise ResultsError(f"{path}: lists no file: an empty result; rerun the experiment")
    for name, digest in files.items():
        if (not isinstance(digest, str) or Path(name).name != name or name in (".", "..")
                or name == MANIFEST):
            raise ResultsError(f"{path}: entry {name!r} is not a file of this folder with its "
                               "SHA-256; rerun the experiment")
    return manifest


_STAMP_COMMENT = re.compile(rb"<!-- jaxpa config ([0-9a-f]+) -->")


def file_stamp(path: Path) -> str | None:
    """The config stamp a written output carries (``Store.write_*``), or None when it has none:
    JSON key, CSV column (one value), NPZ array, Markdown comment, PNG metadata."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            body = _read_json(path)
            return body.get("config_hash") if isinstance(body, dict) else None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return str(data["config_hash"]) if "config_hash" in data.files else None
        if suffix == ".csv":
            with open(path, newline="") as f:
                values = {row.get("config_hash") for row in csv.DictReader(f)}
            return values.pop() if len(values) == 1 else None
        if suffix == ".png":
            from PIL import Image  # matplotlib's own dependency
            with Image.open(path) as im:
                text = im.info.get("Description", "")
            return text.removeprefix("jaxpa config ") if text.startswith("jaxpa config ") else None
        match = _STAMP_COMMENT.match(path.read_bytes()[:64])
        return match.group(1).decode() if match else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ResultsError(f"{path}: unreadable ({err}); rerun the experiment") from None
