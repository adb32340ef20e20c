"""E5 on real preference panels (MODEL.md §7) as an experiment's ``analyze``: per panel, the fits
behind its calibrated population, the diversity of the fitted heads and how many users cover D.

``real_analysis(labels)`` returns the function an ``Experiment`` calls with its
ExperimentResults. Each label is a population of experiments/real/experiment.py built by
``jaxpa.data.study.calibrated_panel``; the analysis reads the same ``PanelStudy``
(``calibrated_panel_study`` under the population's first draw key, memoized: no refit) and
reports

1. the population conditional-logit fit with standard errors, beside published estimates where
   known (Train: Croissant's mlogit vignette);
2. the held-out comparison of personalized (shrunk) heads against the population fit, per user
   with 95% CIs, gains paired by user;
3. the diversity of the fitted heads: their spectrum, the diagnostics of the personalized design
   (the population's own, computed by the run) and of the population design (one shared reward);
4. random subsets of m users covering D (``study.panel_coverage``, ``coverage_draws`` subsets per
   size (``RealOptions``), key fold_in(k, 2) with k the draw key: the audit's key for coverage);
   with 3's population design, a stored part keyed by the panel options, the instance's
   fingerprint and the draws;
5. the learners on the calibrated simulator (the runs of the experiment), with the cost of one
   shared reward model: R_pop(T) / R_personalized(T).

Only the first draw of each population is analysed (the panels are fixed; further draws differ
only in the prompts sampled for the simulator).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import jax

from jaxpa.results import pack, unpack
from jaxpa.data.study import (calibrated_panel_study, panel_coverage, panel_diagnostics,
                              population_summary, study_key)
from jaxpa.experiment.outputs import Section, format_ci, format_table
from jaxpa.results import fingerprint



@dataclasses.dataclass(frozen=True)
class RealOptions:
    """E5's options (``Size.options``): coverage_draws, random user subsets per subset size."""

    coverage_draws: int = 64


# Croissant, "Estimation of multinomial logit models in R: the mlogit package" (vignette), Train
# example without intercept, price in euros (price / 100 * 2.20371) and time in hours.
PUBLISHED = {"train": {"source": "mlogit vignette (Croissant), Train, no intercept",
                       "theta": [-0.0673580, -1.7205514, -0.3263409, -0.9457256]}}


def fit_table(features, fit: dict, published: dict | None) -> tuple[str, list[dict]]:
    """The population fit, one row per feature (relative difference to ``published``)."""
    rows = []
    for j, name in enumerate(features):
        row = {"feature": name, "theta": f"{fit['theta'][j]:.6f}",
               "s.e.": f"{fit['std_errors'][j]:.5f}"}
        if published:
            p = published["theta"][j]
            row.update(published=f"{p:.7f}", **{"rel. diff": f"{abs(fit['theta'][j] / p - 1):.1e}"})
        rows.append(row)
    note = f" (published: {published['source']})" if published else ""
    text = (f"log-likelihood {fit['loglik']:.3f}, gradient norm {fit['grad_norm']:.1e}, "
            f"{fit['n']} choices{note}\n\n" + format_table(rows, list(rows[0])))
    return text, rows


def heldout_table(h: dict, n_test: int) -> str:
    rows = [{"model": m, "loglik/choice [95% CI]": format_ci(v["loglik"]),
             "accuracy [95% CI]": format_ci(v["accuracy"]),
             "loglik gain [95% CI]": format_ci(v["loglik_gain"]),
             "accuracy gain [95% CI]": format_ci(v["accuracy_gain"])}
            for m, v in h["table"].items()]
    users = next(iter(h["table"].values()))["loglik"]["n_users"]
    head = (f"{h['n_test']} held-out choices ({n_test} last per user), {h['n_train']} for "
            f"fitting; shrinkage {h['shrinkage']:g} pseudo-choices chosen on validation from "
            f"{', '.join(f'{g:g}' for g in h['grid'])}; CIs over {users} users, gains paired by "
            "user.")
    return head + "\n\n" + format_table(rows, list(rows[0]))


def diversity_text(spectrum: dict, designs: dict, cov: dict, k: int) -> str:
    lines = [f"head singular values / largest: {np.round(spectrum['relative'], 4).tolist()} "
             f"(numerical head rank {spectrum['rank']} of k = {k})"]
    for design, s in designs.items():
        lines.append(f"- {design} design: dim D = {s['dim_D']}, rank Sigma* = {s['rank_sigma']}, "
                     f"lambda_D = {s['lambda_D']:.4g} (tol {s['tol']:.3g}), UD "
                     f"{'holds' if s['ud_holds'] else 'fails'}; Delta_min = {s['min_gap']:.3g}, "
                     f"kappa = {s['kappa']:.3g}")
    rows = [{"users m": int(m), "covered": f"{f:.2f}", "median lambda_D": f"{np.median(l):.3g}",
             "median head rank": f"{np.median(h):g}"}
            for m, f, l, h in zip(cov["sizes"], cov["covered_fraction"], cov["lambda_D"],
                                  cov["head_rank"])]
    need = cov["users_needed_90"]
    lines.append(f"\nrandom subsets of m users covering D (personalized design, lambda_D(m) > tol; "
                 f"{cov['lambda_D'].shape[1]} draws each): 90% coverage from m = "
                 f"{need if need is not None else 'never (up to all users)'}\n")
    return "\n".join(lines) + "\n" + format_table(rows, list(rows[0]))


