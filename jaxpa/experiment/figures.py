"""The standard figure of an experiment: per population, cumulative regret against log t on a log
regret axis (a curve that levels off reads flat, a log T curve bends up slowly, a linear one climbs
with slope one, whatever their sizes) and, below it, the learners on a linear regret axis (log T a
straight line, bounded regret flat). The panel helpers are in jaxpa/reporting.py."""
from __future__ import annotations

import numpy as np

from jaxpa.reporting import BASELINES, finish, pyplot, regret_panel


def _status(holds: np.ndarray, name: str) -> str:
    """"UD holds", "UD fails" or "UD holds on 3/8" for a [B] bool array of verdicts."""
    return (f"{name} holds" if holds.all() else f"{name} fails" if not holds.any()
            else f"{name} holds on {int(holds.sum())}/{holds.size}")


def regret_figure(results):
    """One panel per population (mean over its instances and seeds), the population's UD verdict
    in the title, and its robust-UD verdict where UD holds on every instance."""
    plt = pyplot()
    pops = list(results.populations)
    fig, axes = plt.subplots(2, len(pops), figsize=(5.6 * len(pops), 8.4), squeeze=False)
    for j, pop in enumerate(pops):
        p = results.populations[pop]
        ud = np.asarray(p.diagnostics.ud_holds)
        verdict = _status(ud, "UD")
        if ud.all():
            verdict += ", " + _status(np.asarray(p.diagnostics.robust_ud_holds), "robust UD")
        series = {lab: results.run(pop, lab).regret for lab in results.labels(pop)}
        ck = next(iter(results.runs.values())).checkpoints
        regret_panel(axes[0, j], ck, series, f"{pop}: {verdict}")
        # log-x, linear y: log T is a straight line, bounded regret flat; the learners only
        # (the baselines' linear regret would flatten everything else)
        learners = {k: v for k, v in series.items() if k not in BASELINES} or series
        regret_panel(axes[1, j], ck, learners, f"{pop}: learners, linear regret axis",
                     yscale="linear", legend=False)
    return finish(fig)
