"""Small instances shared by the tests (built once, tiny, so compilation stays cheap), and a
runner for the checks that need a fresh Python process."""
import functools
import json
import os
import subprocess
import sys

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa import Instance, make_family

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def tiny_f1() -> Instance:
    return make_family("f1", jax.random.key(7), n_users=3, k=2, d=2, n_responses=3, n_prompts=2)


@functools.lru_cache(maxsize=None)
def tiny_f2() -> Instance:
    return make_family("f2", jax.random.key(8), n_users=2, k=2, d=2, n_responses=3)


def hand_instance(**overrides) -> dict:
    """Arguments of a small valid instance as NumPy arrays (M=2, K=3, d=2, N=2, k=2)."""
    rng = np.random.default_rng(0)
    args = dict(features=rng.normal(size=(2, 3, 2)).astype(np.float32),
                reference=np.zeros(2, np.int32),
                heads=rng.normal(size=(2, 2)).astype(np.float32),
                W=rng.normal(size=(2, 2)).astype(np.float32),
                user_probs=np.array([0.5, 0.5], np.float32),
                prompt_probs=np.full((2, 2), 0.5, np.float32),
                shared=np.zeros(2, np.float32))
    args.update(overrides)
    return args


def as_instance(args: dict) -> Instance:
    """An Instance from raw arrays, with no conversion (so bad dtypes reach validation)."""
    return Instance(**{k: jnp.asarray(v) for k, v in args.items()})


def stack(*instances: Instance) -> Instance:
    """A batch of instances: every leaf stacked along a new leading [B] axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *instances)


@functools.lru_cache(maxsize=None)
def contract_instance() -> Instance:
    """The contract tests' instance: 3 prompts, 5 unit-norm responses, d = 3, 4 users, k = 2."""
    rng = np.random.default_rng(0)
    f = rng.normal(size=(3, 5, 3))
    return Instance.create(features=f / np.linalg.norm(f, axis=-1, keepdims=True),
                           reference=np.array([0, 2, 4], np.int32), heads=rng.normal(size=(4, 2)),
                           W=rng.normal(size=(2, 3)))


def run_python(script: str, *, env: dict | None = None, timeout: int = 600) -> dict:
    """Run ``script`` in a fresh interpreter (the repository on its path, the test process's
    environment plus ``env``) and return the JSON object it printed on its last line starting
    with ``RESULT ``."""
    full_env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, **(env or {}))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


# ---- learners with a known behaviour, for the runner's tests ---------------------------------

FAULT_SPAN = 60  # the fault round k_s of faulty_learner is uniform on [0, FAULT_SPAN)


def fault_hparams_class():
    from flax import struct
    from jaxpa.learners.hparams import hparam

    @struct.dataclass
    class FaultHParams:
        """shift: the fault comes ``shift`` rounds after the drawn round; kind: 0 NaN, 1 +inf,
        2 -inf."""

        shift: jax.Array = hparam("int", low=0)
        kind: jax.Array = hparam("int", low=0, high=2)

    return FaultHParams


FaultHParams = fault_hparams_class()


@functools.lru_cache(maxsize=None)
def faulty_learner(feedback="bt_ref"):
    """A learner whose state turns non-finite for exactly one round: at init it draws k_s uniform
    on [0, FAULT_SPAN) from its init key; the update of round t = k_s + shift (0-based) writes a
    NaN (or an infinity) into its state and the next update clears it. So the runner's health flag
    must read k_s + shift + 1 when that round is played, 0 otherwise. It acts by its (NaN-able)
    scores, so after the fault it still plays valid actions."""
    from jaxpa import Learner, make_feedback
    feedback = make_feedback(feedback)

    def init(key, inst, hparams):
        k = jax.random.randint(key, (), 0, FAULT_SPAN, dtype=jnp.int32)
        return k, jnp.zeros((), inst.features.dtype)

    def act(key, state, ctx, hparams):
        return feedback.choose(key, jnp.zeros(ctx.features.shape[0], ctx.features.dtype)
                               + state[1], ctx.reference)

    def update(state, ctx, action, obs, hparams):
        k, v = state
        bad = jnp.array([jnp.nan, jnp.inf, -jnp.inf], v.dtype)[hparams.kind]
        fault = k + hparams.shift
        v = jnp.where(ctx.t == fault, bad, jnp.where(ctx.t == fault + 1, jnp.zeros_like(v), v))
        return k, v

    return Learner("faulty", feedback, init, act, update,
                   lambda: FaultHParams(shift=jnp.int32(0), kind=jnp.int32(0)))


def expected_fault_rounds(key, n_seeds: int, horizon: int, shift: int = 0) -> np.ndarray:
    """What ``nonfinite_at`` must read for faulty_learner: [n_seeds] int (seed s initialises with
    fold_in(fold_in(key, s), 2^31 - 1))."""
    out = []
    for s in range(n_seeds):
        init_key = jax.random.fold_in(jax.random.fold_in(key, s), 2**31 - 1)
        k = int(jax.random.randint(init_key, (), 0, FAULT_SPAN, dtype=jnp.int32)) + shift
        out.append(k + 1 if k < horizon else 0)
    return np.array(out)


def assert_in_matched_windows(diag, insts) -> None:
    """A matched family's windows on every draw (envs/matched.py): Delta_min in [0.2, 0.8], the
    BT slope kappa in [0.1, 0.25] (and Diagnostics.kappa equal to it), y* never the reference."""
    from jaxpa.envs.instance import optimal_responses
    from jaxpa.envs.matched import optimal_play_kappa
    g = np.asarray(diag.min_gap)
    assert np.all((g >= 0.2) & (g <= 0.8))
    kap = np.asarray(jax.vmap(optimal_play_kappa)(insts))
    assert np.all((kap >= 0.1) & (kap <= 0.25))
    np.testing.assert_allclose(np.asarray(diag.kappa), kap, rtol=1e-5)
    assert np.all(np.asarray(jax.vmap(lambda i: jnp.mean(optimal_responses(i) == 0))(insts)) == 0)
