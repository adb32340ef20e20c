"""float64 mode (jax_enable_x64) gives the same curves as float32 within a stated tolerance.

The same keys drive both runs; the two precisions differ in rounding only, so uniform and oracle
curves agree to float32 rounding, and greedy's per-seed paths agree except where a near-tie or a
Bernoulli draw lands on the other side; its mean curve must agree within 5% of uniform's regret
(the scale of the plot) at every checkpoint.
"""
import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp
import jaxpa
dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
out = {}
for fam in ("f1", "f2"):
    inst = jaxpa.make_family(fam, jax.random.key(0))
    inst = jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x,
                        inst)
    for name in ("greedy", "uniform", "oracle"):
        c = jaxpa.simulate(jax.random.key(1), inst, jaxpa.make_learner(name, "bt_ref"),
                           horizon=1000, n_seeds=32)
        assert c.regret.dtype == dtype, c.regret.dtype
        out[f"{fam}/{name}"] = c.regret.mean(0).tolist()
json.dump(out, sys.stdout)
"""


def _run(x64: bool) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_ENABLE_X64="1" if x64 else "0")
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    return {k: np.asarray(v) for k, v in json.loads(res.stdout).items()}


def test_float64_matches_float32():
    f32, f64 = _run(False), _run(True)
    for fam in ("f1", "f2"):
        np.testing.assert_allclose(f64[f"{fam}/uniform"], f32[f"{fam}/uniform"], rtol=1e-4)
        assert np.all(f64[f"{fam}/oracle"] == 0) and np.all(f32[f"{fam}/oracle"] == 0)
        scale = f32[f"{fam}/uniform"]
        assert np.all(np.abs(f64[f"{fam}/greedy"] - f32[f"{fam}/greedy"]) <= 0.05 * scale + 1e-3)
