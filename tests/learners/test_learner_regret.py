"""Non-personalized learners against their personalized twins (MODEL.md §4, §6).

- On an F1 instance (users disagree) no policy that ignores the user can do better, per round, than
  L = sum_x min_y sum_u nu_u rho(x|u) Delta_u(x, y) > 0 (computed here in NumPy from the instance):
  the *_pop learners' regret grows at least at rate L (linear), while their personalized twin's
  late rate is far below L.
- On an F2 instance (one unit head for everyone) z = h ⊗ phi is an isometric copy of phi, so a population
  model and a personalized one are the same learner: greedy_pop / ucb_pop replay greedy / ucb on
  the same random stream (up to float rounding), and ts_pop matches ts in distribution.
The full set of learners is in the slow tests; ``jaxpa compare`` shows them all on one plot.
"""
import numpy as np
import pytest
import jax

from jaxpa import Instance, make_learner, simulate

T, SEEDS = 400, 8


def population_regret_floor(inst) -> float:
    """L: the smallest expected per-round regret of a policy that sees the prompt, not the user."""
    phi, H, W = (np.asarray(a, np.float64) for a in (inst.features, inst.heads, inst.W))
    r = np.einsum("nk,kd,myd->nmy", H, W, phi) + np.einsum("d,myd->my", np.asarray(inst.shared),
                                                            phi)[None]
    gaps = r.max(-1, keepdims=True) - r
    weight = np.asarray(inst.user_probs)[:, None] * np.asarray(inst.prompt_probs)  # [N, M]
    return float(np.einsum("nm,nmy->my", weight, gaps).min(-1).sum())


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def f1():
    """F1's construction (heads spread over the circle, generic unit features), drawn directly."""
    rng = np.random.default_rng(11)
    return Instance.create(features=_unit(rng.normal(size=(6, 4, 3))),
                           reference=np.zeros(6, np.int32), heads=_unit(rng.normal(size=(6, 2))),
                           W=2.0 / np.sqrt(2) * rng.normal(size=(2, 3)))


@pytest.fixture(scope="module")
def f2():
    """F2's construction (one unit head for all users, one prompt, K = d + 2), drawn directly."""
    rng = np.random.default_rng(12)
    return Instance.create(features=_unit(rng.normal(size=(1, 6, 4))),
                           reference=np.zeros(1, np.int32),
                           heads=np.tile(_unit(rng.normal(size=2)), (4, 1)),
                           W=2.0 / np.sqrt(2) * rng.normal(size=(2, 4)))


def run(inst, name):
    c = simulate(jax.random.key(0), inst, "bt_ref", make_learner(name, "bt_ref"), horizon=T,
                 n_seeds=SEEDS)
    assert np.all(c.nonfinite_at == 0)
    return np.asarray(c.checkpoints), np.asarray(c.regret, np.float64)


def late_rate(checkpoints, regret):
    """Mean regret per round over [T/2, T] (over seeds)."""
    half = int(np.searchsorted(checkpoints, T // 2))
    return float(np.mean(regret[:, -1] - regret[:, half]) / (T - checkpoints[half]))


@pytest.mark.parametrize("name", ["ucb_pop",
                                  pytest.param("greedy_pop", marks=pytest.mark.slow),
                                  pytest.param("ts_pop", marks=pytest.mark.slow)])
def test_population_learner_is_linear_on_f1(f1, name):
    floor = population_regret_floor(f1)
    assert floor > 0.05  # F1's users disagree
    ck, regret = run(f1, name)
    # every round costs >= L in expectation; 0.85 leaves room for the sampling noise of 8 seeds
    assert regret[:, -1].mean() / T > 0.85 * floor
    assert late_rate(ck, regret) > 0.85 * floor
    ck, twin = run(f1, name.removesuffix("_pop"))
    assert late_rate(ck, twin) < 0.25 * floor


@pytest.mark.parametrize("name", ["ucb", pytest.param("greedy", marks=pytest.mark.slow)])
def test_population_twin_replays_personalized_on_f2(f2, name):
    _, personal = run(f2, name)
    _, pop = run(f2, f"{name}_pop")
    agree = np.all(np.isclose(personal, pop, rtol=1e-3, atol=1e-3), axis=1)
    assert agree.mean() >= 0.75  # a float near-tie may fork a seed, rarely
    np.testing.assert_allclose(pop[:, -1].mean(), personal[:, -1].mean(), rtol=0.1)


@pytest.mark.slow
def test_ts_population_twin_matches_in_distribution_on_f2(f2):
    _, personal = run(f2, "ts")
    _, pop = run(f2, "ts_pop")
    a, b = personal[:, -1], pop[:, -1]
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se + 0.05 * a.mean()
