"""Standard figures of experiments: cumulative regret against log t, on a log regret axis, so a
curve that levels off reads flat, a log T curve bends up slowly and a linear one climbs with slope
one, whatever their sizes (uniform play, far above the others, no longer sets a linear axis that
flattens everything below it)."""
from __future__ import annotations

import numpy as np

BASELINES = ("uniform", "oracle")


def pyplot():
    """matplotlib.pyplot on the Agg backend (figures are written as PNG, never shown)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def finish(fig, tight: bool = True):
    """Lighter minor ticks on every log axis, then ``tight_layout`` (unless the caller set its own
    margins). matplotlib's minor log ticks (eight a decade, each a tick object with its labels)
    took about two thirds of the time spent laying out and drawing a figure: an axis spanning
    more than a decade and a half keeps its decade ticks only, a shorter one gets minor ticks at
    2 and 5 (so it still has labelled ticks)."""
    from matplotlib.ticker import LogLocator, NullLocator
    for ax in fig.axes:
        for axis, scale, (lo, hi) in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()),
                                      (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
            if scale == "log":
                long = min(lo, hi) > 0 and max(lo, hi) / min(lo, hi) > 30
                axis.set_minor_locator(NullLocator() if long else LogLocator(subs=(2, 5)))
    if tight:
        fig.tight_layout()
    return fig


def mean_band(curves: np.ndarray, z: float = 1.96):
    """Mean over every leading axis of [..., C] curves and the half-width of a normal 95% band."""
    x = np.asarray(curves, np.float64).reshape(-1, curves.shape[-1])
    n = x.shape[0]
    sd = x.std(0, ddof=1) if n > 1 else np.zeros(x.shape[1])
    return x.mean(0), z * sd / np.sqrt(n)


def regret_panel(ax, checkpoints, series: dict, title: str = "", yscale: str = "log",
                 legend: bool = True) -> None:
    """Mean R(t) with 95% bands against log t; ``series``: label -> [..., C] curves. yscale "log"
    (log-log: polynomial growth is a line) or "linear" (log-x, linear y: c·log T is a straight
    line and bounded regret a flat one, the two the claims tell apart). Baselines (uniform,
    oracle) are drawn grey and dashed; on a log y axis curves that stay at 0 (the oracle) are
    named in the legend but cannot be drawn."""
    t = np.asarray(checkpoints, np.float64)
    log_y = yscale == "log"
    zero = []
    color = iter(f"C{i}" for i in range(100))
    for label, curves in series.items():
        m, h = mean_band(curves)
        base = label in BASELINES
        c = "0.55" if base else next(color)
        if log_y and not np.any(m > 0):
            zero.append(label)
            continue
        keep = m > 0 if log_y else np.ones_like(m, bool)
        lo = np.maximum(m - h, m * 0.05) if log_y else m - h
        ax.plot(t[keep], m[keep], color=c, ls="--" if base else "-", lw=1.2 if base else 1.8,
                label=label)
        ax.fill_between(t[keep], lo[keep], (m + h)[keep], color=c, alpha=0.15)
    if zero:
        ax.plot([], [], " ", label=f"{', '.join(zero)}: R(t) = 0")
    ax.set(xscale="log", yscale=yscale, xlabel="round t (log scale)",
           ylabel="cumulative regret R(t)" + (" (log scale)" if log_y else ""), title=title)
    ax.grid(alpha=0.3, which="both")
    if legend:
        ax.legend(fontsize=8)


def regret_figure(results):
    """One panel per population (mean over its instances and seeds), the population's UD verdict
    in the title."""
    plt = pyplot()
    pops = list(results.populations)
    fig, axes = plt.subplots(2, len(pops), figsize=(5.6 * len(pops), 8.4), squeeze=False)
    for j, pop in enumerate(pops):
        p = results.populations[pop]
        ud = np.asarray(p.diagnostics.ud_holds)
        verdict = ("UD holds" if ud.all() else "UD fails" if not ud.any()
                   else f"UD holds on {int(ud.sum())}/{ud.size}")
        series = {lab: results.run(pop, lab).regret for lab in results.labels(pop)}
        ck = next(iter(results.runs.values())).checkpoints
        regret_panel(axes[0, j], ck, series, f"{pop}: {verdict}")
        # log-x, linear y: log T is a straight line, bounded regret flat; the learners only
        # (the baselines' linear regret would flatten everything else)
        learners = {k: v for k, v in series.items() if k not in BASELINES} or series
        regret_panel(axes[1, j], ck, learners, f"{pop}: learners, linear regret axis",
                     yscale="linear", legend=False)
    return finish(fig)
