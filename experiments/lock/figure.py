"""The lock experiment's figure: P(a seed locks for good) against the warm start n0, pooled over
the seeds of the draws in each group, with Wilson 95% intervals. Left: the draws grouped by robust
UD (the two populations of the robust pair); right: the same draws grouped by the fixed-point
condition (some strict self-consistent lock, or none). Made to be read at a glance: where the two
left curves lie on top of each other robust UD does not separate permanent lock-in; a right-hand
"lock-free" curve at 0 is the condition separating it.
"""
from __future__ import annotations

import numpy as np

from jaxpa.diagnostics.lock_persistence import wilson_interval
from jaxpa.reporting import finish, pyplot

STYLE = {"greedy": "-", "greedy_exact": "--"}


def lock_figure(points: list[dict], n0: list[int]):
    """points: one dict per (learner, n0, group) with keys learner, n0, panel ("robust UD" or
    "self-consistent lock"), group (the curve's label), k (seeds locked for good), n (healthy
    seeds). Returns a matplotlib figure with the two panels."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    x = np.arange(len(n0))
    top = 0.0
    for ax, panel in zip(axes, ("robust UD", "self-consistent lock")):
        rows = [p for p in points if p["panel"] == panel]
        groups = list(dict.fromkeys(p["group"] for p in rows))
        colors = dict(zip(groups, ("tab:blue", "tab:red", "tab:green", "tab:purple")))
        for (learner, group) in dict.fromkeys((p["learner"], p["group"]) for p in rows):
            sel = sorted((p for p in rows if p["learner"] == learner and p["group"] == group),
                         key=lambda p: n0.index(p["n0"]))
            k = np.array([p["k"] for p in sel])
            n = np.array([p["n"] for p in sel])
            lo, hi = wilson_interval(k, n)
            p_hat = np.where(n > 0, k / np.maximum(n, 1), np.nan)
            shift = 0.06 * (list(STYLE).index(learner) - 0.5) if learner in STYLE else 0.0
            xs = np.array([n0.index(p["n0"]) for p in sel]) + shift
            ax.errorbar(xs, p_hat, yerr=[p_hat - lo, hi - p_hat], color=colors[group],
                        ls=STYLE.get(learner, "-"), marker="o", ms=4, capsize=3,
                        label=f"{group}, {learner} ({int(n.sum() / len(n))} seeds)")
            top = max(top, np.nanmax(hi))
        ax.set_xticks(x, [str(v) for v in n0])
        ax.set_xlabel("warm start n0 (uniform rounds before greedy)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper right")
    axes[0].set_ylabel("P(a seed locks for good)\n(pooled over seeds, 95% Wilson CI)")
    for ax, panel, what in zip(axes, ("robust UD", "self-consistent lock"),
                               ("robust UD (leave-one-user-out coverage)",
                                "the fixed-point condition")):
        ax.set_title(f"grouped by {what}\n{_summary(points, panel, n0[0])}", fontsize=9.5)
    axes[0].set_ylim(-0.01, max(top * 1.1, 0.05))
    fig.suptitle("Permanent lock-in on the robust pair (UD holds on every draw)", fontsize=11)
    return finish(fig)


def _summary(points: list[dict], panel: str, n0: int) -> str:
    """One line for a panel's title: each group's pooled P(lock for good) at ``n0`` over its
    learners (e.g. "n0 = 0: lock-free 0/640, a strict lock exists 94/384 seeds")."""
    rows = [p for p in points if p["panel"] == panel and p["n0"] == n0]
    parts = []
    for group in dict.fromkeys(p["group"] for p in rows):
        k = sum(p["k"] for p in rows if p["group"] == group)
        n = sum(p["n"] for p in rows if p["group"] == group)
        parts.append(f"{group} {k}/{n}")
    return f"seeds locked for good at n0 = {n0}, both learners:\n" + ", ".join(parts)
