"""Instance families: valid instances, the guarantees each family states, and the UD verdict
that MODEL.md §6 expects of it (checked with the diagnostics)."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import FAMILIES, make_family, min_gap, optimal_responses, validate
from jaxpa.diagnostics.instance_diagnostics import diagnose
from jaxpa.envs.families import GAP_GUARANTEED, f4_interpolation, f5_minority

EXPECTED_UD = {"f1": True, "f2": False, "f3": False, "f4": True, "f5": True, "f6": True}


@pytest.fixture(scope="module")
def drawn():
    return {name: make_family(name, jax.random.key(5)) for name in FAMILIES}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_valid_and_meets_its_verdict(drawn, name):
    inst = drawn[name]
    validate(inst)
    if name in GAP_GUARANTEED:
        assert float(min_gap(inst)) >= 0.1
    assert bool(diagnose(inst, "bt_ref").ud_holds) == EXPECTED_UD[name]


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
    one = FAMILIES["f2"](keys[1])
    np.testing.assert_allclose(batch.W[1], one.W, rtol=1e-6)
    np.testing.assert_allclose(batch.features[1], one.features, rtol=1e-6)


def test_f4_dial_moves_one_instance_and_raises_lambda_D():
    etas = jnp.array([0.05, 0.2, 0.5])
    batch = jax.jit(jax.vmap(lambda e: f4_interpolation(jax.random.key(2), eta=e)))(etas)
    np.testing.assert_allclose(batch.features[0], batch.features[2])  # same draw along the dial
    base = f4_interpolation(jax.random.key(2), eta=0.0)
    assert np.allclose(base.heads, base.heads[0])  # eta = 0: everyone is h_bar
    lam = np.asarray(jax.vmap(lambda i: diagnose(i, "bt_ref").lambda_D)(batch))
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
