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
jaxpa.fast_cpu_random()
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