def runs_table(results, label: str) -> tuple[str, list[dict]]:
    """One row per learner on the panel's first draw, and the shared-model cost."""
    rows = []
    for lab in results.labels(label):
        r = results.run(label, lab)
        s = r.stats
        f = lambda x: float(np.asarray(x)[0])
        rows.append({"learner": lab, "R(T)": f"{f(s.final_mean):.1f}",
                     "R(T)-R(T/2) [95% CI]": f"{f(s.added_mean):.1f} [{f(s.added_low):.1f}, "
                                             f"{f(s.added_high):.1f}]",
                     "late slope b [95% CI]": f"{f(s.slope):.2f} [{f(s.slope_low):.2f}, "
                                              f"{f(s.slope_high):.2f}]",
                     "stuck": f"{f(s.stuck_fraction):.2f}", "verdict": str(r.verdict[0])})
    return format_table(rows, list(rows[0])) if rows else "(no learners)", rows


def _ratio(results, label: str, pop: str, pers: str) -> float | None:
    labels = results.labels(label)
    if pop not in labels or pers not in labels:
        return None
    a = float(results.run(label, pop).regret[0, :, -1].mean())
    b = float(results.run(label, pers).regret[0, :, -1].mean())
    return a / b if b > 0 else None


def coverage_figure(panels: dict):
    """Per panel: the fraction of random subsets of m users covering D, and the median
    lambda_D(m) relative to all users."""
    from jaxpa.experiment.figures import finish, pyplot
    fig, axes = pyplot().subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (label, cov) in zip(axes[0], panels.items()):
        ax.plot(cov["sizes"], cov["covered_fraction"], "o-", label="P(subset covers D)")
        ax2 = ax.twinx()
        ax2.plot(cov["sizes"], np.median(cov["lambda_D"], axis=1) /
                 max(float(cov["lambda_D_full"]), 1e-30), "s--", color="C1",
                 label="median lambda_D(m) / lambda_D(all)")
        ax.set_xscale("log")
        ax.set_xlabel("users m in a random subset")
        ax.set_ylabel("fraction of subsets covering D")
        ax2.set_ylabel("relative lambda_D")
        ax.set_title(f"{label}: how many users cover D")
        ax.legend(loc="upper left", fontsize=8)
        ax2.legend(loc="center right", fontsize=8)
        ax.grid(alpha=0.3)
    return finish(fig)


def real_analysis(labels, *, pop_learner: str = "greedy_pop",
                  personalized: str = "greedy[warm_start=200]"):
    """The ``analyze`` of E5 (module docstring) for the populations ``labels``; the shared-model
    cost compares the runs labelled ``pop_learner`` and ``personalized``."""

    def analyze(results):
        feedback = results.experiment.feedback_model()
        draws = results.size.options_or(RealOptions).coverage_draws
        sections, coverage = [], {}
        for label in labels:
            p = results.populations[label]
            opts = dict(p.population.options)
            key = study_key(results.seed, label)
            study = calibrated_panel_study(key, **opts)
            inst = jax.tree.map(lambda x: x[0], p.instances)
            if fingerprint(inst) != fingerprint(study.instance):
                raise RuntimeError(f"real: population {label!r} was not built from the study "
                                   "under its first draw key")
            diag = jax.tree.map(lambda x: x[0], p.diagnostics)

            def diversity():
                _, d = panel_diagnostics(inst, feedback, diag=diag)
                cov = panel_coverage(inst, diag, draws, jax.random.fold_in(key, 2), feedback)
                return pack({"spectrum": d.pop("spectrum"), "designs": d, "coverage": cov})

            config = {"population": p.population.describe(), "instance": fingerprint(inst),
                      "coverage_draws": draws, "feedback": feedback.label}
            div = unpack(results.part(f"{label}__diversity", config, diversity))
            cov = coverage[label] = div["coverage"]
            fit = population_summary(study.population)
            panel = study.panel
            fit_text, fit_rows = fit_table(panel.feature_names, fit, PUBLISHED.get(label))
            runs_text, run_rows = runs_table(results, label)
            ratio = _ratio(results, label, pop_learner, personalized)
            text = "\n".join([
                f"{panel.n_choices} choices, {panel.n_users} users, {panel.n_alternatives} "
                f"alternatives, features {', '.join(panel.feature_names)}; calibrated instance: "
                f"{inst.n_prompts} real choice sets as prompts, K = {inst.n_responses}, d = k = "
                f"{inst.d}, heads = fitted users, W = I, reference = {study.reference}.\n",
                "### Population fit\n", "```", fit_text, "```\n",
                "### Held-out: personalized vs population\n", "```",
                heldout_table(study.heldout, int(opts.get("n_test", 2))), "```\n",
                "### Diversity of the fitted heads\n", "```",
                diversity_text(div["spectrum"], div["designs"], cov, inst.k), "```\n",
                f"### Learners on the calibrated simulator ({feedback.label}, T = "
                f"{results.size.horizon}, {results.size.seeds} seeds)\n", "```", runs_text, "```\n",
                f"One shared reward model ({pop_learner}) against personalized greedy "
                f"({personalized}): R_pop(T) / R_personalized(T) = "
                + (f"{ratio:.2f}." if ratio is not None else "n/a.")])
            data = {"panel": panel.name, "n_choices": panel.n_choices, "n_users": panel.n_users,
                    "features": list(panel.feature_names), "population_fit": fit,
                    "published": PUBLISHED.get(label), "heldout": study.heldout,
                    "shrinkage": study.shrinkage, "max_grad_norm": float(np.max(study.grad_norm)),
                    "spectrum": div["spectrum"], "diagnostics": div["designs"], "coverage": cov, "runs": run_rows,
                    "shared_model_ratio": ratio}
            sections.append(Section(f"{label}: real preference panel", text=text, data=data,
                                    rows=[dict(r, panel=label) for r in fit_rows],
                                    name=f"{label}_fit"))
        if sections:
            sections[0].figures["real_coverage.png"] = coverage_figure(coverage)
        return sections

    return analyze

