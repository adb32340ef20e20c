"""E5's outputs: the markdown report and the figure, from the results of ``e5_real.study``."""
from __future__ import annotations


import numpy as np

from jaxpa.experiments import report


def _ci(c: dict, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(c['mean'])} [{fmt.format(c['low'])}, {fmt.format(c['high'])}]"


def _fit_table(r: dict) -> str:
    fit = r["population_fit"]
    published = fit.get("published", {}).get("theta")
    rows = []
    for j, name in enumerate(r["features"]):
        row = {"feature": name, "theta": f"{fit['theta'][j]:.6f}", "s.e.": f"{fit['std_errors'][j]:.5f}"}
        if published is not None:
            row["published"] = f"{published[j]:.7f}"
            row["rel. diff"] = f"{abs(fit['theta'][j] / published[j] - 1):.1e}"
        rows.append(row)
    cols = ["feature", "theta", "s.e."] + (["published", "rel. diff"] if published else [])
    note = f" (published: {fit['published']['source']})" if published else ""
    return (f"log-likelihood {fit['loglik']:.3f}, gradient norm {fit['grad_norm']:.1e}{note}\n\n"
            + report.format_table(rows, cols))


def _heldout_table(r: dict, config: dict) -> str:
    h = r["heldout"]
    rows = [{"model": m, "loglik/choice [95% CI]": _ci(v["loglik"]),
             "accuracy [95% CI]": _ci(v["accuracy"]),
             "loglik gain [95% CI]": _ci(v["loglik_gain"]),
             "accuracy gain [95% CI]": _ci(v["accuracy_gain"])} for m, v in h["table"].items()]
    head = (f"{h['n_test']} held-out choices ({config['n_test']} last per user), "
            f"{h['n_train']} for fitting; shrinkage {h['shrinkage']:g} pseudo-choices chosen on "
            f"validation from {', '.join(f'{g:g}' for g in h['grid'])}; CIs over "
            f"{next(iter(h['table'].values()))['loglik']['n_users']} users, gains paired by user.")
    return head + "\n\n" + report.format_table(rows, list(rows[0]))


def _diversity(r: dict) -> str:
    spec = r["heads"]["spectrum"]
    lines = [f"head singular values / largest: {np.round(spec['relative'], 4).tolist()} "
             f"(numerical head rank {spec['rank']} of k = {r['instance']['k']})"]
    for design, s in r["diagnostics"].items():
        lines.append(f"- {design} design: dim D = {s['dim_D']}, rank Sigma* = {s['rank_sigma']}, "
                     f"lambda_D = {s['lambda_D']:.4g} (tol {s['tol']:.3g}), UD "
                     f"{'holds' if s['ud_holds'] else 'fails'}; Delta_min = {s['min_gap']:.3g}, "
                     f"kappa = {s['kappa']:.3g}")
    cov = r["coverage"]
    rows = [{"users m": int(m), "covered": f"{f:.2f}", "median lambda_D": f"{np.median(l):.3g}",
             "median head rank": f"{np.median(h):g}"}
            for m, f, l, h in zip(cov["sizes"], cov["covered_fraction"], cov["lambda_D"],
                                  cov["head_rank"])]
    lines.append(f"\nrandom subsets of m users covering D (personalized design, lambda_D(m) > tol; "
                 f"{cov['lambda_D'].shape[1]} draws each): 90% coverage from m = "
                 f"{cov['users_needed_90']}\n")
    return "\n".join(lines) + "\n" + report.format_table(rows, list(rows[0]))


def _runs(r: dict, config: dict) -> str:
    rows = [{"learner": label, "R(T)": f"{s['final_regret']:.1f}",
             "R(T)-R(T/2) [95% CI]": "{:.1f} [{:.1f}, {:.1f}]".format(*s["added_second_half"]),
             "late slope b [95% CI]": "{:.2f} [{:.2f}, {:.2f}]".format(*s["late_log_slope"]),
             "stuck": f"{s['stuck_fraction']:.2f}", "verdict": s["verdict"]}
            for label, s in r["runs"].items()]
    inst = r["instance"]
    head = (f"calibrated instance: {inst['n_prompts']} real choice sets as prompts, K = {inst['K']}, "
            f"d = k = {inst['d']}, heads = fitted users, W = I, reference = {inst['reference']}; "
            f"bt_ref feedback, T = {config['horizon']}, {config['seeds']} seeds")
    return head + "\n\n" + report.format_table(rows, list(rows[0]))


def write_markdown(path, summary: dict) -> str:
    config = summary["config"]
    parts = ["# E5: real preference panels\n",
             f"`jaxpa real --panels {config['panels']} --horizon {config['horizon']} --seeds "
             f"{config['seeds']} --n-test {config['n_test']}` (jax {summary['metadata']['jax']}, "
             f"{summary['metadata']['backend']})\n"]
    for r in summary["results"].values():
        parts += [f"## {r['panel']}: {r['n_choices']} choices, {r['n_users']} users, "
                  f"{r['n_alternatives']} alternatives, features {', '.join(r['features'])}\n",
                  "### Population fit\n", "```", _fit_table(r), "```\n",
                  "### Held-out: personalized vs population\n", "```", _heldout_table(r, config), "```\n",
                  "### Diversity of the fitted heads\n", "```", _diversity(r), "```\n",
                  "### Online learners on the calibrated simulator (E5)\n", "```",
                  _runs(r, config), "```\n"]
    text = "\n".join(parts)
    report.write_text(path, text)
    return text


def plot(path, results: dict, curves: dict) -> None:
    """Per panel: regret curves (top) and the coverage of D by random user subsets (bottom)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(6 * n, 8), squeeze=False)
    for j, (name, r) in enumerate(results.items()):
        report.plot_regret(None, r["checkpoints"], curves[name],
                           title=f"{r['panel']}: calibrated simulator, bt_ref", ax=axes[0, j])
        cov, ax = r["coverage"], axes[1, j]
        ax.plot(cov["sizes"], cov["covered_fraction"], "o-", label="P(subset covers D)")
        ax2 = ax.twinx()
        ax2.plot(cov["sizes"], np.median(cov["lambda_D"], axis=1) / max(cov["lambda_D_full"], 1e-30),
                 "s--", color="C1", label="median lambda_D(m) / lambda_D(all)")
        ax.set_xscale("log")
        ax.set_xlabel("users m in a random subset")
        ax.set_ylabel("fraction of subsets covering D")
        ax2.set_ylabel("relative lambda_D")
        ax.set_title(f"{r['panel']}: how many users cover D")
        ax.legend(loc="upper left", fontsize=8)
        ax2.legend(loc="center right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)
