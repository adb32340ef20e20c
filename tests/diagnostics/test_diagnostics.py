"""Span-rank diagnostics (jaxpa/diagnostics/instance_diagnostics.py): hand-built instances whose
answers are known on paper (every bt_duel second-response rule included), an independent
NumPy/SciPy reference, the learners' own likelihood, invariances (head scale, user and response
permutations, float32 vs float64), jit/vmap, the CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import jax
import jax.numpy as jnp

from jaxpa.diagnostics import diagnose, diagnose_checked, explain, optimal_play_information
from jaxpa.diagnostics import instance_diagnostics as idg
from jaxpa.envs.families import make_family
from jaxpa.envs.feedback import make_feedback
from jaxpa.envs.instance import Instance, InstanceError, optimal_responses, rewards
from jaxpa.envs.io import load_instance, save_instance
from jaxpa.learners.design import design

FEEDBACKS = ("scalar", "bt_ref", "bt_duel", "mnl")
SECONDS = ("own", "runner_up", "reference", "uniform")
# the hand-built instances have K = 4: an mnl slate of 2 keeps optimal play partial
SMALL = [make_feedback("scalar"), make_feedback("bt_ref"), make_feedback("bt_duel"),
         make_feedback("mnl", slate_size=2)]
sp = lambda m: float(jax.nn.sigmoid(m) * jax.nn.sigmoid(-m))  # sigma'(m)


# The hand-built instances with K = 4, d = 2, N = 2, k = 2 share one shape (one compiled program).
def identical_heads():
    """Identical heads, one prompt: r = phi_1 = (0, 1, -0.5, -1), y* = 1, runner-up y0 = 0.
    D = span{e0, e1} (e1 ⊗ R^2); optimal play sees only e0 = z(y*) - z(y0)."""
    return Instance.create(features=[[[0, 0], [1, 0], [-0.5, 1], [-1, 0]]], reference=[0],
                           heads=[[1, 0]] * 2, W=[[1, 0], [0, 0]])


def spanning():
    """k=2, d=1, heads e1 and 2 e2 (nu = 1/4, 3/4), W = (1, -1): r_1 = phi, r_2 = -2 phi with phi =
    (0, 1, -1): y*_1 = 1, y*_2 = 2 (distinct), D = R^2, and by hand
    bt_ref = bt_duel: Sigma* = diag(1/4 sigma'(1), 3/4 * 4 sigma'(2)); scalar: diag(1/4, 3) / s^2."""
    return Instance.create(features=[[[0], [1], [-1]]], reference=[0], heads=[[1, 0], [0, 2]],
                           W=[[1], [-1]], user_probs=[0.25, 0.75])


def irrelevant_direction():
    """d=2 with a constant second feature: W[:, 1] changes no decision, so D = span{e0, e2}.
    User 1 (h = e1): r = (.5, 1.5, -.5, 1), y* = 1, runner-up 3; user 2 (h = 2 e2): r = (.6, -1.4,
    2.6, -.4), y* = 2, runner-up y0. bt_ref: lambda_D = min(1/4 sigma'(1), 3 sigma'(2));
    bt_duel: min(1/4 * 1/4 sigma'(.5), 3 sigma'(2))."""
    return Instance.create(features=[[[0, 1], [1, 1], [-1, 1], [0.5, 1]]], reference=[0],
                           heads=[[1, 0], [0, 2]], W=[[1, 0.5], [-1, 0.3]], user_probs=[0.25, 0.75])


def spanning_uncovered():
    """Heads e1, e2 span R^2 (full head rank) but each user's optimal play sees one direction of its
    own 2-dim block: D = R^4, rank Sigma* = 2, residual 1 (F3's failure)."""
    return Instance.create(features=[[[0, 0], [1, 0.3], [-0.2, 1], [-1, -1]]], reference=[0],
                           heads=[[1, 0], [0, 1]], W=[[1, 0], [0, 1]])


@pytest.fixture(scope="module")
def f1_batch():
    """Six F1 draws (default arguments) stacked into a batch [6]."""
    draws = [make_family("f1", jax.random.key(11 + i)) for i in range(6)]
    return jax.tree.map(lambda *x: jnp.stack(x), *draws)


def _index(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


# ---------------------------------------------------------------- hand-built instances
@pytest.mark.parametrize("fb", SMALL + [make_feedback("bt_duel", second=s)
                                        for s in ("runner_up", "reference")], ids=lambda f: f.label)
def test_identical_heads_single_prompt_fails(fb):
    d = diagnose(identical_heads(), fb)
    assert int(d.head_rank) == 1 and int(d.dim_D) == 2 and int(d.rank_sigma) == 1
    assert not bool(d.ud_holds) and int(d.reason) == idg.FAILS_UNCOVERED
    assert float(d.lambda_D) == pytest.approx(0.0, abs=1e-6)
    assert float(d.residual) == pytest.approx(1.0, abs=1e-5)
    assert abs(float(d.worst_direction[1])) == pytest.approx(1.0, abs=1e-5)  # the uncovered e1
    assert "UD fails" in explain(d)


def test_full_mnl_slate_and_uniform_duel_cover_identical_heads():
    """A slate of 3 of the K = 4 responses, or a duel of y* against a uniform second response,
    compares y* with responses off the line of y0: the same instance then has UD."""
    assert bool(diagnose(identical_heads(), make_feedback("mnl", slate_size=3)).ud_holds)
    d = diagnose(identical_heads(), make_feedback("bt_duel", second="uniform"))
    assert bool(d.ud_holds) and int(d.rank_sigma) == 2 and d.feedback == "bt_duel[second=uniform]"


def test_spanning_heads_lambda_by_hand():
    inst = spanning()  # bt_duel plays the same rows here (its runner-up is y0): not compiled again
    d = diagnose(inst, "bt_ref")
    np.testing.assert_allclose(d.sigma_star, np.diag([0.25 * sp(1.), 3 * sp(2.)]), rtol=1e-5)
    assert bool(d.ud_holds) and int(d.dim_D) == 2 and int(d.head_rank) == 2
    assert float(d.lambda_D) == pytest.approx(min(0.25 * sp(1.), 3 * sp(2.)), rel=1e-5)
    d = diagnose(inst, make_feedback("scalar", noise_std=0.5))
    np.testing.assert_allclose(d.sigma_star, np.diag([0.25, 3.0]) / 0.25, rtol=1e-6)
    assert float(d.lambda_D) == pytest.approx(1.0, rel=1e-5) and bool(d.ud_holds)
    assert float(d.kappa) == pytest.approx(4.0) and float(d.min_gap) == pytest.approx(1.0)
    assert float(d.max_gap) == pytest.approx(4.0)


def test_direction_changing_no_decision_is_excluded_from_D():
    inst = irrelevant_direction()
    d = diagnose(inst, "bt_ref")
    assert int(d.dim_D) == 2
    np.testing.assert_allclose(d.D_projector, np.diag([1.0, 0, 1, 0]), atol=1e-6)
    assert float(d.lambda_D) == pytest.approx(min(0.25 * sp(1.), 3 * sp(2.)), rel=1e-5)
    duel = diagnose(inst, "bt_duel")
    assert float(duel.lambda_D) == pytest.approx(min(0.0625 * sp(.5), 3 * sp(2.)), rel=1e-5)
    # moving W along the excluded direction changes no decision and no diagnostic
    moved = inst.replace(W=inst.W.at[:, 1].add(jnp.array([3.0, -2.0])))
    np.testing.assert_array_equal(optimal_responses(moved), optimal_responses(inst))
    np.testing.assert_allclose(diagnose(moved, "bt_ref").D_projector, d.D_projector, atol=1e-6)
    # scalar feedback sees absolute rewards: the nuisance W[:, 1] confounds W[:, 0] (lambda_D = 0),
    # although MODEL.md's restricted formula P_D Sigma* P_D reads 1/4 / s^2 > 0
    s = diagnose(inst, "scalar")
    assert not bool(s.ud_holds) and float(s.lambda_D) == pytest.approx(0.0, abs=1e-6)
    assert float(s.lambda_D_restricted) == pytest.approx(0.25, rel=1e-5)
    assert float(s.residual) == pytest.approx(np.sqrt(0.5), rel=1e-5)


def _duel_by_hand(second):
    """Optimal-play rows of ``irrelevant_direction()`` under bt_duel, written out on paper.

    User 1 (nu = 1/4, h = e1): r = (.5, 1.5, -.5, 1), y* = 1, runner-up 3, y0 = 0, z(y) =
    (phi(y), 0, 0). User 2 (nu = 3/4, h = 2 e2): r = (.6, -1.4, 2.6, -.4), y* = 2, runner-up
    0 = y0, z(y) = (0, 0, 2 phi(y)). Returns, per user, the list of (probability, margin
    r(y*) - r(y'), z(y*) - z(y')) of the second responses y' the rule plays at the fixed point."""
    phi = np.array([[0, 1], [1, 1], [-1, 1], [0.5, 1]], np.float64)
    users = [(np.array([0.5, 1.5, -0.5, 1.0]), lambda v: np.r_[v, 0, 0]),
             (np.array([0.6, -1.4, 2.6, -0.4]), lambda v: np.r_[0, 0, 2 * v])]
    rows = []
    for r, embed in users:
        best = int(np.argmax(r))
        if second in ("own", "runner_up"):
            others = [int(np.argsort(r)[-2])]
        elif second == "reference":
            others = [0]
        else:
            others = range(4)
        prob = 1.0 / len(others)
        rows.append([(prob, r[best] - r[o], embed(phi[best] - phi[o])) for o in others])
    return rows


@pytest.mark.parametrize("second", SECONDS)
def test_duel_second_rules_by_hand(second):
    """Sigma*, lambda_D and the per-context factors (F, G, kappa) of ``optimal_play_factors``
    for each bt_duel second-response rule against ``_duel_by_hand``."""
    inst = irrelevant_direction()
    model = make_feedback("bt_duel", second=second)
    rows, nu = _duel_by_hand(second), (0.25, 0.75)
    sigma = sum(w * p * sp(m) * np.outer(g, g) for w, user in zip(nu, rows) for p, m, g in user)
    d = diagnose(inst, model)
    np.testing.assert_allclose(d.sigma_star, sigma, rtol=1e-5, atol=1e-8)
    if second in ("own", "runner_up"):  # the docstring of irrelevant_direction
        assert float(d.lambda_D) == pytest.approx(min(0.0625 * sp(.5), 3 * sp(2.)), rel=1e-5)
    if second == "reference":  # y' = y0: bt_ref under another name
        np.testing.assert_allclose(d.sigma_star, diagnose(inst, "bt_ref").sigma_star, rtol=1e-6)
    F, G, kappa = idg.optimal_play_factors(inst, design(inst), model)
    R = 4 if second == "uniform" else 1
    assert F.shape == G.shape == (2, 1, R, 4) and kappa.shape == (2, 1)
    for u, user in enumerate(rows):
        np.testing.assert_allclose(G[u, 0], [g for _, _, g in user], atol=1e-6)
        np.testing.assert_allclose(F[u, 0], [np.sqrt(p * sp(m)) * g for p, m, g in user],
                                   rtol=1e-5, atol=1e-7)
        assert float(kappa[u, 0]) == pytest.approx(min(sp(m) for _, m, _ in user), rel=1e-5)
    assert float(d.kappa) == pytest.approx(min(sp(m) for user in rows for _, m, _ in user),
                                           rel=1e-5)
    assert d.feedback == model.label


@pytest.mark.parametrize("fb", SMALL, ids=lambda f: f.label)
def test_full_head_rank_but_D_uncovered(fb):
    d = diagnose(spanning_uncovered(), fb)
    assert int(d.head_rank) == 2 and int(d.dim_D) == 4 and int(d.rank_sigma) == 2
    assert not bool(d.ud_holds) and float(d.lambda_D) == pytest.approx(0.0, abs=1e-6)
    assert float(d.residual) == pytest.approx(1.0, abs=1e-5)


def test_uninformative_optimal_play_and_vacuous_D():
    inst = Instance.create(features=[[[1, 0], [0, 0], [0, 1], [-1, 0]]], reference=[0],
                           heads=[[1, 0]] * 2, W=[[1, 0], [0, 0]])  # y* = y0: bt_ref sees nothing
    d = diagnose(inst, "bt_ref")
    assert int(d.reason) == idg.FAILS_NO_INFORMATION and not bool(d.ud_holds)
    same = inst.replace(features=jnp.ones((1, 4, 2)))  # identical responses: nothing to decide
    v = diagnose(same, "bt_ref")
    assert int(v.dim_D) == 0 and bool(v.ud_holds) and int(v.reason) == idg.HOLDS_VACUOUS


def test_population_design_matches_personalized_for_one_unit_head():
    a = diagnose(identical_heads(), "bt_ref", featurizer="population")
    b = diagnose(identical_heads(), "bt_ref")
    assert a.sigma_star.shape == (2, 2) and int(a.dim_D) == int(b.dim_D)
    np.testing.assert_allclose(a.sigma_star, b.sigma_star[:2, :2], atol=1e-7)


# ---------------------------------------------------------------- families and references
@pytest.mark.parametrize("seed", [0, 1])
def test_f1_has_ud_and_f2_fails(seed):
    f1 = make_family("f1", jax.random.key(seed))
    f2 = make_family("f2", jax.random.key(seed))
    for fb in FEEDBACKS[:3]:
        assert bool(diagnose(f1, fb).ud_holds), explain(diagnose(f1, fb))
        d2 = diagnose(f2, fb)
        assert not bool(d2.ud_holds) and int(d2.head_rank) == 1


def _reference_factors(inst, fb, s=1.0, slate=3, second="own"):
    """Optimal-play factor rows by plain loops (np.kron for z = h ⊗ phi), float64; bt_duel with
    the second-response rule ``second`` (own and runner_up: the true runner-up; reference: y0;
    uniform: every response, weight 1/K)."""
    H, W, Phi = (np.asarray(x, np.float64) for x in (inst.heads, inst.W, inst.features))
    rows, omega = [], []
    for u in range(H.shape[0]):
        for x in range(Phi.shape[0]):
            z = np.stack([np.kron(H[u], Phi[x, y]) for y in range(Phi.shape[1])])
            r = Phi[x] @ (H[u] @ W)
            order = np.argsort(-r, kind="stable")
            w = float(inst.user_probs[u] * inst.prompt_probs[u, x])
            if fb == "scalar":
                f = [z[order[0]] / s]
            elif fb in ("bt_ref", "bt_duel"):
                if fb == "bt_ref" or second == "reference":
                    seconds, prob = [int(inst.reference[x])], 1.0
                elif second == "uniform":
                    seconds, prob = range(len(r)), 1.0 / len(r)
                else:
                    seconds, prob = [order[1]], 1.0
                f = []
                for o in seconds:
                    m = r[order[0]] - r[o]
                    curvature = np.exp(-m) / (1 + np.exp(-m)) ** 2
                    f.append(np.sqrt(prob * curvature) * (z[order[0]] - z[o]))
            else:
                S = order[:slate]
                p = np.exp(r[S] - r[S].max()); p /= p.sum()
                f = list(np.sqrt(p)[:, None] * (z[S] - p @ z[S]))
            rows += f
            omega += [w] * len(f)
    return np.array(rows), np.array(omega)


@pytest.mark.parametrize("fb,second", [(f, "own") for f in FEEDBACKS]
                         + [("bt_duel", s) for s in SECONDS[2:]])
def test_sigma_star_and_lambda_against_numpy_scipy(f1_batch, fb, second):
    model = make_feedback(fb, second=second) if fb == "bt_duel" else make_feedback(fb)
    for i in range(3):
        inst = _index(f1_batch, i)
        F, omega = _reference_factors(inst, fb, second=second)
        sigma = (F * omega[:, None]).T @ F
        d = diagnose(inst, model)
        np.testing.assert_allclose(d.sigma_star, sigma, rtol=2e-4, atol=1e-7)
        # D from SciPy's orth of all decision differences
        H, Phi = np.asarray(inst.heads, np.float64), np.asarray(inst.features, np.float64)
        ystar = np.asarray(optimal_responses(inst))
        dz = [np.kron(H[u], Phi[x, y] - Phi[x, ystar[u, x]]) for u in range(H.shape[0])
              for x in range(Phi.shape[0]) for y in range(Phi.shape[1])]
        U = scipy.linalg.orth(np.array(dz).T)
        assert int(d.dim_D) == U.shape[1]
        restricted = np.linalg.eigvalsh(U.T @ sigma @ U).min()
        efficient = 1.0 / np.linalg.eigvalsh(U.T @ scipy.linalg.pinvh(sigma) @ U).max()
        assert float(d.lambda_D_restricted) == pytest.approx(restricted, rel=2e-3)
        assert float(d.lambda_D) == pytest.approx(efficient, rel=2e-3)


@pytest.mark.parametrize("fb", ["scalar", "bt_ref", "bt_duel", "mnl"])
def test_sigma_star_is_the_learners_likelihood_curvature(f1_batch, fb):
    """Engine against itself: sum of feedback.newton_terms factors at theta = vec W under
    optimal play (beta = 0, so vec W is the true parameter of the personalized design)."""
    inst = _index(f1_batch, 0)
    model = make_feedback(fb, **({"slate_size": 3} if fb == "mnl" else {}))
    r, z = rewards(inst), design(inst)
    order = jnp.argsort(-r, axis=-1)
    act = {"scalar": order[..., :1], "bt_ref": order[..., :1], "bt_duel": order[..., :2],
           "mnl": order[..., :3]}[fb]
    theta = inst.W.reshape(-1)
    terms = jax.vmap(jax.vmap(lambda zz, a, ref: model.newton_terms(theta, zz, a, ref, 0)[1],
                              in_axes=(0, 0, 0)), in_axes=(0, 0, None))(z, act, inst.reference)
    omega = inst.user_probs[:, None] * inst.prompt_probs
    expected = jnp.einsum("nm,nmrp,nmrq->pq", omega, terms, terms)
    np.testing.assert_allclose(optimal_play_information(inst, fb), expected, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------- invariances
HAND = {"identical": identical_heads, "spanning": spanning, "irrelevant": irrelevant_direction,
        "uncovered": spanning_uncovered}


@pytest.mark.parametrize("c", [0.1, 50.0])
def test_scaling_heads_keeps_the_verdict(f1_batch, c):
    """The verdict, ranks and the (scale-free) coverage do not move; at c = 50 BT comparisons are
    near-deterministic, Sigma*'s weights underflow and lambda_D is unresolved (HOLDS_WEAK), but
    optimal play still covers D."""
    cases = [f() for f in HAND.values()] + [_index(f1_batch, 0), make_family("f2", jax.random.key(0))]
    for inst in cases:
        for fb in FEEDBACKS:
            a, b = diagnose(inst, fb), diagnose(inst.replace(heads=c * inst.heads), fb)
            for name in ("ud_holds", "head_rank", "dim_D", "rank_sigma"):
                assert int(getattr(a, name)) == int(getattr(b, name)), (fb, name)
            assert float(b.coverage) == pytest.approx(float(a.coverage), rel=1e-3, abs=1e-6)
            if fb == "scalar" and bool(a.ud_holds):  # scalar information is quadratic in h
                assert float(b.lambda_D) == pytest.approx(c**2 * float(a.lambda_D), rel=1e-3)
    if c == 50.0:  # F1 under bt_ref: covered, but Sigma*'s weights sigma'(50 margin) underflow
        d = diagnose(cases[4].replace(heads=c * cases[4].heads), "bt_ref")
        assert bool(d.ud_holds) and int(d.reason) == idg.HOLDS_WEAK and "resolution" in explain(d)


SCALARS = ("head_rank", "dim_D", "rank_sigma", "lambda_max", "lambda_D", "lambda_D_restricted",
           "ud_holds", "residual", "min_gap", "max_gap", "kappa")


def _same(a, b):
    for name in SCALARS:
        np.testing.assert_allclose(np.float64(getattr(a, name)), np.float64(getattr(b, name)),
                                   rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(a.sigma_star, b.sigma_star, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.D_projector, b.D_projector, atol=1e-5)


def test_permuting_users_and_responses_changes_nothing(f1_batch):
    rng = np.random.default_rng(3)
    for inst in [_index(f1_batch, 1), irrelevant_direction(), spanning_uncovered()]:
        up = rng.permutation(inst.n_users)
        users = inst.replace(heads=inst.heads[up], user_probs=inst.user_probs[up],
                             prompt_probs=inst.prompt_probs[up])
        rp = rng.permutation(inst.n_responses)
        inverse = np.argsort(rp)
        resp = inst.replace(features=inst.features[:, rp],
                            reference=jnp.asarray(inverse[np.asarray(inst.reference)], jnp.int32))
        for fb in FEEDBACKS:
            base = diagnose(inst, fb)
            _same(base, diagnose(users, fb))
            _same(base, diagnose(resp, fb))


X64_SCRIPT = """
import json, sys
import numpy as np
from jaxpa.diagnostics import diagnose
from jaxpa.envs.io import load_instance
out = {}
for path in sys.argv[2:]:
    inst = load_instance(path, dtype=np.float64)
    assert inst.features.dtype == np.float64
    for fb in sys.argv[1].split(","):
        d = diagnose(inst, fb)
        out[f"{path}|{fb}"] = {k: np.asarray(getattr(d, k)).tolist() for k in
                               ("ud_holds", "dim_D", "head_rank", "rank_sigma", "lambda_D",
                                "sigma_star", "residual")}
print(json.dumps(out))
"""


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_float32_and_float64_agree(f1_batch, tmp_path, full):
    """Stated tolerance: lambda_D and Sigma* to relative 1e-4 (absolute 1e-7 for zeros), identical
    ranks and verdicts; float64 runs in a subprocess with JAX_ENABLE_X64=1. The fast tier checks
    the two hand-built instances of one shape with bt_ref and mnl (each shape and model compiles
    anew in the subprocess); the slow tier adds F1 and every model."""
    insts = {"uncovered": spanning_uncovered(), "irrelevant": irrelevant_direction()}
    if full:
        insts["f1"] = _index(f1_batch, 2)
    feedbacks = FEEDBACKS if full else ("bt_ref", "mnl")
    paths = {name: str(save_instance(tmp_path / f"{name}.npz", inst)) for name, inst in insts.items()}
    env = dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", X64_SCRIPT, ",".join(feedbacks),
                           *paths.values()], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, inst in insts.items():
        for fb in feedbacks:
            d, ref = diagnose(inst, fb), res[f"{paths[name]}|{fb}"]
            for k in ("ud_holds", "dim_D", "head_rank", "rank_sigma"):
                assert int(getattr(d, k)) == int(ref[k]), (name, fb, k)
            assert float(d.lambda_D) == pytest.approx(ref["lambda_D"], rel=1e-4, abs=1e-7)
            np.testing.assert_allclose(d.sigma_star, ref["sigma_star"], rtol=1e-4, atol=1e-7)
            assert float(d.residual) == pytest.approx(ref["residual"], abs=1e-4)


# ---------------------------------------------------------------- jit, vmap, checks, CLI
def test_vmap_equals_loop_and_no_recompile(f1_batch):
    batch = diagnose_checked(f1_batch, "bt_ref")
    assert batch.lambda_D.shape == (6,) and batch.sigma_star.shape == (6, 6, 6)
    for i in range(6):
        _same(_index(batch, i), diagnose(_index(f1_batch, i), "bt_ref"))
    # one program per (shape, feedback model, design): other instances of the shape, and equal
    # models built anew or given by name, reuse it
    for fb in FEEDBACKS:
        diagnose(_index(f1_batch, 0), fb)
    size = idg._diagnose._cache_size()
    for i in (3, 4):
        for fb in FEEDBACKS:
            diagnose(_index(f1_batch, i), make_feedback(fb))
    assert idg._diagnose._cache_size() == size


@pytest.mark.parametrize("featurizer,p,models", [("personalized", 4, FEEDBACKS),
                                                 ("personalized+shared", 6, ("scalar",)),
                                                 ("population", 2, ("bt_ref",))])
def test_contract_every_feedback_and_design(featurizer, p, models):
    """Shapes and dtypes of every feedback model, and of the other designs (one model each: the
    design only changes the rows z, and each (model, design) pair is a program to compile)."""
    inst = irrelevant_direction()
    for fb in models:
        d = diagnose(inst, fb, featurizer=featurizer)
        assert d.sigma_star.shape == (p, p) and d.D_basis.shape == (p, p)
        assert d.sigma_star.dtype == jnp.float32 and d.dim_D.dtype == jnp.int32
        assert np.all(np.isfinite(d.sigma_star)) and np.isfinite(float(d.lambda_D))


def test_bad_input_is_rejected_before_compiling():
    with pytest.raises(ValueError, match="unknown feedback"):
        diagnose(spanning(), "pairwise")
    with pytest.raises(ValueError, match="second-response rule"):
        diagnose(spanning(), make_feedback("bt_duel", second="best"))
    with pytest.raises(TypeError):  # options travel with the model now, not as arguments
        diagnose(spanning(), "scalar", noise_std=2.0)
    with pytest.raises(ValueError, match="slate_size"):
        diagnose_checked(spanning(), make_feedback("mnl", slate_size=4))  # K = 3
    with pytest.raises(InstanceError, match="featurizer"):
        diagnose(spanning(), "bt_ref", featurizer="nonsense")
    with pytest.raises(InstanceError, match="prompt_probs"):
        diagnose_checked(spanning().replace(prompt_probs=jnp.full((2, 1), 0.5)), "bt_ref")
    with pytest.raises(InstanceError, match="rtol"):
        diagnose_checked(spanning(), "bt_ref", rtol=2.0)


def test_save_load_roundtrip(tmp_path, f1_batch):
    for inst in (spanning(), f1_batch):
        back = load_instance(save_instance(tmp_path / "i.npz", inst))
        jax.tree.map(np.testing.assert_array_equal, back, inst)
    with pytest.raises(InstanceError, match="not found"):
        load_instance(tmp_path / "missing.npz")


def test_cli_prints_and_saves(tmp_path, capsys):
    from jaxpa.cli import main

    out = tmp_path / "d.json"
    assert main(["diagnose", "--family", "f1", "--feedback", "bt_ref,scalar", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("UD HOLDS") == 2 and "lambda_D" in text
    saved = json.loads(out.read_text())["diagnostics"]
    assert saved["bt_ref"]["ud_holds"] is True and saved["scalar"]["dim_D"] >= 1
    path = save_instance(tmp_path / "u.npz", spanning_uncovered())
    assert main(["diagnose", "--instance", str(path)]) == 0
    assert "UD FAILS" in capsys.readouterr().out
    assert main(["diagnose", "--family", "f1", "--feedback", "nope"]) == 2
    assert "unknown feedback model 'nope'" in capsys.readouterr().err


LARGE_BATCH = """
import jax, numpy as np
from jaxpa.envs.instance import Instance
from jaxpa.diagnostics import diagnose_checked
n, rng = 10_000, np.random.default_rng(0)
f = rng.normal(size=(n, 6, 4, 3))
batch = Instance.create(features=f / np.linalg.norm(f, axis=-1, keepdims=True),
                        reference=np.zeros((n, 6), np.int32), heads=rng.normal(size=(n, 6, 2)),
                        W=rng.normal(size=(n, 2, 3)), user_probs=np.full((n, 6), 1 / 6),
                        prompt_probs=np.full((n, 6, 6), 1 / 6), shared=np.zeros((n, 3)))
for i in range(20):
    d = jax.block_until_ready(diagnose_checked(batch, ("bt_ref", "scalar")[i % 2]))
print(float(np.mean(d.ud_holds)))
"""


@pytest.mark.slow
def test_large_batches_finish():
    """10,000 instances in one vmapped call, 20 times, in a subprocess with a timeout: guards the
    ordering of batched eigendecompositions (``_after``) against the CPU LAPACK pool deadlock."""
    proc = subprocess.run([sys.executable, "-c", LARGE_BATCH], capture_output=True, text=True,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 0.0 <= float(proc.stdout.split()[-1]) <= 1.0
