"""The audit's figures, from the dict of ``jaxpa.audit.steps.run_audit``; each makes one point:

- verdict.png: the heads' singular values against the noise floor (how many taste directions the
  data resolves) and the bootstrap replicates' lambda_D (how often UD holds, resolved and raw);
- coverage.png: how many users it takes to cover the decision-relevant subspace D, random
  subsets against the greedy pick;
- heads.png: the users' fitted heads on the top two taste directions with 95% intervals from the
  fit's information (heads.py): does the spread of users exceed their uncertainty?
- regret.png: the simulated learners' regret on the calibrated population (reporting.regret_panel):
  personalized greedy against the non-personalized greedy_pop and uniform play, same keys, with
  the smallest gap's horizon 1/Δ_min² noted;
- budget.png: SubOpt against the feedback budget, one line per number of users (more users at
  the same budget: lower line = diversity pays), and the online learner at one budget.

``audit_figures(results)`` returns {file name: matplotlib figure} for the sections that ran; the
report (report.py) writes them through the result store.
"""
from __future__ import annotations

import numpy as np

from jaxpa.reporting import finish, pyplot, regret_panel


def mean_ci(x, axis: int = -1, z: float = 1.96):
    """Mean and half-width of the normal 95% confidence interval over ``axis``."""
    x = np.asarray(x, np.float64)
    n = x.shape[axis]
    sd = x.std(axis=axis, ddof=1) if n > 1 else np.zeros_like(x.mean(axis=axis))
    return x.mean(axis=axis), z * sd / np.sqrt(n)


