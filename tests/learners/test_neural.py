"""The neural learner (default Flax model, Optax optimiser): the learner contract (jit, vmap over
seeds, no retracing with new hyperparameter values, shapes, finite values, never reading the head,
each seed its own initial draw), its loss gradient against Optax's own losses for every feedback
model, the learning rate reaching the optimiser as a swept array, the replay ring buffer against
the run's log, and that it learns. Models of your own: tests/learners/test_neural_models.py."""
import functools

import chex
import numpy as np
import optax
import pytest
import jax
import jax.numpy as jnp

from jaxpa import make_family, make_feedback, make_learner, set_hparams, simulate
from jaxpa.envs.instance import InstanceError, gaps
from jaxpa.learners import neural as nn_learner
from jaxpa.learners.hparams import replace_leaves
from jaxpa.runner import init_state, rollout, seed_keys
from tests.helpers import contract_instance

T = 10
FB = make_feedback("bt_ref")


@pytest.fixture(scope="module")
def inst():
    return contract_instance()


@pytest.fixture(scope="module")
def learner():
    """warm_start(epsilon_greedy(neural)) from the registry: its hyperparameters nest."""
    return make_learner("neural", FB, hidden=(), embed_dim=3, buffer_size=6)


def core_hparams(hp) -> nn_learner.NeuralHParams:
    """The neural learner's own hyperparameters inside the exploration wrappers."""
    while not isinstance(hp, nn_learner.NeuralHParams):
        hp = hp.inner
    return hp


@functools.lru_cache(maxsize=None)
def _runner(learner, horizon):
    """One compiled rollout per (learner, horizon), shared by the tests; it fails if a call with
    new hyperparameter values (or a new key) ever traces it again."""
    return jax.jit(chex.assert_max_traces(
        lambda key, inst, hp: rollout(key, inst, FB, learner, hp, horizon), n=1))


@pytest.mark.slow  # eager execution compiles every primitive one by one: ~20 s on 2 cores
def test_jit_equals_no_jit(inst, learner):
    hp = set_hparams(learner.default_hparams(), epsilon=jnp.float32(0.2))
    key = jax.random.key(0)
    state, rec = _runner(learner, T)(key, inst, hp)
    with jax.disable_jit():
        state_e, rec_e = rollout(key, inst, FB, learner, hp, T)
    np.testing.assert_array_equal(rec.action, rec_e.action)
    chex.assert_trees_all_close(state, state_e, rtol=1e-4, atol=1e-5)


def test_vmap_over_seeds_equals_single_runs(inst, learner):
    hp = set_hparams(learner.default_hparams(), epsilon=jnp.float32(0.2))
    keys = seed_keys(jax.random.key(1), 3)
    states, recs = jax.jit(jax.vmap(lambda k: rollout(k, inst, FB, learner, hp, T)))(keys)
    for i in range(3):
        s_i, r_i = _runner(learner, T)(keys[i], inst, hp)
        np.testing.assert_array_equal(recs.action[i], r_i.action)
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], states), s_i, rtol=1e-5,
                                    atol=1e-6)
    # init takes a key: each seed starts from its own draw of the parameters
    starts = jax.vmap(lambda k: init_state(k, inst, learner, hp))(keys)
    theta = np.asarray(starts.theta)
    assert theta.shape[0] == 3 and np.all(np.isfinite(theta))
    assert min(np.abs(theta[i] - theta[j]).max() for i in range(3) for j in range(i)) > 1e-3


def test_no_retrace_shapes_finite_and_blind_to_heads(inst, learner):
    run = lambda key, hp: _runner(learner, T)(key, inst, hp)  # traced once for the whole file
    hp = learner.default_hparams()
    s1, r1 = run(jax.random.key(0), hp)
    s2, r2 = run(jax.random.key(0), set_hparams(hp, learning_rate=jnp.float32(0.1),
                                                epsilon=jnp.float32(0.5)))
    assert not np.allclose(s1.theta, s2.theta)  # the new values reached the learner
    assert r2.action.shape == (T, 1) and r2.action.dtype == jnp.int32
    chex.assert_tree_all_finite((s1.params, s2.params, r1.regret, r2.regret))
    table = s2.params.variables["params"]["users"]["embedding"]
    chex.assert_shape(table, (inst.n_users, 3))
    assert s2.replay.features.shape == (6, inst.n_responses, inst.d)

    blind = lambda ctx: ctx.replace(head=jnp.full_like(ctx.head, jnp.nan))
    hidden = learner._replace(
        act=lambda key, s, ctx, hp: learner.act(key, s, blind(ctx), hp),
        update=lambda s, ctx, a, o, hp: learner.update(s, blind(ctx), a, o, hp))
    s3, r3 = _runner(hidden, T)(jax.random.key(0), inst, hp)
    np.testing.assert_array_equal(r1.action, r3.action)
    chex.assert_trees_all_close(s1.params, s3.params)


def _explicit_nll(name, r_hat, action, reference, obs):
    """The feedback model's negative log-likelihood of one datum, written with Optax's losses."""
    if name == "scalar":
        return optax.l2_loss(r_hat[action[0]], obs)  # noise_std = 1
    if name == "bt_ref":
        return optax.sigmoid_binary_cross_entropy(r_hat[action[0]] - r_hat[reference], obs)
    if name == "bt_duel":
        return optax.sigmoid_binary_cross_entropy(r_hat[action[0]] - r_hat[action[1]], obs)
    return optax.softmax_cross_entropy_with_integer_labels(r_hat[action], obs)  # mnl


