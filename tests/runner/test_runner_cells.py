"""Last-half cell tracking (``simulate(..., track_cells=True)``, runner/cells.py) and the lock-in
statistics built on it (diagnostics/curve_stats.py: lock_in), on a hand-made instance whose
optimal responses are known: a learner that always serves response y locks exactly the visited
cells where y is suboptimal; the oracle locks none; uniform play never repeats one response
long enough to lock. Under sweeps, instance batches and chunking alike."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from flax import struct

from jaxpa import Instance, Learner, gaps, make_feedback, make_learner, simulate
from jaxpa.diagnostics.curve_stats import lock_in
from jaxpa.learners import keep_state
from jaxpa.learners.hparams import hparam
from tests.helpers import stack

T, S = 60, 4
KEY = jax.random.key(31)


def hand_instance() -> Instance:
    """Users 0, 1 with heads e_0, e_1; prompt 0 shows responses as e_0, e_1, e_2, prompt 1 as
    e_2, e_0, e_1. Rewards r_u(x, .): user 0: (0, 1, .5) and (.5, 0, 1); user 1: (1, 0, .5) and
    (.5, 1, 0). So y* = [[1, 2], [0, 1]], and response 1 is optimal at (0, 0) and (1, 1) only."""
    eye = np.eye(3)
    return Instance.create(features=np.stack([eye, eye[[2, 0, 1]]]), reference=[0, 0],
                           heads=[[1.0, 0.0], [0.0, 1.0]],
                           W=[[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])


@struct.dataclass
class FixedHParams:
    response: jax.Array = hparam("int", low=0)


def fixed(feedback="bt_ref") -> Learner:
    """Serves the response ``hparams.response`` every round."""
    fb = make_feedback(feedback)

    def act(key, state, ctx, hparams):
        return jnp.full((fb.n_actions,), hparams.response, jnp.int32)

    return Learner("fixed", fb, lambda key, inst, hparams: (), act, keep_state,
                   lambda: FixedHParams(response=jnp.int32(0)))


FIXED = fixed()


def test_the_hand_instance_is_what_the_docstring_says():
    inst = hand_instance()
    np.testing.assert_array_equal(np.argmax(np.asarray(gaps(inst)) == 0, -1), [[1, 2], [0, 1]])


@pytest.fixture(scope="module")
def swept():
    """The fixed learner serving 0, 1 and 2: [H = 3, S, ...]."""
    return simulate(KEY, hand_instance(), "bt_ref", FIXED,
                    FIXED.default_hparams().replace(response=jnp.array([0, 1, 2])),
                    horizon=T, n_seeds=S, track_cells=True)


def test_tracker_counts_the_last_half(swept):
    cells = swept.cells
    assert cells.plays.shape == (3, S, 2, 2)
    np.testing.assert_array_equal(cells.plays.sum((-2, -1)), T - T // 2)
    visited = cells.plays > 0
    for y in range(3):
        np.testing.assert_array_equal(cells.first[y], np.where(visited[y], y, -1))
    assert not cells.mixed.any()


def test_fixed_response_locks_exactly_its_suboptimal_cells(swept):
    g = np.asarray(gaps(hand_instance()))                                  # [N, M, K]
    stats = lock_in(swept.cells, hand_instance())
    plays = swept.cells.plays
    for y in range(3):
        expected = (plays[y] >= 5) & (g[None, :, :, y] > 0)
        np.testing.assert_array_equal(stats["locked"][y], expected)
        visited = (plays[y] >= 5).sum()
        np.testing.assert_allclose(stats["cell_fraction"][y], expected.sum() / visited)
        np.testing.assert_allclose(stats["seed_any"][y], expected.any((-2, -1)).mean())
        np.testing.assert_allclose(stats["user_any"][y], expected.any(-1).mean(0))
    # response 1 is optimal at (0, 0) and (1, 1): exactly the off-diagonal cells lock
    assert not stats["locked"][1][:, [0, 1], [0, 1]].any()
    assert stats["locked"][1][:, [0, 1], [1, 0]].any()
    assert stats["cell_fraction"][1] < 1 and stats["seed_any"][1] == 1


def test_min_plays_is_respected(swept):
    plays = swept.cells.plays[1]
    strict = lock_in(swept.cells, hand_instance(), min_plays=int(plays.max()) + 1)
    assert not strict["locked"].any()


@pytest.mark.parametrize("name", ["oracle", "uniform"])
def test_oracle_and_uniform_lock_nothing(name):
    learner = make_learner(name, "bt_ref")
    c = simulate(KEY, hand_instance(), "bt_ref", learner, horizon=T, n_seeds=S, track_cells=True)
    stats = lock_in(c.cells, hand_instance())
    assert not stats["locked"].any() and np.all(stats["cell_fraction"] == 0)
    visited = c.cells.plays > 0
    if name == "oracle":  # always y*: one response per cell, the optimal one
        y_star = np.array([[1, 2], [0, 1]])
        np.testing.assert_array_equal(c.cells.first, np.where(visited, y_star, -1))
        assert not c.cells.mixed.any()
    else:  # uniform play serves several responses in a cell visited many times
        assert c.cells.mixed[c.cells.plays >= 10].mean() > 0.9


def test_cells_in_a_batch_of_instances_and_in_chunks(swept):
    """Instance 1 swaps the users' heads, so its locked cells are instance 0's mirrored; lock_in
    reads each instance's own gaps. Chunked runs track the same cells."""
    a = hand_instance()
    b = a.replace(heads=a.heads[::-1])
    hp = FIXED.default_hparams().replace(response=jnp.array([0, 1, 2]))
    c = simulate(KEY, stack(a, b), "bt_ref", FIXED, hp, horizon=T, n_seeds=S, track_cells=True)
    assert c.cells.plays.shape == (2, 3, S, 2, 2)
    stats = lock_in(c.cells, stack(a, b))
    for i, inst in enumerate((a, b)):
        g = np.asarray(gaps(inst))
        for y in range(3):
            expected = (c.cells.plays[i, y] >= 5) & (g[None, :, :, y] > 0)
            np.testing.assert_array_equal(stats["locked"][i, y], expected)
    # the same draws of users and prompts: instance 0 equals the unbatched run
    np.testing.assert_array_equal(c.cells.plays[0], swept.cells.plays)
    chunked = simulate(KEY, hand_instance(), "bt_ref", FIXED, hp, horizon=T, n_seeds=S,
                       track_cells=True, chunk=T // 3 + 1)
    for name in ("plays", "first", "mixed"):
        np.testing.assert_array_equal(getattr(chunked.cells, name), getattr(swept.cells, name))


def test_cells_off_by_default(swept):
    c = simulate(KEY, hand_instance(), "bt_ref", FIXED, horizon=T, n_seeds=S)
    assert c.cells is None
    np.testing.assert_array_equal(c.regret, swept.regret[0])  # tracking changes no number
