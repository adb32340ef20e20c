"""Instance families: valid instances, the guarantees each family states, the UD verdict that
MODEL.md §6 expects of it (checked with the diagnostics), and options checked before drawing."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import (FAMILIES, Instance, InstanceError, make_family, min_gap, optimal_responses,
                   validate)
from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.envs import families
from jaxpa.envs.families import GAP_GUARANTEED, f4_interpolation, f5_minority

EXPECTED_UD = {"f1": True, "f2": False, "f3": False, "f4": True, "f5": True, "f6": True}


@pytest.fixture(scope="module")
def drawn():
    return {name: make_family(name, jax.random.key(5)) for name in EXPECTED_UD}


def test_registry_holds_f1_to_f6_in_one_module():
    assert set(EXPECTED_UD) <= set(FAMILIES)
    assert all(FAMILIES[name].__module__ == "jaxpa.envs.families" for name in EXPECTED_UD)
    with pytest.raises(ImportError):
        __import__("jaxpa.envs.more_families")


@pytest.mark.parametrize("name", sorted(EXPECTED_UD))
def test_family_is_valid_and_meets_its_verdict(drawn, name):
    inst = drawn[name]
    validate(inst)
    assert inst.batch_shape == () and inst.features.dtype == jnp.float32
    if name in GAP_GUARANTEED:
        assert float(min_gap(inst)) >= 0.1
    assert bool(diagnose(inst, "bt_ref").ud_holds) == EXPECTED_UD[name]


def test_same_key_same_instance_other_key_differs(drawn):
    again = make_family("f1", jax.random.key(5))
    for a, b in zip(jax.tree.leaves(drawn["f1"]), jax.tree.leaves(again)):
        np.testing.assert_array_equal(a, b)
    other = make_family("f1", jax.random.key(6))
    assert not np.array_equal(other.W, drawn["f1"].W)


def test_f2_and_f3_structure(drawn):
    f2, f3 = drawn["f2"], drawn["f3"]
    assert np.allclose(f2.heads, f2.heads[0]) and f2.n_prompts == 1
    assert f2.n_responses >= f2.d + 1 and int(optimal_responses(f2)[0, 0]) != 0
    # F3: heads span R^2, every user shares one optimal response, yet UD fails
    assert np.linalg.matrix_rank(np.asarray(f3.heads)) == 2
    assert len(np.unique(np.asarray(optimal_responses(f3)))) == 1
    assert int(diagnose(f3, "bt_ref").head_rank) == 2


def test_families_vmap_over_keys_like_single_draws():
    keys = jax.random.split(jax.random.key(1), 3)
    batch = jax.jit(jax.vmap(FAMILIES["f2"]))(keys)
    validate(batch)
    assert batch.batch_shape == (3,)
    one = make_family("f2", keys[1])  # the jitted single draw (compiled for the fixture)
    np.testing.assert_allclose(batch.W[1], one.W, rtol=1e-6)
    np.testing.assert_allclose(batch.features[1], one.features, rtol=1e-6)


def test_f4_dial_moves_one_instance_and_raises_lambda_D():
    etas = jnp.array([0.0, 0.05, 0.2, 0.5])
    batch = jax.jit(jax.vmap(lambda e: f4_interpolation(jax.random.key(2), eta=e)))(etas)
    np.testing.assert_allclose(batch.features[0], batch.features[3])  # same draw along the dial
    assert np.allclose(batch.heads[0], batch.heads[0, 0])  # eta = 0: everyone is h_bar
    assert not np.allclose(batch.heads[1], batch.heads[1, 0])
    lam = np.asarray(jax.vmap(lambda i: diagnose(i, "bt_ref").lambda_D)(batch))[1:]
    assert np.all(np.diff(lam) > 0), lam


def test_f5_minority_mass_sets_lambda_D_proportionally():
    ps = jnp.array([0.01, 0.02, 0.04])
    batch = jax.jit(jax.vmap(lambda p: f5_minority(jax.random.key(3), p=p)))(ps)
    np.testing.assert_allclose(batch.user_probs.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(batch.user_probs[:, -2:].sum(-1), ps, rtol=1e-5)
    lam = np.asarray(jax.vmap(lambda i: diagnose(i, "bt_ref").lambda_D)(batch))
    # for small p, lambda_D is linear in p: doubling p doubles it (within 10%)
    np.testing.assert_allclose(lam[1:] / lam[:-1], 2.0, rtol=0.1)


def test_f6_has_no_margin(drawn):
    assert float(min_gap(drawn["f6"])) < float(min_gap(drawn["f1"]))
    assert drawn["f6"].n_users >= 32


@pytest.mark.parametrize("name, options, message", [
    ("f1", dict(d=0), "d must be an integer >= 1"),
    ("f1", dict(n_users=0), "n_users must be an integer >= 1"),
    ("f1", dict(n_responses=1), "n_responses must be an integer >= 2"),
    ("f6", dict(k=-2), "k must be an integer >= 1"),
    ("f3", dict(n_per_cluster=2.5), "n_per_cluster must be an integer"),
    ("f5", dict(n_minor=True), "n_minor must be an integer"),
    ("f1", dict(max_tries=0), "max_tries"),
    ("f4", dict(eta="0.5"), "eta must be a real number"),
    ("f5", dict(p=float("nan")), "p must be finite"),
    ("f1", dict(scale=float("inf")), "scale must be finite"),
    ("f1", dict(n_resp=3), "unknown options"),
    ("f2", dict(n_prompts=2), "unknown options"),  # F2 has one prompt by construction
    ("f9", {}, "unknown family 'f9'.*f1"),
])
def test_bad_options_rejected_before_drawing(monkeypatch, name, options, message):
    def boom(*a, **k):
        raise AssertionError("drew before checking the options")

    monkeypatch.setattr(families, "_jitted", boom)
    with pytest.raises(InstanceError, match=message):
        make_family(name, jax.random.key(0), **options)


@pytest.mark.parametrize("key", [0, np.uint32(3), None, "key"])
def test_family_needs_a_random_key(key):
    with pytest.raises(InstanceError, match="key"):
        make_family("f1", key)


def test_a_batch_of_keys_draws_a_batch_equal_to_single_draws():
    keys = jax.random.split(jax.random.key(0), 3)
    batch = make_family("f2", keys)
    assert batch.batch_shape == (3,)
    for b in range(3):
        one = make_family("f2", keys[b])
        for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(jax.tree.map(lambda a: a[b], batch))):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(InstanceError, match="key"):  # a 2-D batch is not a key batch
        make_family("f1", jax.random.split(jax.random.key(0), (2, 2)))


def test_f2_needs_more_responses_than_features():
    """F2's own precondition, checked when the draw is traced (before anything runs)."""
    with pytest.raises(InstanceError, match="n_responses >= d \\+ 1"):
        make_family("f2", jax.random.key(0), d=4, n_responses=4)


