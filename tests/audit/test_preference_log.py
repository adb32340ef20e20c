"""Reading a preference log (jaxpa.audit.reading): every bad input is rejected before any
fit with a message naming the file line and the column; good logs become the panel the fits use
(pairwise and multi-alternative, ragged sets, reference and context columns, thin users)."""
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jaxpa.audit.reading import LogColumns, frame_to_log, read_csv, read_preference_log
from jaxpa.audit.synthetic import panel_to_frame
from jaxpa.envs.instance import InstanceError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "prefs_example.csv"

GOOD = """user,choice_set,alternative,chosen,price,time
a,1,x,1,1.0,2.0
a,1,y,0,2.0,1.0
a,2,x,0,1.5,2.5
a,2,y,0,2.5,1.0
a,2,z,1,0.5,3.0
b,1,y,1,3.0,0.5
b,1,z,0,1.0,2.0
"""


def frame(text: str = GOOD) -> pd.DataFrame:
    return read_csv(io.StringIO(text))


def edit(line: int, column: str, value: str, text: str = GOOD) -> str:
    """The CSV with one cell (file line, 1-based; column name) replaced."""
    rows = text.strip().split("\n")
    header = rows[0].split(",")
    cells = rows[line - 1].split(",")
    cells[header.index(column)] = value
    rows[line - 1] = ",".join(cells)
    return "\n".join(rows) + "\n"


def drop_line(line: int, text: str = GOOD) -> str:
    rows = text.strip().split("\n")
    return "\n".join(rows[:line - 1] + rows[line:]) + "\n"