def verdict_figure(r: dict):
    plt = pyplot()
    u = r["ud"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    s = np.asarray(u["point_singular_values"])
    idx = np.arange(1, s.size + 1)
    a.bar(idx, s, color=["C0" if v > u["tau"] else "0.7" for v in s])
    a.axhline(u["tau"], color="C3", ls="--", label=f"noise floor τ = {u['tau']:.3g}")
    a.set_xticks(idx)
    a.set_xlabel("taste direction (singular vector of the heads)")
    a.set_ylabel("singular value (standardized)")
    a.set_title(f"resolved head rank {u['point_rank']} of {s.size}")
    a.legend(fontsize=8)
    floor = 1e-12
    for key, label, color in (("lambda_D_resolved", "resolved heads", "C0"),
                              ("lambda_D_raw", "raw heads", "C1")):
        lam = np.asarray(u[key], np.float64)
        lam = np.where(np.isfinite(lam), lam, np.nan)
        b.hist(np.log10(np.maximum(lam, floor)), bins=20, alpha=0.5, color=color,
               label=f"{label}: UD holds in {np.mean(u[key.replace('lambda_D', 'holds')]):.0%}")
    b.set_xlabel("log10 λ_D of a bootstrap replicate (≤ -12: UD fails)")
    b.set_ylabel("replicates")
    b.set_title(f"UD verdict: {u['verdict']} ({u.get('n_computed', u['n_boot'])} replicates)")
    b.legend(fontsize=8)
    return finish(fig)


def coverage_figure(r: dict):
    plt = pyplot()
    cov, g = r["coverage"]["random"], r["coverage"]["greedy"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    full = max(float(cov["lambda_D_full"]), 1e-30)
    floor = max(float(g["tol"]), 1e-30) / full / 10  # "not covered": a tenth of the tolerance
    rel = lambda x: np.maximum(np.asarray(x) / full, floor)
    lam = np.asarray(cov["lambda_D"])
    ax.plot(cov["sizes"], rel(np.median(lam, axis=1)), "o-",
            label="random subsets of m users (median)")
    lo, hi = np.quantile(lam, [0.1, 0.9], axis=1)
    ax.fill_between(cov["sizes"], rel(lo), rel(hi), alpha=0.2, color="C0",
                    label="10–90% of random subsets")
    greedy = np.asarray(g["lambda_D"])
    ax.plot(np.arange(1, greedy.size + 1), rel(greedy), "s-", ms=3, color="C2",
            label="greedy pick (most information first)")
    ax.axhspan(floor / 2, 10 * floor, color="C3", alpha=0.1, label="D not covered (λ_D ≤ tol)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, None)
    ax.set_xlabel("users m")
    ax.set_ylabel("λ_D of m users / λ_D of all users")
    need = lambda x, what: f"{what} {x}" if x is not None else f"{what}: not within the grid"
    ax.set_title("users needed to cover D: " + need(cov["users_needed_90"], "random (90% of draws)")
                 + ", " + need(g["users_to_cover"], "greedy"), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return finish(fig)


LEARNER_NAMES = {"greedy_pop": "greedy_pop (one shared model)"}  # uniform: a grey baseline


def regret_figure(r: dict):
    plt = pyplot()
    sims = r["simulate"]
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    first = next(iter(sims.values()))
    series = {LEARNER_NAMES.get(k, k): v["regret"] for k, v in sims.items()}
    regret_panel(ax, first["checkpoints"], series,
                 "what personalization saves: per-user greedy\nagainst one shared model "
                 "(greedy_pop) and uniform play")
    g = r.get("gap_profile")
    if g:
        T = float(np.max(first["checkpoints"]))
        note = (f"Δ_min = {g['min_gap']:.2g}: curves can level off only after ~1/Δ_min² ≈ "
                f"{g['rounds_to_resolve']:.2g} rounds" + (" (> T)" if g["rounds_to_resolve"] > T
                                                           else ""))
        ax.text(0.02, 0.98, note, transform=ax.transAxes, va="top", fontsize=8,
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.8"))
    return finish(fig)


def heads_figure(r: dict):
    """The users' fitted heads on the top two taste directions (standardized features), 95%
    intervals from the fit's information; thin users and the shared model marked."""
    plt = pyplot()
    h = r["heads"]
    c, se = np.asarray(h["coords"], np.float64), np.asarray(h["coord_se"], np.float64)
    if c.shape[1] == 1:  # one feature: a strip
        c, se = np.c_[c, np.zeros(len(c))], np.c_[se, np.zeros(len(se))]
    thin = np.asarray(h["thin"], bool)
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    alpha = 0.5 if len(c) <= 300 else 0.1
    ax.errorbar(c[~thin, 0], c[~thin, 1], xerr=1.96 * se[~thin, 0], yerr=1.96 * se[~thin, 1],
                fmt="o", ms=3.5, color="C0", ecolor=(0.12, 0.47, 0.71, alpha), elinewidth=0.8,
                label="users (bars: 95% intervals from the fit's information)")
    if thin.any():
        ax.plot(c[thin, 0], c[thin, 1], "x", color="0.5", label=f"thin users ({thin.sum()}): "
                                                                  f"served the shared model")
    units = np.asarray(r["log"].get("feature_units") or np.ones(len(r["log"]["features"])))
    pop = np.asarray(r["population_fit"]["theta"]) * units * np.asarray(r["instance"]["scale"])
    p = np.asarray(h["directions"]) @ pop
    ax.plot(p[0], p[1] if p.size > 1 else 0.0, "*", ms=14, color="C3", mec="k",
            label="one shared model (population fit)")
    rank = r["ud"]["point_rank"] if "ud" in r else None
    words = list(h["direction_words"]) + ["(no second direction: one feature)"]
    tag = lambda i: ("" if rank is None else "(resolved above the noise floor)" if i < rank
                     else "(not resolved: within noise)")
    ax.set_xlabel(f"taste direction 1: {words[0]}\n{tag(0)}", fontsize=9)
    ax.set_ylabel(f"taste direction 2: {words[1]}\n{tag(1)}", fontsize=9)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.set_title("users' fitted tastes (standardized features):\nspread wider than the bars = "
                 "users who really differ", fontsize=10)
    ax.set_aspect("equal", adjustable="datalim")  # one scale: spreads compare across axes
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return finish(fig)


def budget_figure(r: dict):
    plt = pyplot()
    b = r["budget"]
    fig, (a, c) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(b["users"])))
    sub = np.asarray(b["subopt"])
    floor = 1e-4 * max(float(np.max(sub.mean(-1))), 1e-12)
    for n, s, col in zip(b["users"], sub, colors):
        a.plot(b["budgets"], np.maximum(s.mean(axis=-1), floor), "o-", color=col,
               label=f"{n} users")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("feedback budget B (comparisons)")
    a.set_ylabel("SubOpt on the whole population (mean)")
    a.set_title(f"offline, {b['policy']} logging: lower line at the same B = better")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    on = b["online"]
    for key, fmt, label in (("deployed", "o-", "then serving everyone"),
                            ("collection", "s--", "while learning (n users)")):
        m, h = mean_ci(on[key], axis=-1)
        ok = m > 0
        c.errorbar(np.asarray(b["users"])[ok], m[ok], yerr=np.minimum(h, 0.9 * m)[ok], fmt=fmt,
                   capsize=3, label=label)
    c.set_xscale("log")
    c.set_yscale("log")
    c.set_xticks(b["users"], [str(int(n)) for n in b["users"]])
    c.minorticks_off()
    c.set_xlabel("users n giving the feedback")
    c.set_ylabel("regret per round (mean, 95% CI)")
    c.set_title(f"online greedy, B = {b['online_budget']} rounds")
    c.legend(fontsize=8)
    c.grid(alpha=0.3)
    finish(fig)
    from matplotlib.ticker import NullLocator
    c.xaxis.set_minor_locator(NullLocator())  # the users are labelled; minor labels overlap them
    return fig


FIGURES = (("heads.png", "heads", heads_figure), ("verdict.png", "ud", verdict_figure),
           ("coverage.png", "coverage", coverage_figure),
           ("regret.png", "simulate", regret_figure), ("budget.png", "budget", budget_figure))


def audit_figures(r: dict) -> dict:
    """{file name: figure} of every section that ran."""
    return {name: fn(r) for name, key, fn in FIGURES if key in r}