def test_unmet_gap_guarantee_raises(monkeypatch):
    """When every rejection draw failed, the family returns its last draw and make_family must
    refuse it. The draw is stubbed with an instance whose smallest gap is known (0.25)."""
    f = np.array([[[0.0, 0.0], [0.75, 0.0], [1.0, 0.0]]])  # rewards 0, .75, 1 for the one user
    low = Instance.create(features=f, reference=[0], heads=[[1.0, 0.0]], W=[[1.0, 0.0], [0.0, 1.0]])
    assert abs(float(min_gap(low)) - 0.25) < 1e-6
    def stub(name, static, dynamic):  # the compiled draw: (instances [B], their Delta_min [B])
        return lambda keys, values: (jax.tree.map(lambda x: np.repeat(x[None], len(keys), 0), low),
                                     np.full(len(keys), float(min_gap(low))))

    monkeypatch.setattr(families, "_jitted", stub)
    with pytest.raises(InstanceError, match="min_gap=0.3"):
        make_family("f1", jax.random.key(0), min_gap=0.3)
    same = lambda inst: all(np.array_equal(a, b) for a, b in
                            zip(jax.tree.leaves(inst), jax.tree.leaves(low)))
    assert same(make_family("f1", jax.random.key(0), min_gap=0.2))
    assert same(make_family("f6", jax.random.key(0)))  # F6 guarantees no gap


def test_real_options_and_batch_sizes_share_one_program():
    """A dial's value, min_gap and the number of keys are arguments of one compiled draw (sizes
    alone are compile-time constants); padding a batch does not change the draws it keeps."""
    keys = jax.random.split(jax.random.key(1), 5)
    two = make_family("f4", keys[:2], eta=0.0)
    program = families._jitted("f4", (), ("eta",))
    n = program._cache_size()
    five = make_family("f4", keys, eta=0.0)
    moved = make_family("f4", keys[:3], eta=1.0)
    assert program._cache_size() == n == 1
    for a, b in zip(jax.tree.leaves(two), jax.tree.leaves(five)):
        np.testing.assert_array_equal(a, np.asarray(b)[:2])
    assert not np.allclose(moved.heads, five.heads[:3])  # eta moved the heads
    np.testing.assert_array_equal(moved.features, five.features[:3])  # and nothing else
