"""Bring your own reward model (jaxpa/learners/neural.py): the adapters against the frameworks
they adapt (linen ``init``/``apply``, NNX ``split``/``merge`` and calls), one model written three
ways (linen, NNX, pure apply) giving the same rewards and loss gradients, per-seed initial draws
from factories, the Optax optimiser of the user's choice doing exactly its own step, and clear
errors for models and optimisers that do not fit. The runs through ``simulate`` (each kind
vmapped over seeds, no recompilation on a second call) are in tests/test_docs_example.py, on the
models of docs/extending.md."""
import re

import chex
import numpy as np
import optax
import pytest
import jax
import jax.numpy as jnp
import flax.linen as nn
from flax import nnx

from jaxpa import make_feedback, make_learner, simulate
from jaxpa.envs.env import Context
from jaxpa.learners import neural as nl
from jaxpa.learners.neural import RewardModel, from_linen, from_nnx, neural, reward_model
from jaxpa.runner import init_state, seed_keys
from tests.helpers import contract_instance

FB = make_feedback("bt_ref")
N, K, D, E = 4, 5, 3, 2  # the contract instance's users, responses, features; embedding size


class LinenBilinear(nn.Module):
    """r_u = <e_u, A phi>: a linen Dense torso [d, E] and an embedding table [N, E]."""

    n_users: int

    @nn.compact
    def __call__(self, user, features):
        return nn.Dense(E, use_bias=False, name="torso")(features) @ nn.Embed(
            self.n_users, E, name="users")(user)


class NNXBilinear(nnx.Module):
    """The same model in NNX."""

    def __init__(self, n_users, rngs):
        self.torso = nnx.Linear(D, E, use_bias=False, rngs=rngs)
        self.users = nnx.Embed(n_users, E, rngs=rngs)

    def __call__(self, user, features):
        return self.torso(features) @ self.users(user)


def pure_bilinear() -> RewardModel:
    """The same model as pure functions of {"torso": [d, E], "users": [N, E]}."""
    def init(key, n_users, features):
        k1, k2 = jax.random.split(key)
        return {"torso": jax.random.normal(k1, (features.shape[-1], E)),
                "users": jax.random.normal(k2, (n_users, E))}

    return RewardModel(init, lambda p, u, f: f @ p["torso"] @ p["users"][u], "pure")


def _common(kind, params):
    """(torso [d, E], users [N, E]) of any of the three forms."""
    if kind == "linen":
        p = params.variables["params"]
        return p["torso"]["kernel"], p["users"]["embedding"]
    if kind == "nnx":
        state = params.variables
        return state["torso"]["kernel"][...], state["users"]["embedding"][...]
    return params["torso"], params["users"]


def _set_common(kind, params, torso, users):
    if kind == "linen":
        return params.replace(variables={"params": {"torso": {"kernel": torso},
                                                    "users": {"embedding": users}}})
    if kind == "nnx":
        state = params.variables
        state["torso"]["kernel"][...] = torso
        state["users"]["embedding"][...] = users
        return params.replace(variables=state)
    return {"torso": torso, "users": users}


MODELS = {"linen": lambda: from_linen(LinenBilinear), "nnx": lambda: from_nnx(NNXBilinear),
          "pure": pure_bilinear}


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


