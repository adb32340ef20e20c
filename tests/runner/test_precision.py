"""float64 mode (jax_enable_x64) gives the same curves as float32 within a stated tolerance.

The same keys drive both runs and every random draw is float32 whatever the precision
(envs/draws.py), so the two differ in rounding only: greedy's per-seed paths agree except where
a near-tie lands on the other side, and its mean curve must agree within 5% of uniform play's
expected regret (the scale of the plot, in closed form) at every checkpoint, over 1000 rounds.
(The random stream of every learner, and round-by-round actions over a short horizon:
tests/runner/test_runner_x64.py.) The instances go to the float64 process as files, so it draws
nothing itself."""
import numpy as np
import pytest
import jax

from jaxpa import gaps, make_learner, simulate
from jaxpa.envs.io import save_instance
from tests.helpers import run_python, tiny_f1, tiny_f2

T, S = 1000, 32
LEARNERS = ("greedy",)

SCRIPT = r"""
import json, os
import jax, jax.numpy as jnp
import jaxpa
from jaxpa.envs.io import load_instance
assert jax.config.jax_enable_x64
out = {}
for fam in ("f1", "f2"):
    inst = load_instance(os.path.join(os.environ["INSTANCES"], fam + ".npz"), dtype=jnp.float64)
    for name in LEARNERS:
        c = jaxpa.simulate(jax.random.key(1), inst, "bt_ref", jaxpa.make_learner(name, "bt_ref"),
                           horizon=T, n_seeds=S)
        assert c.regret.dtype == jnp.float64, c.regret.dtype
        out[f"{fam}/{name}"] = {"regret": c.regret.tolist(), "mistakes": c.mistakes.tolist()}
print("RESULT " + json.dumps(out))
""".replace("LEARNERS", repr(LEARNERS)).replace("horizon=T", f"horizon={T}").replace(
    "n_seeds=S", f"n_seeds={S}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instances")
    f32 = {}
    for fam, inst in (("f1", tiny_f1()), ("f2", tiny_f2())):
        save_instance(folder / f"{fam}.npz", inst)
        for name in LEARNERS:
            c = simulate(jax.random.key(1), inst, "bt_ref", make_learner(name, "bt_ref"),
                         horizon=T, n_seeds=S)
            assert c.regret.dtype == np.float32
            f32[f"{fam}/{name}"] = {"regret": c.regret, "mistakes": c.mistakes,
                                    "checkpoints": c.checkpoints}
    f64 = run_python(SCRIPT, env={"JAX_ENABLE_X64": "1", "INSTANCES": str(folder)})
    return f32, {k: {n: np.asarray(v) for n, v in d.items()} for k, d in f64.items()}


def _uniform_scale(inst, checkpoints):
    """E[R_t] of uniform play: t sum_u nu_u sum_x rho(x|u) mean_y Delta_u(x, y)."""
    per_round = np.einsum("n,nm,nm->", np.asarray(inst.user_probs, np.float64),
                          np.asarray(inst.prompt_probs), np.asarray(gaps(inst)).mean(-1))
    return per_round * np.asarray(checkpoints, np.float64)


@pytest.mark.parametrize("fam", ["f1", "f2"])
def test_float64_matches_float32(runs, fam):
    f32, f64 = runs
    r32, r64 = f32[f"{fam}/greedy"]["regret"], f64[f"{fam}/greedy"]["regret"]
    assert r32.shape == r64.shape == (S, len(f32[f"{fam}/greedy"]["checkpoints"]))
    scale = _uniform_scale(tiny_f1() if fam == "f1" else tiny_f2(),
                           f32[f"{fam}/greedy"]["checkpoints"])
    assert scale[-1] > 1.0  # the tolerance's scale is not 0
    g32, g64 = r32.mean(0), r64.mean(0)
    assert np.all(np.abs(g64 - g32) <= 0.05 * scale + 1e-3), np.abs(g64 - g32).max()
    # most seeds follow the same path to the end
    assert np.mean(np.all(f32[f"{fam}/greedy"]["mistakes"] == f64[f"{fam}/greedy"]["mistakes"],
                          axis=-1)) >= 0.75


# ----------------------------------------------------------------------------- matmul precision
# GPUs compute float32 products in TF32 by default; jaxpa's compiled programs are traced under
# full precision (jaxpa/envs/precision.py). Checked on the CPU on the lowered programs: every
# dot_general of every learner's runner program, the diagnostics, the offline and data fits and
# the instance draws carries precision HIGHEST, and importing or running jaxpa leaves JAX's own
# setting alone.
import re  # noqa: E402

import jax.numpy as jnp  # noqa: E402

import jaxpa  # noqa: E402
from jaxpa.learners.hparams import check_hparams  # noqa: E402
from jaxpa.learners.registry import LEARNERS  # noqa: E402

DOT = re.compile(r"stablehlo\.dot(?:_general)?\b[^\n]*")


def dot_lines(lowered) -> list[str]:
    return DOT.findall(lowered.as_text())


