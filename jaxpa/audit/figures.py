"""The audit's figures, from the dict of ``jaxpa.audit.steps.run_audit``; each makes one point:

- verdict.png: the heads' singular values against the noise floor (how many taste directions the
  data resolves) and the bootstrap replicates' lambda_D (how often UD holds, resolved and raw);
- coverage.png: how many users it takes to cover the decision-relevant subspace D, random
  subsets against the greedy pick;
- regret.png: the simulated learners' regret on the calibrated population (plotting.regret_panel);
- budget.png: SubOpt against the feedback budget, one line per number of users (more users at
  the same budget: lower line = diversity pays), and the online learner at one budget.

``audit_figures(results)`` returns {file name: matplotlib figure} for the sections that ran; the
report (report.py) writes them through the result store.
"""
from __future__ import annotations

import numpy as np

from jaxpa.audit.plotting import finish, pyplot, regret_panel


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


def regret_figure(r: dict):
    plt = pyplot()
    sims = r["simulate"]
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    first = next(iter(sims.values()))
    regret_panel(ax, first["checkpoints"], {k: v["regret"] for k, v in sims.items()},
                 "calibrated population (resolved heads): cumulative regret")
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
    return finish(fig)


FIGURES = (("verdict.png", "ud", verdict_figure), ("coverage.png", "coverage", coverage_figure),
           ("regret.png", "simulate", regret_figure), ("budget.png", "budget", budget_figure))


def audit_figures(r: dict) -> dict:
    """{file name: figure} of every section that ran."""
    return {name: fn(r) for name, key, fn in FIGURES if key in r}
