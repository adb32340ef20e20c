"""The robust pair (envs/matched.py ``robust_pair``): UD holds on both sides, robust UD (leave-one-
user-out coverage) holds on one and fails on the other; sizes and the reference agree by
construction, Delta_min and kappa distributions by the windows (checked: 16 draws a side here, 128
in the slow test); the diagnostics give every draw its side's status."""
import functools

import numpy as np
import pytest
import jax
from scipy import stats

from jaxpa.diagnostics import diagnose
from tests.helpers import assert_in_matched_windows
from jaxpa.envs.families import FAMILIES
from jaxpa.envs.matched import loo_conditioning, loo_residual


@functools.lru_cache(maxsize=None)
def side(name: str, draws: int):
    keys = jax.random.split(jax.random.key(3), draws)
    insts = jax.jit(jax.vmap(FAMILIES[name]))(keys)
    return insts, jax.vmap(lambda i: diagnose(i, "bt_ref"))(insts)


def check_pair(draws: int):
    (holds, d_h), (fails, d_f) = side("robust_holds", draws), side("robust_fails", draws)
    assert np.all(np.asarray(d_h.ud_holds)) and np.all(np.asarray(d_f.ud_holds))
    assert np.all(np.asarray(d_h.robust_ud_holds)) and not np.any(np.asarray(d_f.robust_ud_holds))
    assert np.all(np.asarray(jax.vmap(loo_conditioning)(holds)) >= 0.01)
    assert np.all(np.asarray(jax.vmap(loo_residual)(fails)) >= 1e-3)
    for a, b in zip(jax.tree.leaves(holds), jax.tree.leaves(fails)):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert holds.features.shape[1:] == (1, 4, 2) and holds.heads.shape[1:] == (6, 2)
    np.testing.assert_array_equal(holds.features[:, :, 0], 0.0)  # y0's features: reward 0
    np.testing.assert_array_equal(fails.features[:, :, 0], 0.0)
    for d, insts in ((d_h, holds), (d_f, fails)):
        assert_in_matched_windows(d, insts)
    for field, tol in (("min_gap", 0.1), ("kappa", 0.03), ("max_gap", 0.5)):
        a, b = np.asarray(getattr(d_h, field)), np.asarray(getattr(d_f, field))
        assert abs(np.median(a) - np.median(b)) <= tol, (field, np.median(a), np.median(b))
        assert stats.ks_2samp(a, b).pvalue > 0.01, field


def test_robust_pair_16_draws():
    check_pair(16)


@pytest.mark.slow
def test_robust_pair_128_draws():
    check_pair(128)