@pytest.mark.parametrize("name", ["scalar", "bt_ref", "bt_duel", "mnl"])
def test_loss_gradient_is_the_negative_log_likelihood_gradient(inst, name):
    fb = make_feedback(name)
    K, A, B = inst.n_responses, fb.n_actions, 7
    model = nn_learner.PersonalizedReward(inst.n_users, 3, (8,))
    rng = np.random.default_rng(1)
    params = model.init(jax.random.key(1), jnp.int32(0), inst.features[0])
    action = np.stack([rng.permutation(K)[:A] for _ in range(B)]).astype(np.int32)
    obs = (rng.integers(0, A, B).astype(np.int32) if name == "mnl"
           else rng.normal(size=B).astype(np.float32) if name == "scalar"
           else rng.integers(0, 2, B).astype(np.float32))
    replay = nn_learner.Replay(user=jnp.asarray(rng.integers(0, inst.n_users, B), jnp.int32),
                               features=inst.features[rng.integers(0, inst.n_prompts, B)],
                               reference=jnp.asarray(rng.integers(0, K, B), jnp.int32),
                               action=jnp.asarray(action), obs=jnp.asarray(obs))
    valid = jnp.arange(B) < 5

    def explicit(p):
        r = jax.vmap(model.apply, in_axes=(None, 0, 0))(p, replay.user, replay.features)
        nll = jax.vmap(functools.partial(_explicit_nll, name))(r, replay.action, replay.reference,
                                                               replay.obs)
        return jnp.sum(jnp.where(valid, nll, 0.0)) / 5

    ours = jax.jit(jax.grad(lambda p: nn_learner.surrogate_loss(model.apply, fb, p, replay,
                                                                valid)))
    chex.assert_trees_all_close(ours(params), jax.jit(jax.grad(explicit))(params), rtol=1e-4,
                                atol=1e-6)


def test_learning_rate_reaches_the_optimiser_as_a_sweep(inst, learner):
    """A swept lr equals separate runs; lr = 0 (outside the declared range, so only through
    ``rollout``, which does not check) leaves the parameters where they started."""
    hp = learner.default_hparams()
    lrs = jnp.array([1e-4, 3e-3, 3e-2], jnp.float32)
    key = jax.random.key(2)
    swept = simulate(key, inst, FB, learner, set_hparams(hp, learning_rate=lrs), horizon=T,
                     n_seeds=2)
    for s, k in enumerate(seed_keys(key, 2)):
        for i in (0, 2):
            _, rec = _runner(learner, T)(k, inst, set_hparams(hp, learning_rate=lrs[i]))
            np.testing.assert_allclose(swept.regret[i, s],
                                       np.cumsum(rec.regret)[swept.checkpoints - 1], rtol=1e-5,
                                       atol=1e-5)
    frozen_hp = replace_leaves(hp, {"learning_rate": jnp.float32(0.0)})  # set_hparams refuses 0
    frozen, _ = _runner(learner, T)(jax.random.key(0), inst, frozen_hp)
    start = init_state(jax.random.key(0), inst, learner, frozen_hp)
    chex.assert_trees_all_close(frozen.params, start.params)
    moved, _ = _runner(learner, T)(jax.random.key(0), inst, set_hparams(hp, learning_rate=lrs[2]))
    assert not np.allclose(moved.theta, start.theta)
    with pytest.raises(InstanceError, match="learning_rate"):
        simulate(key, inst, FB, learner, frozen_hp, horizon=T)
    core = core_hparams(hp)
    np.testing.assert_allclose(nn_learner.learning_rate(core, jnp.int32(12), 6),
                               core.learning_rate * 3.0 ** -core.lr_decay, rtol=1e-6)


def test_replay_holds_the_last_rounds(inst, learner):
    state, rec = _runner(learner, T)(jax.random.key(3), inst, learner.default_hparams())
    B = state.replay.user.shape[0]
    for t in range(T - B, T):
        assert state.replay.user[t % B] == rec.context.user[t]
        np.testing.assert_array_equal(state.replay.action[t % B], rec.action[t])
        assert state.replay.obs[t % B] == rec.obs[t]
        np.testing.assert_array_equal(state.replay.features[t % B], rec.context.features[t])


def test_bad_options_fail_early():
    with pytest.raises(ValueError, match="buffer_size"):
        nn_learner.neural(FB, buffer_size=0)
    with pytest.raises(ValueError, match="optimiser"):
        nn_learner.neural(FB, optimizer="adamm")
    with pytest.raises(ValueError, match="embed_dim"):
        nn_learner.neural(FB, embed_dim=0)
    with pytest.raises(ValueError, match="factory taking learning_rate"):
        nn_learner.neural(FB, optimizer=optax.adam(1e-3))  # built: its rate could not be swept
    with pytest.raises(ValueError, match="learning_rate"):
        nn_learner.neural(FB, optimizer=lambda lr: optax.sgd(lr))  # no learning_rate argument
    with pytest.raises(ValueError, match="default model"):
        nn_learner.neural(FB, model=nn_learner.PersonalizedReward(3), hidden=(4,))


@pytest.mark.slow  # F1 (6 users, 6 prompts), 400 rounds: tests/learners/test_neural_models.py checks the
def test_beats_uniform_on_f1():  # same on a small instance in the fast tier
    """On F1 its regret is well below uniform play's (expected regret: the mean gap per round)."""
    inst = make_family("f1", jax.random.key(0))
    ours = simulate(jax.random.key(4), inst, FB, make_learner("neural", FB), horizon=400,
                    n_seeds=8)
    per_round = np.einsum("u,ux,uxy->", inst.user_probs, inst.prompt_probs, gaps(inst))
    assert np.all(np.isfinite(ours.regret)) and np.all(ours.nonfinite_at == 0)
    assert float(ours.regret[:, -1].mean()) < 0.5 * 400 * per_round / inst.n_responses
