"""The result store's guarantees: a loaded folder is one complete run (manifest shape, file hashes
and the config stamps inside the files all agree), a rerun that writes fewer outputs leaves none of
the earlier run's behind, one process writes into a folder at a time, outputs are ordinary files."""
import json
import os
import stat
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxpa.results import MANIFEST, ResultsError, Store, file_stamp, load

A, B = "a" * 16, "b" * 16


def write_unit(folder, stamp=A, names=("summary.json", "summary.csv", "curves.npz", "report.md",
                                       "regret.png"), log=lambda m: None):
    store = Store(folder, log=log)
    store.begin_outputs()
    for name in names:
        if name.endswith(".json"):
            store.write_json(name, {"x": 1.5}, stamp)
        elif name.endswith(".csv"):
            store.write_csv(name, [{"learner": "greedy", "R": 1.0}], stamp)
        elif name.endswith(".npz"):
            store.write_npz(name, {"r": np.arange(3.0)}, stamp)
        elif name.endswith(".md"):
            store.write_text(name, "# report", stamp)
        else:
            fig = plt.figure()
            store.write_png(name, fig, stamp)
            plt.close(fig)
    store.finish_outputs(stamp)
    return store


def test_every_kind_of_output_carries_its_stamp(tmp_path):
    write_unit(tmp_path)
    for name in ("summary.json", "summary.csv", "curves.npz", "report.md", "regret.png"):
        assert file_stamp(tmp_path / name) == A, name
    res = load(tmp_path)
    assert res["summary"]["x"] == 1.5 and res["rows"][0]["learner"] == "greedy"


def rehash(folder, name):
    """Put ``name``'s current bytes into the manifest, as a careless copy would."""
    import hashlib
    m = json.loads((folder / MANIFEST).read_text())
    m["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("name", ["summary.csv", "curves.npz", "report.md", "regret.png",
                                  "summary.json"])
def test_a_foreign_file_rehashed_into_the_manifest_is_refused(tmp_path, name):
    write_unit(tmp_path / "one", stamp=A)
    write_unit(tmp_path / "two", stamp=B)
    (tmp_path / "one" / name).write_bytes((tmp_path / "two" / name).read_bytes())
    rehash(tmp_path / "one", name)
    with pytest.raises(ResultsError, match="another run"):
        load(tmp_path / "one")


@pytest.mark.parametrize("manifest, match", [
    ({"config_hash": A, "files": {}}, "empty result"),
    ([1, 2, 3], "not a jaxpa manifest"),
    ({"config_hash": A, "files": ["summary.json"]}, "not a jaxpa manifest"),
    ({"files": {"summary.json": "00"}}, "not a jaxpa manifest"),
    ({"config_hash": A, "files": {"../x.json": "00"}}, "not a file of this folder"),
    ({"config_hash": A, "files": {"summary.json": 5}}, "not a file of this folder"),
])
def test_a_manifest_of_the_wrong_shape_is_the_stores_error(tmp_path, manifest, match):
    write_unit(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=match):
        load(tmp_path)


def test_json_that_is_not_json_is_the_stores_error(tmp_path):
    write_unit(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ResultsError, match="not JSON"):
        load(tmp_path)
    write_unit(tmp_path)
    (tmp_path / "summary.json").write_text("{half")
    rehash(tmp_path, "summary.json")
    with pytest.raises(ResultsError, match="not JSON"):
        load(tmp_path)


def test_a_rerun_that_writes_less_removes_the_earlier_outputs(tmp_path):
    write_unit(tmp_path)
    said = []
    write_unit(tmp_path, stamp=B, names=("summary.json", "report.md"), log=said.append)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        MANIFEST, "report.md", "summary.json"]
    assert sorted(load(tmp_path)["manifest"]["files"]) == ["report.md", "summary.json"]
    assert sum("removed" in s for s in said) == 3


def test_an_interrupted_rerun_still_knows_the_earlier_outputs(tmp_path):
    write_unit(tmp_path)
    store = Store(tmp_path)
    store.begin_outputs()                 # killed before finishing: no manifest, PNG left over
    store.write_json("summary.json", {"x": 2}, B)
    del store
    write_unit(tmp_path, stamp=B, names=("summary.json",))
    assert not (tmp_path / "regret.png").exists() and not (tmp_path / "curves.npz").exists()


def test_outputs_are_ordinary_files(tmp_path):
    old = os.umask(0o022)
    try:
        write_unit(tmp_path)
    finally:
        os.umask(old)
    for name in ("summary.json", "regret.png", MANIFEST):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_a_second_process_cannot_write_into_a_folder_in_use(tmp_path):
    store = Store(tmp_path)               # this process holds the folder ...
    code = ("import sys; from jaxpa.results import Store, ResultsError\n"
            "try:\n    Store(sys.argv[1])\nexcept ResultsError as e:\n    print(e); sys.exit(3)\n")
    busy = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert busy.returncode == 3 and "another jaxpa run" in busy.stdout
    assert f"pid {os.getpid()}" in busy.stdout
    store.begin_outputs()
    store.write_json("summary.json", {}, A)
    store.finish_outputs(A)               # ... until its outputs are finished
    free = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert free.returncode == 0, free.stdout + free.stderr
