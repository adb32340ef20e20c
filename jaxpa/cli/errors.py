"""Errors as one line for the command line: an input error's own message, or for anything else
its type, message and the file and line of the code that raised it (an experiment file, a
population builder), so no traceback reaches the user unless asked (``jaxpa --debug``)."""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def error_line(err: BaseException, hint: bool = True) -> str:
    """One line for an error. jaxpa's own input errors (InstanceError, ResultsError, bad files)
    are their message; anything else, or an input-error type raised by code outside jaxpa, is
    ``FILE, line N: Type: message`` with the innermost frame outside jaxpa and the libraries (an
    experiment file, a population builder), else the innermost frame."""
    if isinstance(err, (ValueError, KeyError, OSError)) and not _foreign(err):
        return str(err.args[0]) if isinstance(err, (ValueError, KeyError)) and err.args \
            else str(err)
    where = _raising_frame(err)
    text = f"{type(err).__name__}: {err}".splitlines()[0]
    return (f"{where}: " if where else "") + text + \
        (" (jaxpa --debug ... shows the traceback)" if hint else "")


def _user_frame(frames) -> traceback.FrameSummary | None:
    outside = [f for f in frames if PACKAGE not in Path(f.filename).resolve().parents
               and "site-packages" not in f.filename and "<frozen" not in f.filename
               and not f.filename.startswith(sys.prefix) and not f.filename.startswith(
                   sys.base_prefix)]
    return outside[-1] if outside else None


def _foreign(err: BaseException) -> bool:
    """Whether an error of an input-error type was raised by code outside jaxpa (an experiment
    file's own ValueError): then it gets its file and line too."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and _user_frame(frames[-1:]) is not None


def _raising_frame(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    frame = _user_frame(frames) or (frames[-1] if frames else None)
    if frame is None:
        return ""
    path = Path(frame.filename)
    try:
        path = path.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    return f"{path}, line {frame.lineno}"
