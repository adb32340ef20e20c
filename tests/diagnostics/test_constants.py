"""Candidate diversity constants (jaxpa/diagnostics/constants.py) on instances small enough to work
out by hand, against diagnose's lambda_D, and under jit/vmap.

The hand instance (dials layout: phi(y0) = 0, phi(1) = e1, phi(2) = e2, W = I, so r_u = (0, h_u)):
group 1 (y* = 1) heads a = (1, .5), b = (1, -.5), c = (1, 0); group 2 (y* = 2) the mirror images
(.5, 1), (-.5, 1), (0, 1); nu = 1/6 each; every margin is 1, so w = kappa = sigma'(1) and, with
q = kappa / 6, Sigma* = diag(B1, B2) with B1 = q [[3, 0], [0, .5]] (on h ⊗ e1) and B2 = q [[.5, 0],
[0, 3]] (on h ⊗ e2). D_u = h_u ⊗ R^2.
- lambda_D = q/2. user_lambda: user c (h = e1): max(e1' B1^-1 e1, e1' B2^-1 e1) = 2/q, so q/2.
- leave user a out: B1' = q [[2, -.5], [-.5, .25]], B1'^-1 = [[1, 2], [2, 8]] / q, a' B1'^-1 a = 5/q;
  a's D_u is spanned by a/|a| ⊗ e1, a/|a| ⊗ e2: max(5 / 1.25, (a' B2^-1 a) / 1.25 = 1.7) / q = 4/q,
  so loo_coverage = loo_optimal = q/4 (users b, c give q/4 and q/2).
- own_identifiability: one rank-one term against a 2-dim D_u: 0.
- hls_time: user a, y = 2 (gap .5): |dz|^2 = a' B1^-1 a + a' B2^-1 a = (5/6 + 25/12) / q, so
  2 (35/12) / (.25 q) = 140 / kappa.
- gaussian_plateau: sum over users and wrong y of (1/6) s / (2 gap) = 109 / (9 kappa).
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa.diagnostics import constants as C
from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.envs.dials import dial_grid, instance_from_heads

sp = lambda m: float(jax.nn.sigmoid(m) * jax.nn.sigmoid(-m))  # sigma'(m)
KAPPA = sp(1.0)
Q = KAPPA / 6
HEADS = [[1, .5], [1, -.5], [1, 0], [.5, 1], [-.5, 1], [0, 1]]


@pytest.fixture(scope="module")
def hand():
    """The hand instance, its candidates, its per-cell constants and its Diagnostics (one
    compiled program)."""
    inst = instance_from_heads(jnp.asarray(HEADS, jnp.float32), 3)
    both = jax.jit(lambda i: (C.candidates(i, 1e-7), C.cell_constants(i, 1e-7),
                              diagnose(i, "bt_ref", rtol=1e-7)))
    c, cells, diag = both(inst)
    return inst, c, cells, diag


def test_information_constants_by_hand(hand):
    _, c, _, _ = hand
    np.testing.assert_allclose(float(c.lambda_D), Q / 2, rtol=1e-4)
    np.testing.assert_allclose(float(c.user_lambda), Q / 2, rtol=1e-4)
    np.testing.assert_allclose(float(c.loo_coverage), Q / 4, rtol=1e-4)
    np.testing.assert_allclose(float(c.loo_optimal), Q / 4, rtol=1e-4)
    assert float(c.own_identifiability) == 0.0
    # the y0 deviation of user a is loo_optimal's; its y = 2 deviation is better covered (below)
    np.testing.assert_allclose(float(c.deviation_coverage), Q / 4, rtol=1e-4)
    np.testing.assert_allclose(float(c.head_sine), 1 / np.sqrt(5), rtol=1e-5)  # b ~ c, ties -> y0


def test_time_constants_by_hand(hand):
    _, c, _, _ = hand
    np.testing.assert_allclose(float(c.hls_time), 140 / KAPPA, rtol=1e-4)
    np.testing.assert_allclose(float(c.gaussian_plateau), 109 / (9 * KAPPA), rtol=1e-4)
    np.testing.assert_allclose(float(c.plateau_scale), 1 / (KAPPA * (Q / 2) * 0.25), rtol=1e-4)
    # the controls without diversity: Delta_min = .5 (user a, y = 2), kappa = sigma'(1)
    np.testing.assert_allclose(float(c.inverse_gap2), 1 / 0.5**2, rtol=1e-5)
    np.testing.assert_allclose(float(c.gap_only), 1 / (KAPPA * 0.5**2), rtol=1e-4)
    assert set(C.CONTROLS) <= set(C.TIMES)
    # unlock: user a locked on y = 2 (r = .5 > r(y0)): Sigma_pi = Sigma*_{-a} + (1/6) sp(.5) g g',
    # g = a ⊗ e2; |t|^2_{Sigma_pi^-1} = a' B1'^-1 a + s2 / (1 + s2 sp(.5) / 6), s2 = a' B2^-1 a
    s2 = (25 / 12) / Q
    quad = 5 / Q + s2 / (1 + s2 * sp(0.5) / 6)
    np.testing.assert_allclose(float(c.unlock_time), quad / 0.5**2, rtol=1e-4)
    # greedy_plateau: each term min(omega s, 1/w* + 1/w_y) / (2 gap); by user (a, b, c), y0 then y2
    w1, w5 = 1 / KAPPA, 1 / sp(0.5)
    terms = [(5 / 6 / Q, w1, 1.0), (35 / 12 / Q, w1 + w5, 0.5),  # a: s(y0), s(y2); r(2) = .5
             (5 / 6 / Q, w1, 1.0), (35 / 12 / Q, w1 + 1 / sp(-0.5), 1.5),  # b: r(2) = -.5
             (1 / 3 / Q, w1, 1.0), (7 / 3 / Q, w1 + 1 / sp(0.0), 1.0)]  # c: r(2) = 0
    expected = 2 * sum(min(s / 6, cap) / (2 * gap) for s, cap, gap in terms)  # x2: mirror group
    np.testing.assert_allclose(float(c.greedy_plateau), expected, rtol=1e-4)


def _unlock_by_brute_force(inst, rtol):
    """unlock_time [N, M, K] in float64 NumPy, straight from the definition: for each informative
    cell c and lockable y', |t|^2 of (Sigma* - omega_c f f^T + omega_c w' g' g'^T + eps I)^-1 over
    Delta(y')^2 (0 where not lockable)."""
    from jaxpa.envs.instance import rewards
    from jaxpa.learners.design import design
    z = np.asarray(design(inst), np.float64)
    r = np.asarray(rewards(inst), np.float64)
    nu = np.asarray(inst.user_probs, np.float64)[:, None] * np.asarray(inst.prompt_probs, np.float64)
    ref = np.asarray(inst.reference)
    N, M, K, p = z.shape
    sp64 = lambda m: 1 / (1 + np.exp(-m)) / (1 + np.exp(m))
    ys = r.argmax(-1)
    f = np.zeros((N, M, p))
    for n in range(N):
        for m in range(M):
            f[n, m] = np.sqrt(sp64(r[n, m, ys[n, m]] - r[n, m, ref[m]])) * (z[n, m, ys[n, m]] - z[n, m, ref[m]])
    sigma = np.einsum("nm,nmp,nmq->pq", nu, f, f)
    eps = rtol * np.linalg.eigvalsh(sigma)[-1]
    out = np.zeros((N, M, K))
    for n in range(N):
        for m in range(M):
            S = sigma - nu[n, m] * np.outer(f[n, m], f[n, m]) + eps * np.eye(p)
            for y in range(K):
                y0, ystar = ref[m], ys[n, m]
                if y == ystar or not (y == y0 or r[n, m, y] > r[n, m, y0]):
                    continue
                g = z[n, m, y] - z[n, m, y0]
                t = z[n, m, ystar] - z[n, m, y]
                q = t @ np.linalg.solve(S + nu[n, m] * sp64(r[n, m, y] - r[n, m, y0]) * np.outer(g, g), t)
                out[n, m, y] = q / (r[n, m, ystar] - r[n, m, y]) ** 2
    return out


def test_unlock_time_of_every_cell_against_float64_brute_force(hand):
    inst, c, (_, _, unlock), diag = hand
    expected = _unlock_by_brute_force(inst, 1e-7)
    np.testing.assert_allclose(np.asarray(unlock), expected, rtol=1e-3)
    # the Diagnostics field is the max over cells, computed inside diagnose the same way
    np.testing.assert_allclose(float(diag.unlock_time), expected.max(), rtol=1e-3)
    np.testing.assert_allclose(float(diag.unlock_time), float(c.unlock_time), rtol=1e-5)


def test_unlock_time_is_inf_when_a_lock_can_be_permanent(hand):
    """Two users per group with k = 2 (each group's two heads span R^2 only together; UD holds):
    leaving user a's cell out leaves a (x) e1, its optimal-vs-reference direction, unseen, so a
    lock on y0 (or on y = 2, which adds only a (x) e2) never unlocks: inf. With a third user per
    group (the hand instance) it is finite."""
    two = instance_from_heads(jnp.asarray([[1, .5], [1, -.5], [.5, 1], [-.5, 1]], jnp.float32), 3)
    diag = diagnose(two, "bt_ref")
    assert bool(diag.ud_holds) and float(diag.unlock_time) == np.inf
    assert np.isfinite(float(hand[3].unlock_time))


def test_identification_of_coordinate_subspaces():
    S = jnp.diag(jnp.array([4.0, 2.0, 0.0]))
    eps = jnp.float32(1e-6)
    e = jnp.eye(3)
    np.testing.assert_allclose(float(C.identification(S, e[:, :2], eps)), 2.0, rtol=1e-5)
    np.testing.assert_allclose(float(C.identification(S, e[0], eps)), 4.0, rtol=1e-5)
    u = jnp.array([1.0, 1.0, 0.0]) / jnp.sqrt(2.0)  # 1 / (u' S^-1 u) = 1 / ((1/4 + 1/2) / 2)
    np.testing.assert_allclose(float(C.identification(S, u, eps)), 8 / 3, rtol=1e-5)
    assert float(C.identification(S, e[:, 1:], eps)) <= 1.01e-6  # the null direction: ~eps
    assert float(C.identification(S, jnp.zeros((3, 2)), eps)) == np.inf


def test_head_sine_of_a_pair_sharing_best_and_runner_up():
    # (1, .5) and (1, .25): y* = 1, runner-up 2 for both; (1, -.5) has runner-up y0
    inst = instance_from_heads(jnp.asarray([[1, .5], [1, .25], [1, -.5]], jnp.float32), 3)
    expected = 0.25 / (np.sqrt(1.25) * np.sqrt(1.0625))  # |det| / (|h_u| |h_v|)
    np.testing.assert_allclose(float(C.head_sine(inst)), expected, rtol=1e-5)


def test_rotate_dial_with_redundancy_moves_loo_not_lambda_D():
    """Four users per group: rotating user m onto user 0 uncovers the others' leave-one-out
    directions (loo_coverage falls towards 0) while lambda_D stays within a factor 2. Vmapped
    (the experiment's lax.map is checked against diagnose in experiments/dial/test_experiment.py);
    the identification of D is diagnose's lambda_D."""
    s = jnp.array([0.05, 0.2, 1.0])
    keys = jax.random.split(jax.random.key(1), 1)

    def both(k, v):
        batch = dial_grid("rotate", k, v, n_per_group=4)
        c = jax.vmap(lambda i: C.candidates(i, rtol=1e-7))(batch)
        diag = jax.vmap(lambda i: diagnose(i, "bt_ref", rtol=1e-7))(batch)
        eps = 1e-7 * jnp.linalg.eigvalsh(diag.sigma_star)[:, -1]
        lam = jax.vmap(C.identification)(diag.sigma_star, diag.D_basis * diag.D_mask[:, None], eps)
        return c, lam, diag.lambda_D

    c, ident, lam_diag = jax.jit(both)(keys, s)
    loo, lam = np.asarray(c.loo_coverage), np.asarray(c.lambda_D)
    assert np.all(np.diff(loo) > 0) and loo[-1] > 10 * loo[0]
    assert lam.max() < 2 * lam.min()
    np.testing.assert_allclose(np.asarray(ident), np.asarray(lam_diag), rtol=1e-3)
    np.testing.assert_allclose(lam, np.asarray(lam_diag), rtol=1e-5)


def test_unlock_time_needs_the_models_lock_play():
    """A feedback model without ``lock_play`` (scalar) gets NaN, not a bt_ref number."""
    from jaxpa.envs.feedback import make_feedback
    assert make_feedback("bt_ref").has_lock_play and not make_feedback("scalar").has_lock_play
    inst = instance_from_heads(jnp.asarray([[1, .5], [1, -.5], [.5, 1], [-.5, 1]], jnp.float32), 3)
    assert np.isnan(float(diagnose(inst, "scalar").unlock_time))
