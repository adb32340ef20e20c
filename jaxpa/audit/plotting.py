"""Figure helpers of the audit's figures (figures.py): the Agg backend, light log ticks, the
regret panel. The same conventions as the experiments' figures (jaxpa/experiment/figures.py),
kept here because the audit sits below the experiment layer: cumulative regret against log t on
a log regret axis, so a curve that levels off reads flat and a log T curve bends up slowly."""
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


def regret_panel(ax, checkpoints, series: dict, title: str = "") -> None:
    """Mean R(t) with 95% bands on log-log axes; ``series``: label -> [..., C] curves. Baselines
    (uniform, oracle) are drawn grey and dashed; curves that stay at 0 (the oracle) are named in
    the legend but cannot be drawn on a log axis."""
    t = np.asarray(checkpoints, np.float64)
    zero = []
    color = iter(f"C{i}" for i in range(100))
    for label, curves in series.items():
        m, h = mean_band(curves)
        if not np.any(m > 0):
            zero.append(label)
            continue
        base = label in BASELINES
        c = "0.55" if base else next(color)
        keep = m > 0
        ax.plot(t[keep], m[keep], color=c, ls="--" if base else "-", lw=1.2 if base else 1.8,
                label=label)
        ax.fill_between(t[keep], np.maximum(m - h, m * 0.05)[keep], (m + h)[keep], color=c,
                        alpha=0.15)
    if zero:
        ax.plot([], [], " ", label=f"{', '.join(zero)}: R(t) = 0")
    ax.set(xscale="log", yscale="log", xlabel="round t (log scale)",
           ylabel="cumulative regret R(t) (log scale)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def close(figs) -> None:
    """Free the figures (matplotlib keeps every open figure alive)."""
    import matplotlib.pyplot as plt
    for f in figs:
        plt.close(f)
