"""The standard regret figure's titles say each population's UD verdict, and its robust-UD
verdict where UD holds on every instance (experiment/figures.py)."""
import numpy as np

from jaxpa.experiment.figures import _status


def test_status_words():
    assert _status(np.array([True, True]), "UD") == "UD holds"
    assert _status(np.array([False, False]), "robust UD") == "robust UD fails"
    assert _status(np.array([True, False, True]), "UD") == "UD holds on 2/3"
