"""E2's figures, one panel per logging policy, the populations (UD holds vs fails) side by side in
each, so the contrast the claim is about is the first thing a reader sees:

- subopt.png: SubOpt(n) on a log axis against n (top: an exponential decay is a straight line)
  and against log n (bottom: a power law is a straight line); every draw thin, the first draw
  thick with its 95% band; a stalled log's identifiable SubOpt dotted;
- n_eps.png: n(eps) against log(1/eps) for the first draw of each population with its bootstrap
  band and the quadratic fit of the complexity test (straight: n(eps) = O(log 1/eps));
- bend.png: every draw's bend (curvature of n(eps) over a power law's) with its 95% CI.

Inputs are the records of experiments/offline/records.py (per population, draw, policy:
``ns`` [G], ``mean`` [G], ``half`` [G], ``test``, ``plot`` on the first draw).
"""
from __future__ import annotations

import numpy as np

from jaxpa.experiment.figures import finish, pyplot
from jaxpa.offline.complexity import CLASSES

LOG, FASTER, STALLED, UNDETERMINED = CLASSES


def _policies(records) -> list:
    return list(dict.fromkeys(r["policy"] for r in records))


def _label(recs) -> str:
    """'holds (UD holds on 4/4): 3 log(1/eps), 1 undetermined' for one population's records."""
    ud = sum(r["ud"] for r in recs)
    kinds = [r["test"]["class"] for r in recs]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in CLASSES if kinds.count(k))
    return f"{recs[0]['population']} (UD holds on {ud}/{len(recs)}): {counts}"


def _stall_level(r):
    t = r["test"]
    ok = t["class"] == STALLED and np.isfinite(t["identifiable"]) and t["identifiable"] > 0
    return t["identifiable"] if ok else None


def subopt_figure(records, populations):
    """SubOpt(n) per logging policy (columns), semi-log (top) and log-log (bottom)."""
    plt = pyplot()
    policies = _policies(records)
    fig, axes = plt.subplots(2, len(policies), figsize=(6.2 * len(policies), 8.4),
                             squeeze=False)
    for col, policy in enumerate(policies):
        for row, xscale in enumerate(("linear", "log")):
            ax = axes[row, col]
            for i, pop in enumerate(populations):
                recs = sorted([r for r in records if r["policy"] == policy
                               and r["population"] == pop], key=lambda r: r["index"])
                if not recs:
                    continue
                c = f"C{i}"
                for r in recs:
                    ns, m = np.asarray(r["ns"], np.float64), np.asarray(r["mean"])
                    keep = (m > 0) & (ns > 0 if xscale == "log" else True)
                    first = r["index"] == 0
                    ax.plot(ns[keep], m[keep], color=c, lw=2.2 if first else 0.8,
                            alpha=1.0 if first else 0.35, label=_label(recs) if first else None)
                    if first:
                        h = np.asarray(r["half"])
                        ax.fill_between(ns[keep], np.maximum(m - h, 0.1 * m)[keep],
                                        (m + h)[keep], color=c, alpha=0.2)
                        level = _stall_level(r)
                        if level is not None:
                            ax.axhline(level, color=c, ls=":", lw=1.5)
            if xscale == "linear":  # the first draws' range: a long stalled draw would squash it
                ax.set_xlim(0, max([r["n_max"] for r in records if r["policy"] == policy
                                    and r["index"] == 0] or [1]) * 1.03)
            ax.set(yscale="log", xscale=xscale, ylabel="SubOpt(n), log scale",
                   xlabel="dataset size n" + (", log scale" if xscale == "log" else ""),
                   title=f"{policy} logging: "
                   + ("exponential decay = straight line" if xscale == "linear"
                      else "power law = straight line"))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower left" if xscale == "log" else "upper right")
    fig.suptitle("SubOpt(n) of the plug-in policy: every draw thin, the first thick with its 95% "
                 "band; dotted: the SubOpt a stalled log can never get below", fontsize=10)
    return finish(fig)


