"""The unknown-heads learner stays numerically healthy (``Curves.nonfinite_at`` 0): its state
used to turn NaN while the regret curve stayed finite (NaN scores play response 0 forever). End to
end on F6, many users, longer features, and (slow tier) extreme instances and late F2; and the
parts that keep it finite: bounded data (``datum_terms``), PSD curvature statistics
(``observe``), shifted Cholesky solves (``spd_solve``)."""
import chex
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_family, make_feedback, make_learner, simulate
from jaxpa.learners import unknown_heads as uh

FB = make_feedback("bt_ref")


@pytest.fixture(scope="module")
def learner():
    """warm_start(unknown_heads) from the registry, shared so the compiled runs are shared."""
    return make_learner("unknown_heads", FB)


# Each end-to-end case is one where unbounded Newton data, an indefinite A_u or an unshifted
# solve turn some seeds' state non-finite within the horizon; ``Curves.nonfinite_at`` must stay 0.

def _f1(key=0, **kw):
    return make_family("f1", jax.random.key(key), **kw)


def _assert_healthy(curves):
    assert np.all(np.asarray(curves.nonfinite_at) == 0), np.asarray(curves.nonfinite_at)
    assert np.all(np.isfinite(curves.regret)) and np.all(np.diff(curves.regret, axis=-1) >= 0)


def test_finite_on_f6(learner):
    """The issue's reproduction: default F6 (64 users) with bt_ref, 8 seeds, 2,000 rounds."""
    curves = simulate(jax.random.key(0), make_family("f6", jax.random.key(0)), FB, learner,
                      horizon=2000, n_seeds=8)
    _assert_healthy(curves)


def test_finite_with_64_users(learner):
    """F1-like with 64 users (gap >= 1e-3); the same shapes as F6, so the same compiled run."""
    _assert_healthy(simulate(jax.random.key(0), _f1(n_users=64, min_gap=1e-3), FB, learner,
                             horizon=500, n_seeds=8))


def test_finite_with_feature_norms_x3(learner):
    """F1 (draw 2) with every feature vector 3 times longer."""
    inst = _f1(2)
    _assert_healthy(simulate(jax.random.key(0), inst.replace(features=3.0 * inst.features), FB,
                             learner, horizon=300, n_seeds=8))


def test_curvature_statistics_stay_psd():
    """F2's late failure: greedy replays one response, A_u grows along one direction, and float32
    rounding of ~10^5 additions left A_u indefinite by more than its true small eigenvalues, so
    the sweep diverged. Two uniform rounds, then 10,000 rounds of the optimal response folded by
    ``observe``, must leave A_u positive semidefinite up to rounding, and sweeps on it finite."""
    inst = make_family("f2", jax.random.key(0), n_users=1)
    core = uh.unknown_heads(FB)
    theta = inst.W.T @ inst.heads[0]
    feats, ref = inst.features[0], inst.reference[0]
    best = jnp.argmax(feats @ theta).astype(jnp.int32)

    def step(state, key):
        k_y, k_o = jax.random.split(key)
        y = jnp.where(state.counts[0] < 2, jax.random.randint(k_y, (), 0, feats.shape[0]), best)
        o = (jax.random.uniform(k_o) < jax.nn.sigmoid((feats[y] - feats[ref]) @ theta))
        state = uh.observe(FB, state, jnp.int32(0), theta, feats, y[None].astype(jnp.int32), ref,
                           o.astype(jnp.float32))
        return state.replace(counts=state.counts.at[0].add(1.0)), None

    state = core.init(jax.random.key(0), inst, core.default_hparams())
    keys = jax.random.split(jax.random.key(1), 10_000)
    state = jax.jit(lambda s: jax.lax.scan(step, s, keys)[0])(state)
    eig = np.linalg.eigvalsh(np.asarray(state.A[0], np.float64))
    assert eig[-1] > 50 and eig[0] >= -1e-6 * eig[-1], eig

    def sweep(_, s):
        s = s.replace(heads=uh.solve_heads(s, jnp.float32(1.0)))
        return s.replace(W=uh.solve_W(s, jnp.float32(1.0)))

    chex.assert_tree_all_finite(jax.jit(lambda s: jax.lax.fori_loop(0, 20, sweep, s))(state))


@pytest.mark.parametrize("name", ["bt_ref", "bt_duel"])
def test_bt_datum_never_promises_more_than_its_log_loss(name):
    """A BT datum's quadratic in its margin, peaking a / h' from the margin m0 it was expanded at,
    gains a^2 / (2 h') <= -log p(obs) (at the clipped margin) there; it keeps the Newton curvature
    where that holds already (|m0| small, or an expected answer), and after a surprise at a
    confident margin (|m0| in [2, 30]) its peak is on the observed side, about -m0."""
    fb = make_feedback(name)
    z = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    action = jnp.array([1, 0] if name == "bt_duel" else [1], jnp.int32)
    g = np.asarray(z[1] - z[0])
    m0 = np.array([-80, -30, -16, -5, -2, -0.5, 0, 0.5, 2, 5, 16, 30, 80], np.float32)
    m0, o = np.repeat(m0, 2), np.tile(np.array([0.0, 1.0], np.float32), len(m0))
    theta = jnp.stack([jnp.asarray(m0), jnp.zeros_like(m0)], axis=-1)
    terms = jax.jit(jax.vmap(lambda th, ob: (uh.datum_terms(fb, th, z, action, jnp.int32(0), ob),
                                             fb.rank_one(th, z, action, jnp.int32(0), ob))))
    (info, lin), (_, a, h) = jax.tree.map(np.asarray, terms(theta, jnp.asarray(o)))
    h2 = info[:, 0, 0]
    np.testing.assert_allclose(info, h2[:, None, None] * np.outer(g, g), atol=1e-12)
    np.testing.assert_allclose(lin, (a + h2 * m0)[:, None] * g, rtol=1e-5, atol=1e-6)
    mc = np.clip(m0, -30, 30)
    log_loss = np.logaddexp(0.0, np.where(o == 1.0, -mc, mc))  # -log p(obs) at the clipped margin
    assert np.all(a ** 2 <= 2 * h2 * log_loss * (1 + 1e-5))
    surprise = (o == 1.0) == (m0 < 0)
    keep = (np.abs(m0) <= 0.5) | ~surprise
    np.testing.assert_allclose(h2[keep], h[keep], rtol=1e-5)
    flip = surprise & (np.abs(m0) >= 2) & (np.abs(m0) <= 30)
    peak = m0[flip] + a[flip] / h2[flip]
    assert np.all((peak > 0) == (o[flip] == 1.0)) and np.all(np.abs(peak) <= np.abs(m0[flip]) + 2)


