"""Robust UD (diagnostics/robust.py, ``Diagnostics.robust_*``): leave-one-user-out coverage.

Hand-worked population (one prompt, K = 3: the reference y0 with zero features, y1 = e1, y2 = e2;
k = d = 2, W = I, so r_u(y) = h_u . phi(y)): users of group A (heads (1, a), a < 1) prefer y1,
group B ((a, 1)) prefer y2. Optimal play shows h_u ⊗ e_{y*(u)}: group A spans R^2 ⊗ e1 when it has
two users with different heads, group B R^2 ⊗ e2, so UD holds with groups (2, 2). Without a user u
of A, h_u ⊗ e1 is seen only along the other A head: u's decision direction h_u ⊗ e1 is
unidentified, and u locked on y0 reveals nothing. So robust UD fails with (2, 2) and (2, 4), and
holds with (3, 3) (two other heads of the group span R^2)."""
import numpy as np
import pytest
import jax

from jaxpa import Instance
from jaxpa.diagnostics import diagnose
from jaxpa.envs.instance import rewards
from jaxpa.learners.design import design
from tests.helpers import stack


def population(groups, seed=0) -> Instance:
    rng = np.random.default_rng(seed)
    f = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    heads = []
    for g, n in enumerate(groups):
        for _ in range(n):
            a = rng.uniform(0.1, 0.6)
            heads.append((np.array([1.0, a]) if g == 0 else np.array([a, 1.0]))
                         * rng.uniform(0.8, 1.2))
    return Instance.create(features=f, reference=[0], heads=np.array(heads), W=np.eye(2))


@pytest.mark.parametrize("groups,ud,robust", [((2, 2), True, False), ((2, 4), True, False),
                                              ((3, 3), True, True), ((1, 3), False, False)])
def test_hand_worked_populations(groups, ud, robust):
    d = diagnose(population(groups))
    assert bool(d.ud_holds) == ud and bool(d.robust_ud_holds) == robust
    per = np.asarray(d.robust_user_coverage)
    if robust:
        assert int(d.fragile_user) == -1 and np.all(per > 0)
    else:  # the fragile user is one of a group of at most two: its constant is 0
        assert groups[int(d.fragile_user) >= groups[0]] <= 2 and per[int(d.fragile_user)] == 0
        assert float(d.robust_coverage) == 0
    if ud and not robust:  # the users of the larger group of (2, 4) are covered by the others
        assert np.all(per[groups[0]:] > 0) == (groups[1] > 2)


def test_constant_is_the_leave_one_user_out_identification():
    """Under bt_ref every lockable cell can lock on y0 (a zero row), so each user's constant is
    1 / lambda_max(U^T (Sigma* - Sigma*_u + eps I)^-1 U), U an orthonormal basis of D_u:
    recomputed here in float64 NumPy from the instance."""
    inst = population((3, 3), seed=4)
    d = diagnose(inst)
    z = np.asarray(design(inst), np.float64)[:, 0]  # [N, K, p], one prompt
    r = np.asarray(rewards(inst), np.float64)[:, 0]
    y = r.argmax(-1)
    g = z[np.arange(len(y)), y] - z[:, 0]  # optimal play's rows (y0 = 0)
    w = 1.0 / (np.exp(r.max(-1) / 2) + np.exp(-r.max(-1) / 2)) ** 2  # sigma'(r* - r(y0)), r(y0) = 0
    nu = np.asarray(inst.user_probs, np.float64)
    sigma = np.einsum("n,np,nq->pq", nu * w, g, g)
    eps = 1e-5 * np.linalg.eigvalsh(sigma)[-1]
    for u in range(len(y)):
        dz = z[u] - z[u, y[u]]
        e, V = np.linalg.eigh(dz.T @ dz)
        U = V[:, e > 1e-5 * e[-1]]
        rest = sigma - nu[u] * w[u] * np.outer(g[u], g[u]) + eps * np.eye(len(g[u]))
        want = 1.0 / np.linalg.eigvalsh(U.T @ np.linalg.solve(rest, U))[-1]
        np.testing.assert_allclose(float(d.robust_user_coverage[u]), want, rtol=2e-3)


def random_batch(n=96, seed=0):
    """Small random instances of one shape (M = 2, K = 3, d = 2, N = 5, k = 2), some with
    structure (y0 with zero features; duplicated heads; a user of mass 0; one prompt per user)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = rng.normal(size=(2, 3, 2))
        heads = rng.normal(size=(5, 2))
        nu = np.full(5, 1 / 5)
        if i % 3 == 0:
            f[:, 0] = 0.0
        if i % 4 == 1:
            heads[2] = heads[1] * rng.uniform(0.5, 2)
        if i % 5 == 2:
            nu = np.array([0.25, 0.25, 0.25, 0.25, 0.0])
        rho = np.full((5, 2), 0.5) if i % 2 else np.tile([1.0, 0.0], (5, 1))
        out.append(Instance.create(features=f, reference=rng.integers(0, 3, 2), heads=heads,
                                   W=rng.normal(size=(2, 2)), user_probs=nu, prompt_probs=rho))
    return stack(*out)


def test_robust_ud_implies_ud_and_vmap_equals_single():
    batch = random_batch()
    d = jax.vmap(diagnose)(batch)
    ud, robust = np.asarray(d.ud_holds), np.asarray(d.robust_ud_holds)
    # the per-user condition alone (every user's residual share at most rtol) implies UD
    per_user = np.all(np.asarray(d.robust_user_coverage) > 0, axis=-1)
    assert not np.any(per_user & ~ud) and not np.any(robust & ~ud)
    assert np.any(ud & ~robust) and np.any(robust) and np.any(~ud)  # every branch is met
    for i in (0, 1, 5):  # vmap[i] == a single call
        one = diagnose(jax.tree.map(lambda x: x[i], batch))
        assert bool(one.robust_ud_holds) == robust[i]
        np.testing.assert_allclose(one.robust_user_coverage, d.robust_user_coverage[i],
                                   rtol=1e-4)
    jitted = jax.jit(diagnose)(jax.tree.map(lambda x: x[0], batch))
    assert bool(jitted.robust_ud_holds) == robust[0]


def test_diagnose_returns_on_many_users_and_prompts():
    """60 users x 200 prompts: the robust part's batched eigendecompositions run one after
    another (robust.after); run at once, two of them took every thread of the CPU's pool and
    diagnose never returned. In a fresh process, so a hang fails by its timeout."""
    from tests.helpers import run_python
    out = run_python("""
import json, numpy as np
from jaxpa.envs import Instance
from jaxpa.diagnostics import diagnose
rng = np.random.default_rng(0)
M, N = 200, 60
inst = Instance.create(features=rng.normal(size=(M, 2, 4)), reference=np.zeros(M, np.int32),
                       heads=rng.normal(size=(N, 4)), W=rng.normal(size=(4, 4)),
                       prompt_probs=np.full((N, M), 1.0 / M))
d = diagnose(inst, "bt_ref")
print("RESULT " + json.dumps({"ud": bool(d.ud_holds), "robust": bool(d.robust_ud_holds)}))
""", timeout=180)
    assert out["ud"] in (True, False) and not (out["robust"] and not out["ud"])