def test_adapters_agree_with_the_frameworks(inst):
    key, f = jax.random.key(3), inst.features[1]
    # linen, a factory: init and apply are the module's own with n_users = N
    model = from_linen(LinenBilinear)
    params = model.init(key, N, f)
    direct = LinenBilinear(N).init(key, jnp.int32(0), f)
    chex.assert_trees_all_equal(params.variables, direct)
    assert params.static == N and model.name == "LinenBilinear"
    for u in range(N):
        np.testing.assert_array_equal(model.apply(params, jnp.int32(u), f),
                                      LinenBilinear(N).apply(direct, jnp.int32(u), f))
    # linen, an instance: the same, with its own n_users
    inst_model = reward_model(LinenBilinear(N))
    chex.assert_trees_all_equal(inst_model.init(key, N, f).variables, direct)
    # NNX, a factory: the module built with nnx.Rngs(key), split into its nnx.Param state
    model = from_nnx(NNXBilinear)
    params = model.init(key, N, f)
    module = NNXBilinear(N, nnx.Rngs(key))
    graphdef, state = nnx.split(module, nnx.Param)
    chex.assert_trees_all_equal(params.variables, state)
    assert params.static == graphdef
    for u in range(N):
        np.testing.assert_allclose(model.apply(params, jnp.int32(u), f), module(jnp.int32(u), f),
                                   rtol=1e-6)
    # NNX, an instance: every key starts from the instance's own parameters
    fixed = reward_model(module)
    chex.assert_trees_all_equal(fixed.init(jax.random.key(0), N, f).variables,
                                fixed.init(jax.random.key(1), N, f).variables, state)
    # a pure pair passes through
    init, apply = pure_bilinear()[:2]
    assert reward_model((init, apply)) == RewardModel(init, apply)


def test_one_model_three_ways(inst):
    """Linen, NNX and pure versions of the bilinear model given the same numbers: the same
    rewards and the same surrogate-loss gradients (so the same optimiser steps)."""
    rng = np.random.default_rng(0)
    torso = jnp.asarray(rng.normal(size=(D, E)), jnp.float32)
    users = jnp.asarray(rng.normal(size=(N, E)), jnp.float32)
    B = 6
    replay = nl.Replay(user=jnp.asarray(rng.integers(0, N, B), jnp.int32),
                       features=inst.features[rng.integers(0, inst.n_prompts, B)],
                       reference=jnp.asarray(rng.integers(0, K, B), jnp.int32),
                       action=jnp.asarray(rng.integers(0, K, (B, 1)), jnp.int32),
                       obs=jnp.asarray(rng.integers(0, 2, B), jnp.float32))
    valid = jnp.arange(B) < 4
    expected_r = jnp.einsum("bkd,de,be->bk", replay.features, torso, users[replay.user])
    grads = {}
    for kind, make in MODELS.items():
        model = make()
        params = _set_common(kind, model.init(jax.random.key(0), N, inst.features[0]), torso,
                             users)
        r = jax.vmap(model.apply, in_axes=(None, 0, 0))(params, replay.user, replay.features)
        np.testing.assert_allclose(r, expected_r, rtol=1e-5, atol=1e-6)
        g = jax.grad(lambda p: nl.surrogate_loss(model.apply, FB, p, replay, valid))(params)
        grads[kind] = _common(kind, g)
    for kind in ("nnx", "pure"):
        chex.assert_trees_all_close(grads[kind], grads["linen"], rtol=1e-5, atol=1e-7)
    assert float(jnp.abs(grads["linen"][1]).max()) > 0


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_factories_draw_per_seed_under_vmap(inst, kind):
    """``init`` vmapped over seed keys (as the runner does) equals one init per key, and the
    seeds' draws differ."""
    learner = neural(FB, model=MODELS[kind]())
    hp = learner.default_hparams()
    keys = seed_keys(jax.random.key(1), 3)
    batched = jax.jit(jax.vmap(lambda k: init_state(k, inst, learner, hp)))(keys)
    theta = np.asarray(batched.theta)
    for i in range(3):
        one = init_state(keys[i], inst, learner, hp)
        np.testing.assert_allclose(theta[i], one.theta, rtol=1e-6)
    assert min(np.abs(theta[i] - theta[j]).max() for i in range(3) for j in range(i)) > 1e-3


