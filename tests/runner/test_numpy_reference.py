"""The NumPy baseline of the benchmark implements jaxpa's greedy/bt_ref: fed jaxpa's own random
draws it reproduces jaxpa's curves seed by seed, and with NumPy's random stream it agrees with
jaxpa in distribution. So the benchmark's speed ratio compares like with like."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy import stats

from benchmarks.numpy_reference import per_seed_loop, simulate_numpy
from benchmarks.standard import as_numpy, standard_instance
from jaxpa import make_learner, set_hparams, simulate
from jaxpa.envs.env import draw_context
from jaxpa.envs.draws import uniform01
from jaxpa.runner import log_checkpoints, seed_keys

T, S = 150, 6
GREEDY = make_learner("greedy", "bt_ref")  # warm_start(greedy core): the registry's greedy
SMALL = dict(k=2, d=3, n_responses=4, n_users=5, n_prompts=2)


def jaxpa_draws(key, inst, n_seeds, horizon):
    """The draws jaxpa makes in every round, as a ``draws(t)`` callable for the NumPy reference:
    the round key fold_in(seed key, t) split in (context, learner, feedback) (runner.play_round);
    the learner key split by the warm-start wrapper in (rule, uniform, inner): the uniform action
    is the feedback model's ``uniform_action`` on the second, greedy's ``choose`` under bt_ref is
    ``random_argmax`` on the third (tie_u: its one float32 uniform); the Bernoulli answer is one
    float32 uniform of the feedback key (feedback_u)."""
    K = inst.n_responses
    fb = GREEDY.feedback

    def one(seed_key, t):
        k_ctx, k_act, k_fb = jax.random.split(jax.random.fold_in(seed_key, t), 3)
        ctx = draw_context(k_ctx, inst, t, jnp.int32(horizon))
        _, k_unif, k_inner = jax.random.split(k_act, 3)
        return dict(user=ctx.user, prompt=ctx.prompt, tie_u=uniform01(k_inner),
                    uniform_action=fb.uniform_action(k_unif, K, ctx.reference)[0],
                    feedback_u=uniform01(k_fb))

    rounds = jnp.arange(horizon, dtype=jnp.int32)
    table = jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))(seed_keys(key, n_seeds), rounds)
    table = {name: np.asarray(v) for name, v in table.items()}  # [S, T, ...]
    return lambda t: {name: v[:, t] for name, v in table.items()}


@pytest.fixture(scope="module")
def small():
    return standard_instance(jax.random.key(11), **SMALL)


@pytest.mark.parametrize("warm_start", [0, 20])
def test_numpy_reproduces_jaxpa_on_shared_draws(small, warm_start):
    hp = set_hparams(GREEDY.default_hparams(), ridge=2.0, warm_start=warm_start)
    key = jax.random.key(4)
    ours = simulate(key, small, "bt_ref", GREEDY, hp, horizon=T, n_seeds=S)
    draws = jaxpa_draws(key, small, S, T)
    regret, mistakes = simulate_numpy(as_numpy(small), horizon=T, n_seeds=S, ridge=2.0,
                                      warm_start=warm_start, checkpoints=ours.checkpoints,
                                      draws=draws)
    np.testing.assert_array_equal(mistakes, ours.mistakes)
    np.testing.assert_allclose(regret, ours.regret, rtol=1e-4, atol=1e-4)
    assert mistakes[:, -1].min() > 0  # the comparison is not vacuous


def test_per_seed_loop_equals_vectorized(small):
    ck = log_checkpoints(T)  # with repeated early rounds (both fill every slot of a round)
    assert len(np.unique(ck)) < len(ck)
    draws = jaxpa_draws(jax.random.key(5), small, 3, T)
    kw = dict(horizon=T, n_seeds=3, checkpoints=ck, ridge=1.0, warm_start=5, draws=draws)
    vec, loop = simulate_numpy(as_numpy(small), **kw), per_seed_loop(as_numpy(small), **kw)
    np.testing.assert_array_equal(vec[1], loop[1])
    np.testing.assert_allclose(vec[0], loop[0], rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(vec[1], axis=1) >= 0) and vec[1][:, -1].min() > 0


def test_numpy_stream_agrees_in_distribution(small):
    """Own random streams: final regret and mistakes of 300 seeds, two-sample tests."""
    n, horizon = 300, 100
    ours = simulate(jax.random.key(6), small, "bt_ref", GREEDY, horizon=horizon, n_seeds=n)
    regret, mistakes = simulate_numpy(as_numpy(small), horizon=horizon, n_seeds=n, seed=6,
                                      checkpoints=ours.checkpoints)
    for a, b in ((regret[:, -1], ours.regret[:, -1]), (mistakes[:, -1], ours.mistakes[:, -1])):
        assert stats.ks_2samp(a, np.asarray(b)).pvalue > 1e-3
        assert stats.ttest_ind(a, np.asarray(b), equal_var=False).pvalue > 1e-3
    # and it is not two copies of one stream
    assert not np.array_equal(mistakes[:, -1], ours.mistakes[:, -1])