def test_scalar_datum_terms_are_exact():
    """Gaussian feedback is exactly quadratic (its headroom gives h' = h): g g^T / s^2, o g / s^2."""
    fb = make_feedback("scalar", noise_std=2.0)
    z = jnp.array([[1.0, 2.0], [3.0, -1.0]])
    info, lin = uh.datum_terms(fb, jnp.array([50.0, -7.0]), z, jnp.array([1], jnp.int32),
                               jnp.int32(0), jnp.float32(400.0))
    np.testing.assert_allclose(info, np.outer(z[1], z[1]) / 4, rtol=1e-6)
    np.testing.assert_allclose(lin, 400.0 * np.asarray(z[1]) / 4, rtol=1e-5)


def test_mnl_datum_gain_is_capped():
    """Without a rank-one likelihood (mnl) a datum's quadratic gains at most GAIN_CAP nats over
    its value at the expansion point, however surprising the answer, and about its Newton gain
    when that is small."""
    fb = make_feedback("mnl")
    z = jax.random.normal(jax.random.key(0), (5, 3))
    action = fb.uniform_action(jax.random.key(1), 5)
    for scale in (0.01, 1.0, 100.0):
        theta = scale * jnp.array([1.0, -2.0, 0.5])
        for obs in range(fb.n_actions):
            info, lin = uh.datum_terms(fb, theta, z, action, jnp.int32(0), jnp.int32(obs))
            grad = np.asarray(lin - info @ theta, np.float64)
            gain = 0.5 * grad @ np.linalg.pinv(np.asarray(info, np.float64)) @ grad
            assert gain <= uh.GAIN_CAP * (1 + 1e-4), (scale, obs, gain)


def test_spd_solve():
    """A Cholesky solve on a well-conditioned SPD batch; with the ridge below float32's resolution
    of P (P = 10^9 u u^T) the part of x across u stays on the scale of the resolved part instead
    of rounding noise / ridge."""
    X = jax.random.normal(jax.random.key(0), (5, 3, 3))
    G = X @ jnp.swapaxes(X, -1, -2) + 0.5 * jnp.eye(3)
    rhs = jax.random.normal(jax.random.key(1), (5, 3))
    solve = jax.jit(uh.spd_solve)
    exact = np.linalg.solve(np.asarray(G, np.float64), np.asarray(rhs, np.float64)[..., None])
    np.testing.assert_allclose(solve(G, rhs, jnp.float32(0.5)), exact[..., 0], rtol=1e-4,
                               atol=1e-5)
    u = jnp.array([0.6, 0.8, 0.0])
    x = solve(1e9 * jnp.outer(u, u) + jnp.eye(3), 1e9 * u * 0.3, jnp.float32(1.0))
    np.testing.assert_allclose(x @ u, 0.3, rtol=1e-3)
    assert np.linalg.norm(x - (x @ u) * u) < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("case", ["users_256", "feature_norms_1e4", "same_rewards_1e4",
                                  "zero_gaps", "d1", "f2_late"])
def test_extreme_instances_stay_finite(learner, case):
    """256 users; feature norms of 10^4 with the rewards scaled alike (every preference
    deterministic) or W / 10^4 (the same rewards, a ridge 10^8 times weaker in effect); every gap
    zero (W = 0); d = 1; and F2 for 2 * 10^5 rounds (the old late failure). Healthy runs, and the
    final A_u positive semidefinite up to rounding where the state is checked."""
    f1 = _f1(3)
    inst, T, S = {
        "users_256": (lambda: _f1(n_users=256, min_gap=1e-3), 2_000, 8),
        "feature_norms_1e4": (lambda: f1.replace(features=1e4 * f1.features), 20_000, 4),
        "same_rewards_1e4": (lambda: f1.replace(features=1e4 * f1.features, W=1e-4 * f1.W),
                             20_000, 4),
        "zero_gaps": (lambda: f1.replace(W=jnp.zeros_like(f1.W)), 20_000, 4),
        "d1": (lambda: _f1(3, d=1), 20_000, 4),
        "f2_late": (lambda: make_family("f2", jax.random.key(0)), 200_000, 16),
    }[case]
    _assert_healthy(simulate(jax.random.key(0), inst(), FB, learner, horizon=T, n_seeds=S,
                             chunk=T // 4))
