"""docs/extending.md runs: every ``python`` block, in order, in one namespace (so none can go
stale), and examples/custom_learner.py is its example block verbatim. What the blocks build is
checked here: the custom learner beats uniform play; the custom feedback model's likelihood terms
agree with autodiff of its own negative log-likelihood and greedy learns under it; each reward
model (NNX, linen, pure apply) runs through ``simulate`` (vmapped over seeds, and over learning
rates for the pure one) with finite, healthy curves well below uniform play's, and a second call
with new values does not recompile."""
import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from jaxpa import set_hparams, simulate
from jaxpa.runner.simulate import MAX_PROGRAMS, compiled_program

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
MARKER = "<!-- example: examples/custom_learner.py -->"


def python_blocks() -> list[str]:
    """Every fenced python block of docs/extending.md, in order."""
    return re.findall(r"^```python\n(.*?)\n```$", DOC.read_text(), re.S | re.M)


def example_code() -> str:
    """The fenced python block right after the marker in docs/extending.md."""
    doc = DOC.read_text()
    assert doc.count(MARKER) == 1
    match = re.match(r"\s*```python\n(.*?)\n```", doc.split(MARKER, 1)[1], re.S)
    assert match, "no python block after the example marker"
    return match.group(1)


@pytest.fixture(scope="module")
def doc():
    """The namespace after running every python block of the page, with what it printed."""
    blocks = python_blocks()
    assert len(blocks) >= 5 and example_code() in blocks
    ns, printed = {"__name__": "docs_example"}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/extending.md (python block {i + 1})", "exec"), ns)
    ns["printed"] = printed.getvalue()
    return ns


def _cumulative_and_finite(curves):
    regret = np.asarray(curves.regret)
    assert np.all(np.isfinite(regret)) and np.all(np.asarray(curves.nonfinite_at) == 0)
    assert np.all(np.diff(regret, axis=-1) >= -1e-4)


def test_example_file_is_the_docs_block():
    assert example_code() in (ROOT / "examples" / "custom_learner.py").read_text(), \
        "examples/custom_learner.py differs from the docs"


def test_custom_learner_beats_uniform(doc):
    curves, baseline, sweep = doc["curves"], doc["baseline"], doc["sweep"]
    C = curves.checkpoints.shape[0]
    assert curves.regret.shape == baseline.regret.shape == (16, C)
    assert sweep.regret.shape == (4, 16, C)
    for c in (curves, baseline, sweep):
        _cumulative_and_finite(c)
    ours, uniform = float(curves.regret[:, -1].mean()), float(baseline.regret[:, -1].mean())
    assert ours < 0.5 * uniform
    assert np.all(sweep.regret[:, :, -1].mean(-1) < 0.5 * uniform)
    assert "R(400): per-user learner" in doc["printed"]


def test_custom_feedback_model(doc):
    """Thurstone's terms against autodiff of its nll, its Fisher information against the
    expected observed curvature, its sampler against its mean; greedy learns under it."""
    probit = doc["probit"]
    assert probit.label == "thurstone[scale=0.5]" and "UD holds: True" in doc["printed"]
    nll_grad = jax.grad(probit.nll, argnums=1)
    for obs in (0.0, 1.0):
        for m in (-6.0, -1.0, 0.0, 0.4, 3.0):
            o, mm = jnp.float32(obs), jnp.float32(m)
            a, h = probit.index_terms(o, mm)
            assert float(a) == pytest.approx(-float(nll_grad(o, mm)), rel=1e-4, abs=1e-6)
            assert float(h) == pytest.approx(float(jax.grad(nll_grad, argnums=1)(o, mm)),
                                             rel=1e-3, abs=1e-6)
    for m in (-2.0, 0.0, 0.7):
        p = float(probit.mean(jnp.float32(m)))
        expected = sum(q * float(probit.index_terms(jnp.float32(o), jnp.float32(m))[1])
                       for o, q in ((1.0, p), (0.0, 1 - p)))
        assert float(probit.fisher(jnp.float32(m))) == pytest.approx(expected, rel=1e-4)
        keys = jax.random.split(jax.random.key(0), 20_000)
        draws = jax.vmap(lambda k: probit.sample_index(k, jnp.float32(m)))(keys)
        assert float(draws.mean()) == pytest.approx(p, abs=0.015)  # 4.5 standard errors
    greedy, uniform = doc["greedy_probit"], doc["uniform_probit"]
    _cumulative_and_finite(greedy)
    assert float(greedy.regret[:, -1].mean()) < 0.3 * float(uniform.regret[:, -1].mean())


@pytest.mark.parametrize("kind", ["nnx", "linen", "pure"])
def test_bring_your_own_model_runs_through_simulate(doc, kind):
    """Each kind of model runs vmapped over 16 seeds (and 2 learning rates for the pure one):
    finite, healthy, well below uniform play on the same users, prompts and noise; a second call
    with a new key and new learning rates of the same shape reuses the compiled program."""
    learner, hp, curves = doc[f"{kind}_learner"], doc[f"{kind}_hp"], doc[f"{kind}_curves"]
    uniform = float(doc["baseline"].regret[:, -1].mean())
    n_rates = 2 if kind == "pure" else None
    assert curves.regret.shape[:-1] == ((n_rates, 16) if n_rates else (16,))
    _cumulative_and_finite(curves)
    assert np.all(np.asarray(curves.regret[..., -1]).mean(-1) < 0.5 * uniform)
    assert learner.name.startswith("neural[")

    lr = np.asarray(hp.learning_rate)

    def run(key, scale):  # the page's call with the learning rates scaled, as float32 arrays
        return simulate(key, doc["inst"], doc["feedback"], learner,
                        set_hparams(hp, learning_rate=jnp.asarray(scale * lr, jnp.float32)),
                        horizon=400, n_seeds=16)

    if compiled_program._cache_size() >= MAX_PROGRAMS:  # the runner is about to drop its cache
        compiled_program.clear_cache()
    first = run(jax.random.key(42), 1.0)  # the page's key and rates: compiled here if need be
    np.testing.assert_allclose(first.regret, curves.regret, rtol=1e-5, atol=1e-5)
    size = compiled_program._cache_size()
    again = run(jax.random.key(7), 0.5)
    assert compiled_program._cache_size() == size
    _cumulative_and_finite(again)
    assert not np.allclose(again.regret, curves.regret)  # the new values reached the run


def test_readme_api_block_runs():
    """The README's "API in 15 lines" block runs as printed and builds what its comments say."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## The API in 15 lines\n.*?^```python\n(.*?)\n```$", readme, re.S | re.M)
    assert match, "README has no API block"
    ns, printed = {"__name__": "readme_api"}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(match.group(1), "README.md (API block)", "exec"), ns)
    first, batch = ns["sweep_curves"], ns["curves"]
    C = first.checkpoints.shape[0]
    assert first.regret.shape == (3, 100, C) and batch.regret.shape[:2] == (8, 50)
    for c in (first, batch):
        _cumulative_and_finite(c)
    assert f"(3, 100, {C})" in printed.getvalue()