def n_eps_figure(first, populations):
    """n(eps) against log(1/eps) per logging policy (columns), the first draw of each
    population: a straight line is n(eps) = O(log 1/eps); the dashed quadratic is the test's fit
    over its window; dotted vertical: a stalled log never reaches a smaller eps."""
    plt = pyplot()
    policies = _policies(first)
    fig, axes = plt.subplots(1, len(policies), figsize=(6.2 * len(policies), 4.8),
                             squeeze=False)
    for ax, policy in zip(axes[0], policies):
        for i, pop in enumerate(populations):
            recs = [r for r in first if r["policy"] == policy and r["population"] == pop]
            if not recs:
                continue
            r, c = recs[0], f"C{i}"
            p, t = r["plot"], r["test"]
            status = f"{pop}, UD {'holds' if r['ud'] else 'fails'}: {t['class']}"
            if p is None or not len(p["eps"]):
                ax.plot([], [], color=c, label=f"{status} (not resolved)")
                continue
            x, n = np.log(1 / np.asarray(p["eps"])), np.asarray(p["n"])
            level = _stall_level(r)
            # a stalled log reaches eps below its identifiable SubOpt only by chance: not drawn
            fin = np.isfinite(n) & (x <= (np.log(1 / level) if level is not None else np.inf))
            ax.plot(x[fin], n[fin], color=c, lw=2.2, label=status)
            lo, hi = np.asarray(p["low"]), np.asarray(p["high"])
            band = fin & np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(x[band], lo[band], hi[band], color=c, alpha=0.2)
            if level is not None:
                ax.axvline(np.log(1 / level), color=c, ls=":", lw=1.5)
            if len(t["eps"]) and np.isfinite(t["coef"]).all():
                L = np.log(1 / np.asarray(t["eps"]))
                a, b, cc = t["coef"]
                u = L - t["lbar"]
                ax.plot(L, a + b * u + cc * u * u, color="k", ls="--", lw=1.2)
        ax.plot([], [], color="k", ls="--", lw=1.2, label="quadratic fit of the test (window)")
        ax.set(xlabel="log(1/eps)", ylabel="n(eps): first n with mean SubOpt <= eps",
               title=f"{policy} logging, first draw")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Sample complexity: a straight line is n(eps) = O(log 1/eps), an upward bend "
                 "grows faster; dotted: a stalled log never reaches smaller eps", fontsize=10)
    return finish(fig)


def bend_figure(records, tol):
    """Every draw's bend with its 95% CI, one panel per policy, draws grouped by population and
    coloured by their UD status: inside the band [-tol, tol] reads 'log(1/eps)', above it
    'faster'; stalled draws are crosses at the top; draws without a fit are counted."""
    plt = pyplot()
    policies = _policies(records)
    fig, axes = plt.subplots(1, len(policies), figsize=(5.5 * len(policies), 4.4), squeeze=False,
                             sharey=True)
    highs = [r["test"]["bend_ci"][1] for r in records if np.isfinite(r["test"]["bend_ci"][1])]
    top = max([1.6] + highs) * 1.08
    for ax, policy in zip(axes[0], policies):
        recs = sorted([r for r in records if r["policy"] == policy],
                      key=lambda r: (not r["ud"], r["population"], r["index"]))
        ax.axhspan(-tol, tol, color="C2", alpha=0.12, label=f"log(1/eps): CI within +-{tol:g}")
        ax.axhline(1.0, color="C3", ls="--", lw=1, label="a power law (1)")
        ax.axhline(0, color="0.4", lw=0.8)
        seen, missing = set(), 0
        for i, r in enumerate(recs):
            t = r["test"]
            c = "C0" if r["ud"] else "C1"
            lab = f"UD {'holds' if r['ud'] else 'fails'}"
            if t["class"] == STALLED:
                ax.plot(i, top * 0.95, "x", color=c, ms=8, mew=2,
                        label=None if ("x", lab) in seen else f"{lab}: stalled")
                seen.add(("x", lab))
                continue
            if not np.isfinite(t["bend"]):
                missing += 1
                continue
            ax.errorbar(i, t["bend"], yerr=[[t["bend"] - t["bend_ci"][0]],
                                            [t["bend_ci"][1] - t["bend"]]],
                        fmt="o", color=c, ms=4, capsize=2,
                        label=None if ("o", lab) in seen else lab)
            seen.add(("o", lab))
        if missing:
            ax.plot([], [], " ", label=f"{missing} draw(s) not resolved over enough decades")
        ax.set(xlabel=f"instance draw ({len(recs)}; UD holds first)", title=f"{policy} logging",
               ylim=(-1.0, top), xlim=(-1, max(len(recs), 2)))
        ax.set_xticks([])
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7, loc="lower left", ncol=2)
    axes[0, 0].set_ylabel("bend of n(eps) vs log(1/eps), last resolved decade\n"
                          "(0: straight, exponential decay; 1: power law; 95% CI)")
    fig.suptitle("Each draw's bend: CI inside the green band reads n(eps) = O(log 1/eps), above "
                 "it faster (a power law is 1); crosses: stalled (the log never identifies the "
                 "optimal decision)", fontsize=9)
    return finish(fig)
