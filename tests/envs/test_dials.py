"""Controlled dials (jaxpa/envs/dials.py): the dial moves its constant while N, K, d, Delta_min and
kappa stay exactly fixed (checked with ``diagnose``), under jit and vmap over draws and values."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.envs import dials
from jaxpa.envs.instance import InstanceError, rewards, validate

KAPPA = float(jax.nn.sigmoid(1.0) * jax.nn.sigmoid(-1.0))  # sigma'(margin = 1)
VALUES = {"rotate": [0.1, 0.3, 1.0], "minority": [0.02, 0.1, 0.3], "runner_up": [-1.0, 0.0, 0.5]}


@pytest.fixture(scope="module")
def grids():
    keys = jax.random.split(jax.random.key(3), 2)
    out = {}
    for name, values in VALUES.items():
        batch = jax.jit(lambda k, v, name=name: dials.dial_grid(name, k, v))(keys, jnp.asarray(values))
        out[name] = (batch, jax.vmap(lambda i: diagnose(i, "bt_ref"))(batch))
    return out


@pytest.mark.parametrize("name", sorted(VALUES))
def test_sizes_gap_and_kappa_fixed_exactly(grids, name):
    batch, diag = grids[name]
    validate(batch)
    assert batch.features.shape == (6, 1, 3, 2) and batch.heads.shape == (6, 6, 3)  # N=6, K=3, d=2
    np.testing.assert_array_equal(np.asarray(diag.min_gap), 0.5)
    np.testing.assert_allclose(np.asarray(diag.kappa), KAPPA, rtol=1e-6)
    assert np.all(np.asarray(diag.ud_holds))
    y_star = np.asarray(jnp.argmax(jax.vmap(rewards)(batch), -1))[:, :, 0]
    np.testing.assert_array_equal(y_star, np.tile(np.repeat([1, 2], 3), (6, 1)))


def test_rotate_keeps_every_reward_and_drives_lambda_D_to_zero():
    key = jax.random.key(4)
    s = jnp.array([0.0, 0.01, 0.1, 1.0])
    batch = jax.jit(jax.vmap(lambda v: dials.rotate_head(key, v)))(s)
    r = np.asarray(jax.vmap(rewards)(batch))
    np.testing.assert_array_equal(r, np.broadcast_to(r[0], r.shape))
    m = dials.dial_user()
    np.testing.assert_array_equal(r[0, m], r[0, 0])  # the dialled user has user 0's rewards
    diag = jax.vmap(lambda i: diagnose(i, "bt_ref"))(batch)
    lam = np.asarray(diag.lambda_D)
    # s = 0 duplicates user 0: UD fails, lambda_D is rounding noise below the tolerance; at
    # s = 0.01 lambda_D ~ s^2 is already below diagnose's default tolerance (rtol 1e-5), so the
    # experiment's dials start at s = 0.05
    assert not bool(diag.ud_holds[0]) and lam[0] <= float(diag.tol[0])
    assert np.all(np.asarray(diag.ud_holds[2:])) and np.all(np.diff(lam) > 0)
    np.testing.assert_allclose(lam[2] / lam[1], 100.0, rtol=0.05)  # lambda_D ∝ s^2 for small s


def test_minority_moves_only_nu(grids):
    batch, _ = grids["minority"]
    m = dials.dial_user()
    nu = np.asarray(batch.user_probs).reshape(2, 3, 6)
    np.testing.assert_allclose(nu[..., m], np.tile(VALUES["minority"], (2, 1)), rtol=1e-6)
    np.testing.assert_allclose(nu.sum(-1), 1.0, rtol=1e-6)
    h = np.asarray(batch.heads).reshape(2, 3, 6, 3)
    np.testing.assert_array_equal(h, np.broadcast_to(h[:, :1], h.shape))


def test_runner_up_moves_one_reward(grids):
    batch, _ = grids["runner_up"]
    r = np.asarray(jax.vmap(rewards)(batch)).reshape(2, 3, 6, 1, 3)[..., 0, :]
    m = dials.dial_user()
    np.testing.assert_allclose(r[:, :, m, 2], np.tile(VALUES["runner_up"], (2, 1)), rtol=1e-6)
    others = np.delete(r, m, axis=2)
    np.testing.assert_array_equal(others, np.broadcast_to(others[:, :1], others.shape))


def test_dial_values_are_vmapped_like_single_calls(grids):
    batch, _ = grids["rotate"]  # draw-major: entry 1 * 3 + 2 is keys[1] at VALUES[2]
    keys = jax.random.split(jax.random.key(3), 2)
    one = jax.jit(dials.rotate_head)(keys[1], VALUES["rotate"][2])
    np.testing.assert_allclose(np.asarray(batch.heads[5]), np.asarray(one.heads), rtol=1e-6)


def test_bad_sizes_are_rejected():
    with pytest.raises(InstanceError, match="k >= K"):
        dials.rotate_head(jax.random.key(0), 0.1, k=2)
    with pytest.raises(InstanceError, match="gap <= margin"):
        dials.minority(jax.random.key(0), 0.1, gap=2.0)


def test_each_dial_moves_a_constant_while_the_gaps_stay(grids):
    """Along each line (one draw, the dial moved) lambda_D moves: minority's with the minority's
    mass while that user is the bottleneck (draw 0; on draw 1 another group binds, so lambda_D
    hardly moves: such lines are excluded where the experiment judges lambda_D), runner_up's as
    user m's runner-up rises towards y* (and above the reference at b > 0: a second lockable
    response)."""
    lam = {name: np.asarray(grids[name][1].lambda_D).reshape(2, 3) for name in VALUES}
    assert lam["minority"][0, 1] > 3 * lam["minority"][0, 0]
    assert lam["runner_up"][0, 0] > 3 * lam["runner_up"][0, 2]
    assert np.all(np.diff(lam["rotate"], axis=1) > 0)
    r = np.asarray(jax.vmap(rewards)(grids["runner_up"][0])).reshape(2, 3, 6, 3)
    m = dials.dial_user()
    np.testing.assert_array_equal(r[:, :, m, 2] > r[:, :, m, 0], np.tile([False, False, True], (2, 1)))