def assert_all_highest(lowered, at_least: int = 1):
    dots = dot_lines(lowered)
    assert len(dots) >= at_least, "no matrix product found: the check would pass vacuously"
    bad = [d for d in dots if "precision = [HIGHEST, HIGHEST]" not in d]
    assert not bad, f"{len(bad)} of {len(dots)} products without HIGHEST, e.g. {bad[0][:160]}"


def test_the_check_sees_default_precision():
    """The pattern the tests use detects a product at JAX's default precision."""
    f = jax.jit(lambda a, b: a @ b)
    lowered = f.lower(jnp.ones((3, 3)), jnp.ones((3, 3)))
    assert len(dot_lines(lowered)) == 1
    with pytest.raises(AssertionError, match="without HIGHEST"):
        assert_all_highest(lowered)


def _runner_lowered(name: str, feedback: str):
    from jaxpa.runner.simulate import compiled_program, log_checkpoints, seed_keys
    fb = jaxpa.make_feedback(feedback)
    learner = jaxpa.make_learner(name, fb)
    hp, _ = check_hparams(learner.name, learner.default_hparams())
    ck = log_checkpoints(100, 8)
    return compiled_program.lower(fb, (learner,), ck.shape[0], False, (False,), True,
                                  seed_keys(jax.random.key(0), 2), tiny_f1(), (hp,), ck,
                                  np.int32(100), np.int32(100), None)


# one learner per core (the wrappers and *_pop twins reuse these cores' products)
CORES = ("greedy", "ucb", "ts", "unknown_heads", "neural")


def test_cores_cover_the_registry():
    assert set(CORES) <= set(LEARNERS)


@pytest.mark.parametrize("name", CORES)
def test_runner_products_at_full_precision(name):
    assert_all_highest(_runner_lowered(name, "bt_ref"), at_least=2)


@pytest.mark.parametrize("feedback", ["scalar", "bt_duel", "mnl"])
def test_runner_products_at_full_precision_every_feedback(feedback):
    assert_all_highest(_runner_lowered("ucb", feedback), at_least=2)


def test_diagnostics_fits_and_draws_at_full_precision():
    from jaxpa.diagnostics.instance_diagnostics import _diagnose
    from jaxpa.envs.families import _jitted
    from jaxpa.offline.mle import _ridge_mle
    from jaxpa.data.fit import ChoiceData, newton_fit
    inst = tiny_f1()
    assert_all_highest(_diagnose.lower(inst, 1e-5, jaxpa.make_feedback("bt_ref"), "personalized"))
    X, y = jnp.ones((6, 3)), jnp.ones((6,))
    assert_all_highest(_ridge_mle.lower(X, y, y, 1.0, feedback=jaxpa.make_feedback("bt_ref"),
                                        n_iter=3))
    data = ChoiceData(features=jnp.ones((5, 3, 2)), available=jnp.ones((5, 3), bool),
                      choice=jnp.zeros((5,), jnp.int32), weight=jnp.ones((5,)))
    assert_all_highest(newton_fit.lower(data, jnp.zeros(2), jnp.eye(2), n_iter=2))
    draw = _jitted("f1", (("d", 2), ("k", 2), ("n_prompts", 2), ("n_responses", 3),
                          ("n_users", 3)), ())
    assert_all_highest(draw.lower(jax.random.split(jax.random.key(0), 8), ()))


def test_jax_default_precision_left_alone():
    """Running jaxpa's programs does not change JAX's setting, nor a product of the caller's."""
    assert jax.config.jax_default_matmul_precision is None
    jaxpa.simulate(jax.random.key(0), tiny_f1(), "bt_ref", jaxpa.make_learner("greedy", "bt_ref"),
                   horizon=5, n_seeds=2)
    assert jax.config.jax_default_matmul_precision is None
    lowered = jax.jit(lambda a: a @ a).lower(jnp.ones((2, 2)))
    assert all("HIGHEST" not in d for d in dot_lines(lowered))


def test_cpu_results_unchanged_by_full_precision():
    """On the CPU float32 products are exact-rounded either way: a run traced at JAX's default
    precision gives bit for bit the runner's curves (the claim of envs/precision.py)."""
    import importlib
    sim = importlib.import_module("jaxpa.runner.simulate")
    if jax.default_backend() != "cpu":
        pytest.skip("a CPU property")
    plain = jax.jit(sim._programs, static_argnums=(0, 1, 2, 3, 4, 5))
    lowered = _runner_lowered("ucb", "bt_ref")
    assert all("HIGHEST" in d for d in dot_lines(lowered))
    fb = jaxpa.make_feedback("bt_ref")
    learner = jaxpa.make_learner("ucb", fb)
    hp, _ = check_hparams(learner.name, learner.default_hparams())
    ck = sim.log_checkpoints(300, 8)
    args = (fb, (learner,), ck.shape[0], False, (False,), False,
            sim.seed_keys(jax.random.key(0), 4),
            tiny_f1(), (hp,), ck, np.int32(300), np.int32(300), None)
    a, b = sim.compiled_program(*args)[0], plain(*args)[0]
    np.testing.assert_array_equal(np.asarray(a.curve_regret), np.asarray(b.curve_regret))
    np.testing.assert_array_equal(np.asarray(a.state.V_inv), np.asarray(b.state.V_inv))