def test_good_log_becomes_a_panel():
    log = frame_to_log(frame(), min_choices=2)
    p = log.panel
    assert p.features.shape == (3, 3, 2) and p.user_labels == ("a", "b")
    assert p.alternative_names == ("x", "y", "z")  # one list of labels: a slot per label
    np.testing.assert_array_equal(np.asarray(p.available),
                                  [[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    np.testing.assert_array_equal(np.asarray(p.choice), [0, 2, 1])
    np.testing.assert_array_equal(np.asarray(p.user), [0, 0, 1])
    np.testing.assert_allclose(np.asarray(p.features[1, 2]), [0.5, 3.0])
    np.testing.assert_array_equal(log.lines, [2, 4, 7])
    assert log.thin_users == ("b",)  # one choice < min_choices = 2: reported, not an error
    # back to the long format and again: the same panel
    again = frame_to_log(panel_to_frame(p), min_choices=2).panel
    for f in ("user", "features", "available", "choice"):
        np.testing.assert_array_equal(np.asarray(getattr(again, f)), np.asarray(getattr(p, f)))


def test_many_labels_use_row_order_and_reference_and_context():
    text = ("u,s,alt,pick,ref,ctx,f\n" + "1,1,r1,0,1,p,0.0\n1,1,r2,1,0,p,1.0\n"
            + "1,2,r3,0,0,q,2.0\n1,2,r4,0,1,q,0.5\n1,2,r5,1,0,q,3.0\n")
    cols = LogColumns(user="u", choice_set="s", alternative="alt", chosen="pick",
                      reference="ref", context="ctx")
    log = frame_to_log(frame(text), cols)
    assert log.panel.alternative_names == ("slot0", "slot1", "slot2")  # 5 labels > 3 slots
    np.testing.assert_array_equal(log.reference, [0, 1])
    np.testing.assert_array_equal(np.asarray(log.panel.choice), [1, 2])
    assert list(log.context) == ["p", "q"] and log.panel.feature_names == ("f",)


def test_reference_and_context_columns_are_found_by_name():
    text = GOOD.replace("time\n", "time,reference,prompt\n")
    rows = text.strip().split("\n")
    refs = ["1,p1", "0,p1", "0,p2", "1,p2", "0,p2", "1,p3", "0,p3"]
    text = "\n".join([rows[0]] + [r + "," + x for r, x in zip(rows[1:], refs)]) + "\n"
    log = frame_to_log(frame(text))
    assert log.panel.feature_names == ("price", "time")
    assert log.columns.reference == "reference" and log.columns.context == "prompt"
    np.testing.assert_array_equal(log.reference, [0, 1, 1])  # slots of x, y, y
    assert list(log.context) == ["p1", "p2", "p3"]
    # --reference none: the column is then a feature like any other
    plain = frame_to_log(frame(text), LogColumns(reference=None, context=None,
                                                 features=("price", "time", "reference")))
    assert plain.reference is None and plain.panel.feature_names[-1] == "reference"


def test_features_default_to_the_other_columns_and_can_be_chosen():
    assert frame_to_log(frame()).panel.feature_names == ("price", "time")
    log = frame_to_log(frame(), LogColumns(features=("time",)))
    assert log.panel.feature_names == ("time",)


BAD = [  # (CSV text, columns, expected pieces of the message: line and column)
    (GOOD.replace("chosen", "picked"), LogColumns(), ["line 1", "'chosen'", "missing"]),
    (GOOD, LogColumns(features=("price", "size")), ["line 1", "'size'"]),
    (edit(4, "price", "cheap"), LogColumns(), ["line 4", "'price'", "not a finite number"]),
    (edit(5, "time", ""), LogColumns(), ["line 5", "'time'", "missing value"]),
    (edit(3, "time", "inf"), LogColumns(), ["line 3", "'time'", "not a finite number"]),
    (edit(6, "user", ""), LogColumns(), ["line 6", "'user'", "missing value"]),
    (edit(2, "chosen", "2"), LogColumns(), ["line 2", "'chosen'", "0 or 1"]),
    (edit(2, "chosen", "0"), LogColumns(), ["line 2", "'chosen'", "0 rows"]),  # none chosen
    (edit(4, "chosen", "1"), LogColumns(), ["line 4", "'chosen'", "2 rows"]),  # two chosen
    (drop_line(8), LogColumns(), ["line 7", "'choice_set'", "at least 2"]),  # set of one
    (edit(3, "alternative", "x"), LogColumns(), ["line 3", "'alternative'", "twice", "line 2"]),
    (GOOD.replace("\n", ",7\n").replace("time,7", "time,size"), LogColumns(), ["'size'", "constant"]),
]


@pytest.mark.parametrize("text, columns, pieces", BAD)
def test_bad_input_names_line_and_column(text, columns, pieces):
    with pytest.raises(InstanceError) as err:
        frame_to_log(frame(text), columns)
    message = str(err.value)
    assert "\n" not in message
    for piece in pieces:
        assert piece in message, (piece, message)


@pytest.mark.parametrize("text, columns, pieces", BAD + [("", LogColumns(), ["line 1", "empty"])])
def test_cli_reports_bad_input_as_one_line(tmp_path, capsys, text, columns, pieces):
    """``jaxpa audit`` on each bad log: status 2, one line on stderr naming the line and column,
    no traceback, nothing written."""
    from jaxpa.cli import main

    path = tmp_path / "log.csv"
    path.write_text(text)
    out = tmp_path / "out"
    flags = ["--features", ",".join(columns.features)] if columns.features else []
    assert main(["audit", str(path), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(piece in err for piece in pieces), (pieces, err)
    assert not out.exists()


def test_reference_and_context_errors_name_line_and_column():
    text = ("user,choice_set,alternative,chosen,ref,ctx,f\n1,1,a,1,1,p,0\n1,1,b,0,1,p,1\n"
            "1,2,a,1,1,p,2\n1,2,b,0,0,q,0\n")
    cols = LogColumns(reference="ref", context="ctx")
    with pytest.raises(InstanceError, match=r"line 2, column 'ref'.*2 rows"):
        frame_to_log(frame(text), cols)
    fixed = text.replace("1,1,b,0,1,p,1", "1,1,b,0,0,p,1")
    with pytest.raises(InstanceError, match=r"line 5, column 'ctx'.*line 4"):
        frame_to_log(frame(fixed), cols)


def test_features_that_cannot_be_estimated_are_rejected():
    # 'age' is a user covariate: the same for every alternative of a set, it cancels out
    text = "user,choice_set,alternative,chosen,price,age\n1,1,a,1,1,30\n1,1,b,0,2,30\n" \
           "2,1,a,0,1,40\n2,1,b,1,3,40\n"
    with pytest.raises(InstanceError, match=r"column 'age'.*cancels out"):
        frame_to_log(frame(text))
    # 'cost' = 2 * price within every set: collinear
    text = "user,choice_set,alternative,chosen,price,cost\n1,1,a,1,1,2\n1,1,b,0,2,4\n" \
           "2,1,a,0,1,2.5\n2,1,b,1,3,6.5\n"
    with pytest.raises(InstanceError, match=r"column '(price|cost)'.*collinear"):
        frame_to_log(frame(text))


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InstanceError, match="line 1: empty file"):
        read_preference_log(empty)
    header = tmp_path / "header.csv"
    header.write_text("user,choice_set,alternative,chosen,price\n")
    with pytest.raises(InstanceError, match="line 2: no data rows"):
        read_preference_log(header)
    with pytest.raises(InstanceError, match="no such file"):
        read_preference_log(tmp_path / "absent.csv")


def test_cli_writes_nothing_on_bad_input(tmp_path, capsys):
    from jaxpa.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text(edit(4, "price", "cheap"))
    out = tmp_path / "out"
    assert main(["audit", str(bad), "--out", str(out)]) == 2
    assert "line 4, column 'price'" in capsys.readouterr().err
    assert not out.exists()
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    assert main(["audit", str(good), "--out", str(out), "--n-test", "3"]) == 2  # nobody to test
    assert "n_test" in capsys.readouterr().err and not out.exists()


# ----- ids as written, blank trailing lines, duplicated headers, extreme scales, Parquet ---------
@pytest.mark.parametrize("a,b", [("01", "1"), ("1", "1.0")])
def test_ids_are_the_strings_written(a, b):
    """Two users whose ids differ as written ("01" and "1"; "1" and "1.0") stay two users, and
    set ids that collide as numbers stay distinct sets."""
    text = GOOD.replace("\na,", f"\n{a},").replace("\nb,", f"\n{b},")
    log = frame_to_log(frame(text), min_choices=1)
    assert log.panel.n_users == 2 and set(log.panel.user_labels) == {a, b}
    sets = GOOD.replace("a,2,", "a,2.0,")  # sets "1" and "2.0" of user a: two sets
    assert frame_to_log(frame(sets), min_choices=1).panel.n_choices == 3


def test_integer_ids_sort_numerically():
    text = GOOD.replace("\na,", "\n10,").replace("\nb,", "\n9,")
    assert frame_to_log(frame(text), min_choices=1).panel.user_labels == ("9", "10")


def test_trailing_blank_lines_are_accepted_inner_ones_are_not():
    log = frame_to_log(frame(GOOD + "\n\n"), min_choices=1)
    assert log.n_rows == 7
    rows = GOOD.split("\n")
    inner = "\n".join(rows[:3] + [""] + rows[3:])
    with pytest.raises(InstanceError, match="line 4, column 'user': missing value"):
        frame_to_log(frame(inner), min_choices=1)


def test_a_duplicated_header_column_is_refused_by_name():
    text = GOOD.replace("price,time", "price,price")
    with pytest.raises(InstanceError, match="line 1, column 'price': appears twice"):
        frame(text)


@pytest.mark.parametrize("factor", [1e20, 1e-30])
def test_features_float32_cannot_fit_are_standardized(factor):
    """A log whose features are scaled by 1e20 or 1e-30 reads as the same panel up to the
    recorded units, and its population fit, in the data's units, is the unscaled fit / factor."""
    from jaxpa.data.fit import fit_population

    df = read_csv(EXAMPLE)
    scaled = df.copy()
    for c in ("length", "formality", "detail"):
        scaled[c] = (df[c].astype(float) * factor).map(repr)
    plain, big = frame_to_log(df), frame_to_log(scaled)
    assert np.all(plain.feature_units == 1.0) and np.all(big.feature_units != 1.0)
    assert np.all(np.isfinite(np.asarray(big.panel.features)))
    theta = np.asarray(fit_population(plain.panel).theta, np.float64)
    f = fit_population(big.panel)
    np.testing.assert_allclose(np.asarray(f.theta, np.float64) / big.feature_units,
                               theta / factor, rtol=1e-3)
    assert np.all(np.isfinite(np.asarray(f.std_errors())))


def test_parquet_reads_like_the_csv(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "log.parquet"
    frame().to_parquet(path)
    a = read_preference_log(path, min_choices=1).panel
    b = frame_to_log(frame(), min_choices=1).panel
    np.testing.assert_array_equal(np.asarray(a.features), np.asarray(b.features))
    assert a.user_labels == b.user_labels
