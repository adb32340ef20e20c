"""The matched families: the UD-holds and UD-fails sides share N, M, K, d, k and the reference by
construction, and their gap, BT-slope and y* = y0 distributions agree (checked here against the
diagnostics of the instances themselves); the diagnostics give every draw its side's UD status."""
import functools

import numpy as np
import jax
from scipy import stats

from jaxpa.diagnostics import diagnose
from tests.helpers import assert_in_matched_windows
from jaxpa.envs.families import FAMILIES
from jaxpa.envs.matched import bt_ref_residual, loo_conditioning

DRAWS = 16


@functools.lru_cache(maxsize=None)
def side(name: str):
    keys = jax.random.split(jax.random.key(3), DRAWS)
    insts = jax.jit(jax.vmap(FAMILIES[name]))(keys)
    return insts, jax.vmap(lambda i: diagnose(i, "bt_ref"))(insts)


def test_diagnostics_give_each_draw_its_sides_ud_status():
    holds, d_holds = side("matched_holds")
    fails, d_fails = side("matched_fails")
    assert np.all(np.asarray(d_holds.ud_holds)) and not np.any(np.asarray(d_fails.ud_holds))
    # heads span R^2 on both sides: UD fails although the heads span (C5's population)
    assert np.all(np.asarray(d_holds.head_rank) == 2) and np.all(np.asarray(d_fails.head_rank) == 2)
    assert np.all(np.asarray(jax.vmap(loo_conditioning)(holds)) >= 0.01)
    assert np.all(np.asarray(jax.vmap(lambda i: bt_ref_residual(i, 1e-7))(fails)) >= 1e-3)


def test_sides_share_sizes_and_reference():
    holds, _ = side("matched_holds")
    fails, _ = side("matched_fails")
    for a, b in zip(jax.tree.leaves(holds), jax.tree.leaves(fails)):
        assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(holds.reference, fails.reference)
    np.testing.assert_array_equal(holds.features[:, :, 0], 0.0)   # y0's features: reward 0
    np.testing.assert_array_equal(fails.features[:, :, 0], 0.0)


def test_gap_kappa_and_reference_share_distributions_agree():
    """Within the windows on both sides; medians within stated tolerances (Delta_min 0.1, kappa
    0.03); two-sample Kolmogorov-Smirnov tests do not separate the sides (p > 0.01); y* is never
    the reference."""
    (holds, d_h), (fails, d_f) = side("matched_holds"), side("matched_fails")
    for d, insts in ((d_h, holds), (d_f, fails)):
        assert_in_matched_windows(d, insts)
    for field, tol in (("min_gap", 0.1), ("kappa", 0.03)):
        a, b = np.asarray(getattr(d_h, field)), np.asarray(getattr(d_f, field))
        assert abs(np.median(a) - np.median(b)) <= tol, (field, np.median(a), np.median(b))
        assert stats.ks_2samp(a, b).pvalue > 0.01, field