def test_the_chosen_optimiser_takes_its_own_step(inst):
    """With plain SGD, one round's update is params - lr * grad of the round's negative
    log-likelihood (written with Optax's loss, independently of the learner's surrogate)."""
    lr = 0.2
    learner = neural(FB, model=pure_bilinear(), optimizer=optax.sgd, buffer_size=4)
    hp = learner.default_hparams().replace(learning_rate=jnp.float32(lr))
    state = learner.init(jax.random.key(2), inst, hp)
    ctx = Context(t=jnp.int32(0), horizon=jnp.int32(10), user=jnp.int32(2), head=inst.heads[2],
                  prompt=jnp.int32(1), features=inst.features[1],
                  reference=inst.reference[1])
    action, obs = jnp.array([3], jnp.int32), jnp.float32(1.0)
    new = jax.jit(learner.update)(state, ctx, action, obs, hp)

    def nll(p):
        r = ctx.features @ p["torso"] @ p["users"][ctx.user]
        return optax.sigmoid_binary_cross_entropy(r[action[0]] - r[ctx.reference], obs)

    g = jax.grad(nll)(state.params)
    expected = jax.tree.map(lambda p, gp: p - lr * gp, state.params, g)
    chex.assert_trees_all_close(new.params, expected, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(g["users"]).max()) > 0


class ColumnOut(nn.Module):
    """A common slip: rewards [K, 1] from a final Dense(1)."""

    @nn.compact
    def __call__(self, user, features):
        return nn.Dense(1)(features)


def _bad_apply(out):
    return RewardModel(lambda key, n, f: {"w": jnp.zeros((f.shape[-1],))},
                       lambda p, u, f: out(f @ p["w"]), "bad")


@pytest.mark.parametrize("model,shown", [
    (_bad_apply(lambda r: r[:, None]), r"shape \(5, 1\)"),
    (_bad_apply(lambda r: r.sum()), r"shape \(\)"),
    (_bad_apply(lambda r: r.astype(jnp.int32)), "int32"),
    (from_linen(lambda n: ColumnOut()), r"shape \(5, 1\)")], ids=["column", "scalar", "int",
                                                                   "linen_column"])
def test_a_wrong_model_is_a_clear_error(inst, model, shown):
    learner = neural(FB, model=model)
    with pytest.raises(ValueError, match=r"must map .* to float rewards \[K\] = \(5,\)") as err:
        simulate(jax.random.key(0), inst, FB, learner, horizon=5)
    assert re.search(shown, str(err.value))


class StoresRngs(nnx.Module):
    def __init__(self, n_users, rngs):
        self.users = nnx.Embed(n_users, 2, rngs=rngs)
        self.rngs = rngs  # random state is not a trainable parameter

    def __call__(self, user, features):
        return features[:, :2] @ self.users(user)


class WithBatchStats(nn.Module):
    @nn.compact
    def __call__(self, user, features):
        return nn.BatchNorm(use_running_average=False)(features).sum(-1)


def test_models_and_optimisers_that_do_not_fit(inst):
    f = inst.features[0]
    with pytest.raises(ValueError, match="other than nnx.Param"):
        from_nnx(StoresRngs).init(jax.random.key(0), N, f)
    with pytest.raises(ValueError, match="other than nnx.Param"):
        reward_model(StoresRngs(N, nnx.Rngs(0)))
    with pytest.raises(ValueError, match="batch_stats"):
        reward_model(WithBatchStats()).init(jax.random.key(0), N, f)
    with pytest.raises(TypeError, match=r"from_linen\(factory\) or from_nnx\(factory\)"):
        neural(FB, model=NNXBilinear)  # a factory: linen or NNX?
    with pytest.raises(TypeError, match="not an nnx.Module"):
        from_nnx(lambda n, rngs: LinenBilinear(n)).init(jax.random.key(0), N, f)
    with pytest.raises(TypeError, match="not a flax.linen Module"):
        from_linen(lambda n: NNXBilinear(n, nnx.Rngs(0))).init(jax.random.key(0), N, f)
    with pytest.raises(TypeError, match="model must be"):
        neural(FB, model="mlp")
    with pytest.raises(ValueError, match="factory taking learning_rate"):
        neural(FB, model=pure_bilinear(), optimizer=optax.adam(1e-2))


def test_make_learner_takes_the_model_and_caches(inst):
    model = from_nnx(NNXBilinear)
    a = make_learner("neural", FB, model=model, optimizer=optax.adamw)
    b = make_learner("neural", FB, model=model, optimizer=optax.adamw)
    assert a is b and a.name == "warm_start(epsilon_greedy(neural[NNXBilinear]))"
    assert make_learner("neural", FB, model=from_nnx(NNXBilinear)) is not a  # new functions
