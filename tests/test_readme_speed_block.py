"""The README's speed figure comes from its own code: ``benchmarks/key_impls.py`` finds the
README's timed block (the one after its marker), reads the size it states, and the block runs as
written (here at a small size, the same call)."""
import numpy as np

from benchmarks.key_impls import KEY_LINE, block_size, readme_block


def test_timed_block_is_found_and_runs():
    block = readme_block()
    assert KEY_LINE in block and "jaxpa.simulate(" in block
    seeds, horizon = block_size(block)
    assert (seeds, horizon) == (1_000, 2_000)  # the size the README's sentence reports
    small = block.replace("n_seeds=1_000", "n_seeds=4").replace("horizon=2_000", "horizon=60")
    assert small != block
    ns = {"__name__": "readme_block"}
    exec(compile(small, "README.md (timed block)", "exec"), ns)
    regret = np.asarray(ns["curves"].regret)
    assert regret.shape[0] == 4 and np.all(np.isfinite(regret)) and regret[:, -1].max() > 0
