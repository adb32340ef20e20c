"""The audit's outputs, from the dict of ``jaxpa.audit.steps.run_audit``: report.md (the decision
box of decision.py first, then the verdict and the evidence, each section naming the function and
the summary.json key behind its numbers), summary.json, curves.npz (regret curves, bootstrap
replicates, SubOpt cells), heads.csv (heads.py: one row per user) and the figures of
figures.py, written as one unit through the result store (``write_audit``: ``begin_outputs``,
every file stamped with the config hash, the manifest last)."""
from __future__ import annotations

import copy

import numpy as np

from jaxpa.audit.decision import (contrast_words, decision_box, decision_facts, taste_words,
                                  volume_sentence)
from jaxpa.audit.figures import FIGURES, audit_figures
from jaxpa.audit.heads import heads_rows
from jaxpa.reporting import close, format_ci, format_table
from jaxpa.results import MANIFEST, Store, config_hash

RULE = ("holds if UD holds in >= {p:.0%} of bootstrap replicates on resolved heads *and* on raw "
        "heads; fails if it holds in <= {q:.0%} of both; undetermined otherwise")


def _g(x, digits: int = 3) -> str:
    return "n/a" if x is None else str(x) if isinstance(x, str) else f"{x:.{digits}g}"


def _direction(w: dict) -> str:
    return (f"the contrast {contrast_words(w, None)} (for users whose taste leans "
            f"{taste_words(w)})")


def _convergence(r: dict) -> str:
    """One line on the fits' convergence (convergence.py; `convergence`)."""
    c = r.get("convergence")
    if not c:
        return ""
    p, h = c["population"], c["heads"]
    text = (f"Convergence (convergence.py; `convergence`): population fit "
            f"{'converged' if p['converged'] else 'FAILED'} (gradient norm per choice "
            f"{p['grad_norm_per_choice']:.1e}, standard errors "
            f"{'finite' if p['finite_std_errors'] else 'not finite'}); personalized fits: "
            + ("all converged" if h["converged"] else f"{h['n_failed']} failed "
               f"({', '.join(h['failed_users'][:10])})")
            + f" (largest gradient norm per choice {h['max_grad_norm_per_choice']:.1e})")
    u = r.get("ud")
    if u is not None and "converged" in u:
        conv = np.asarray(u["converged"])
        text += (f"; bootstrap refits: {int(conv.sum())} of {conv.size} replicates converged "
                 f"(Newton iterations {int(np.min(u['iterations']))}–"
                 f"{int(np.max(u['iterations']))})")
    return text + ".\n"


def _thin(lg: dict, most: int = 20) -> str:
    """The thin users by id (the first ``most``), or none."""
    ids = [str(u) for u in lg["thin_users"]]
    if not ids:
        return "none"
    more = f", and {len(ids) - most} more (summary.json `log.thin_users`)" if len(ids) > most else ""
    return f"{len(ids)}: {', '.join(ids[:most])}{more}"


def _stopped(u: dict) -> str:
    if not u.get("stopped_early"):
        return ""
    return (f", stopped early: the verdict at {u['n_boot']} replicates was decided with "
            f"predictive probability >= 99% (sequential.py)")


def _units_note(lg: dict) -> str:
    units = lg.get("feature_units") or []
    scaled = [f"{n} (÷{u:.3g})" for n, u in zip(lg["features"], units) if u != 1.0]
    if not scaled:
        return ""
    return (f" Features rescaled before fitting, as float32 cannot fit their scale: "
            f"{', '.join(scaled)}; estimates below are in the data's units.")


def gap_caveat(r: dict, config: dict) -> str:
    """The calibrated population's gaps against the horizon, in words (simulation.gap_profile):
    why greedy's curve can read log-growth even where UD holds, and how much of its regret the
    gaps below 1/sqrt(T) can account for."""
    g = r.get("gap_profile")
    if not g:
        return ""
    T = config["horizon"]
    text = (f"Smallest gap Δ_min = {g['min_gap']:.2g}: a learner needs ~1/Δ_min² ≈ "
            f"{g['rounds_to_resolve']:.2g} rounds to tell every user's best answer from the "
            f"next, so ")
    text += ("within T every learner's curve, greedy's included, can still look like "
             "log-growth: read 'log-growth' as 'not yet levelled off', not as lock-in. "
             if g["rounds_to_resolve"] > T else
             "T is long enough for curves that level off to show it. ")
    greedy = r.get("simulate", {}).get("greedy")
    share = ""
    if greedy is not None and greedy["stats"]["final_mean"] > 0:
        share = (f" (at most {100 * g['cost_below'] * T / greedy['stats']['final_mean']:.2g}% of "
                 f"greedy's R(T), if every round on them were such a mistake)")
    if g["share_below"] == 0:
        return text + (f"No user has a prompt whose gap is below 1/√T = {g['threshold']:.2g}: all "
                       f"of the regret is paid on gaps that T rounds can resolve.")
    return (text + f"Near-ties (gap below 1/√T = {g['threshold']:.2g}) carry "
            f"{100 * g['share_below']:.2g}% of the prompt mass; mistakes between their two best "
            f"answers cost at most {g['cost_below']:.2g} per round, {g['cost_below'] * T:.2g} over "
            f"T{share}: the rest of the regret is paid on the gaps that matter.")


def verdict_paragraph(r: dict, config: dict) -> str:
    u = r["ud"]
    lines = [f"## Verdict: user diversity **{u['verdict'].upper()}**\n",
             f"UD held in {u['frac_resolved']:.0%} of {u.get('n_computed', u['n_boot'])} "
             f"bootstrap replicates{_stopped(u)} (users and "
             f"choices resampled) on resolved heads (rank {u['point_rank']}, CI "
             f"[{u['rank_ci'][0]:g}, {u['rank_ci'][1]:g}]) and in {u['frac_raw']:.0%} on raw heads; "
             f"rule: {RULE.format(p=u['level'], q=1 - u['level'])}. λ_D = "
             f"{_g(u['resolved']['lambda_D'])} for the resolved point estimate; in the replicates "
             f"median {_g(float(np.median(u['lambda_D_resolved'])))}, {u['level']:.0%} interval "
             f"[{_g(u['lambda_D_ci'][0])}, {_g(u['lambda_D_ci'][1])}] (refitting adds noise, "
             f"which moves λ_D: read the interval as its spread, not as a bias-free CI)."]
    facts = decision_facts(r)
    meaning = {"holds": "learning per-user rewards is cheap here: optimal play by these users "
                        "identifies every decision-relevant direction, so plain greedy learning "
                        "can suffice (whether personalizing is worth doing is the held-out gain's "
                        "question, below).",
               "fails": "some decision-relevant direction is never seen in these users' optimal "
                        "play: consistent learners will pay ~log T regret, greedy may lock in; "
                        "collect feedback from users who differ along the directions listed below.",
               "undetermined": "the log cannot tell: the resolved and raw readings of the heads "
                               "disagree or the replicates are split. More choices per user "
                               "(or more users) are needed before deciding."}
    if facts["alike"]:
        meaning[u["verdict"]] = ("these users are alike as far as the log can tell (their heads "
                                 "differ by no more than refitting moves them): there is nothing "
                                 "personal to learn, and user diversity is not the bottleneck.")
    if u.get("reason"):
        lines.append(f"\nWhy undetermined: {u['reason']}.")
    lines.append(f"\nWhat it means: {meaning[u['verdict']]}")
    t = r["heldout"]["table"]["personalized"]
    lines.append(f"- Held-out: personalized minus population log-likelihood per choice "
                 f"{format_ci(t['loglik_gain'])}, accuracy gain {format_ci(t['accuracy_gain'])} "
                 f"({t['loglik']['n_users']} users).")
    if r.get("coverage", {}).get("worst"):
        w = r["coverage"]["worst"][0]
        lines.append(f"- Least covered decision direction: {_direction(w)}; eigenvalue "
                     f"{w['eigenvalue']:.3g} ({w['relative']:.2g} of the largest).")
    if "simulate" in r:
        lines.append("- Simulated on the calibrated population: " + "; ".join(
            f"{k} R(T) = {v['stats']['final_mean']:.1f} ({v['stats']['verdict']})"
            for k, v in r["simulate"].items()) + f" (T = {config['horizon']}; regret.png). "
            + gap_caveat(r, config))
    if "budget" in r:
        v = volume_sentence(r)
        lines.append("- Diversity versus volume: " + v[0].lower() + v[1:])
    return "\n".join(lines) + "\n"


def _evidence(r: dict, config: dict) -> list[str]:
    lg, fit, h = r["log"], r["population_fit"], r["heldout"]
    cpu = np.asarray(lg["choices_per_user"])
    parts = ["## Evidence\n", "### 1. The log (preference_log.read_preference_log; `log`)\n",
             f"{lg['rows']} rows, {lg['choices']} choice sets, {lg['users']} users "
             f"({cpu.min()}–{cpu.max()} choices each, median {np.median(cpu):g}), up to "
             f"{lg['alternatives']} alternatives, features {', '.join(lg['features'])}; reference: "
             f"{r['instance']['reference']}. Thin users (< {lg['min_choices']} choices, served the "
             f"population fit): {_thin(lg)}.{_units_note(lg)}\n",
             "### 2. Fits (study.panel_study, as `jaxpa run real`; `population_fit`, `heldout`, "
             "`heads`)\n", "```"]
    rows = [{"feature": n, "theta": f"{t:.5g}", "s.e.": f"{s:.3g}"}
            for n, t, s in zip(lg["features"], fit["theta"], fit["std_errors"])]
    parts += [format_table(rows, ["feature", "theta", "s.e."]),
              f"log-likelihood {fit['loglik']:.3f}, gradient norm {fit['grad_norm']:.1e}",
              "```\n", _convergence(r)]
    rows = [{"model": m, "loglik/choice [95% CI]": format_ci(v["loglik"]),
             "accuracy": format_ci(v["accuracy"]), "loglik gain": format_ci(v["loglik_gain"])}
            for m, v in h["table"].items()]
    parts += [f"Held out: each user's last {config['n_test']} choices ({h['n_test']} in all); "
              f"shrinkage {h['shrinkage']:g} pseudo-choices chosen on validation from "
              f"{', '.join(f'{g:g}' for g in h['grid'])}.\n", "```",
              format_table(rows, list(rows[0])), "```\n"]
    raw = r["raw"]
    if "ud" not in r:
        spec = raw["spectrum"]
        parts += ["### 3. Heads and diagnostics (study.panel_diagnostics; `raw`)\n",
                  f"Head singular values / largest: {np.round(spec['relative'], 4).tolist()} "
                  f"(numerical rank {spec['rank']}, rtol 1e-5). Personalized design: "
                  f"{raw['personalized']['explanation']} Population design (one shared reward): "
                  f"{raw['population']['explanation']} (no UD bootstrap: section ud not run)\n"]
        return parts
    u = r["ud"]
    parts += ["### 3. Heads and UD with uncertainty (ud_bootstrap.ud_bootstrap; `ud`, `raw`)\n",
              "Singular values of the standardized heads: "
              f"{np.round(u['point_singular_values'], 3).tolist()}; "
              f"noise floor τ = {u['tau']:.3g} (the {u['level']:.0%} quantile of the bootstrap head "
              f"noise's top singular value): resolved rank {u['point_rank']} "
              f"(replicates' {u['level']:.0%} CI [{u['rank_ci'][0]:g}, {u['rank_ci'][1]:g}]); numerical "
              f"rank at rtol 1e-5, as `jaxpa run real` reports it: {raw['spectrum']['rank']}.\n", "```"]
    med = lambda k: _g(float(np.median(u[k])))
    rows = [{"heads": f"resolved (rank {u['point_rank']})",
             "UD holds in": f"{u['frac_resolved']:.0%}",
             "lambda_D median [CI]": f"{med('lambda_D_resolved')} [{_g(u['lambda_D_ci'][0])}, "
                                     f"{_g(u['lambda_D_ci'][1])}]"},
            {"heads": "raw", "UD holds in": f"{u['frac_raw']:.0%}",
             "lambda_D median [CI]": f"{med('lambda_D_raw')} [{_g(u['lambda_D_raw_ci'][0])}, "
                                     f"{_g(u['lambda_D_raw_ci'][1])}]"}]
    grid, chosen = np.asarray(config["grid"]), np.asarray(u["shrinkage"])
    picks = ", ".join(f"{g:g}: {np.mean(chosen == g):.0%}" for g in grid if np.any(chosen == g))
    parts += [format_table(rows, list(rows[0])), "```\n",
              f"Shrinkage chosen by the replicates (out-of-bag choices): {picks}.\n",
              f"Point estimate with resolved heads: dim D = {u['resolved']['dim_D']}, rank Σ* = "
              f"{u['resolved']['rank_sigma']}. Raw heads at the chosen shrinkage (the diagnostics "
              f"`jaxpa run real` reports): {raw['personalized']['explanation']} "
              f"Population design (one shared reward): {raw['population']['explanation']}\n"]
    return parts


def _coverage(r: dict) -> list[str]:
    c = r["coverage"]
    parts = ["### 4. Coverage (coverage, study.panel_coverage; `coverage`)\n",
             "Least covered decision directions (smallest eigenvalues of Σ* on D, standardized "
             "features):\n"]
    parts += [f"{i + 1}. {_direction(w)}: eigenvalue {w['eigenvalue']:.3g} "
              f"({w['relative']:.2g} of the largest)" for i, w in enumerate(c["worst"])]
    cov, g = c["random"], c["greedy"]
    rows = [{"users m": int(m), "P(cover D)": f"{f:.2f}", "median lambda_D": f"{np.median(l):.3g}"}
            for m, f, l in zip(cov["sizes"], cov["covered_fraction"], cov["lambda_D"])]
    labels = c["user_labels"]
    picks = ", ".join(str(labels[i]) for i in g["order"][:10])
    random = (f"90% cover D from m = {cov['users_needed_90']}"
              if cov["users_needed_90"] is not None else
              f"no subset size covers D in 90% of the draws (up to all {max(cov['sizes'])} users)")
    greedy = (f"covers D after {g['users_to_cover']} user(s)" if g["users_to_cover"] is not None
              else f"does not cover D within its {len(g['order'])} picks")
    parts += ["", f"Random subsets of m users ({cov['lambda_D'].shape[1]} draws each): {random}. "
              f"Greedy pick (largest information gain first, in pick order): {greedy}; first "
              f"picks: {picks}.\n", "```", format_table(rows, list(rows[0])), "```\n"]
    return parts


def _simulations(r: dict, config: dict) -> list[str]:
    parts = []
    if "simulate" in r:
        rows = [{"learner": k, "R(T)": f"{s['final_mean']:.1f}",
                 "R(T)-R(T/2) [CI]": f"{s['added_mean']:.1f} [{s['added_low']:.1f}, "
                                     f"{s['added_high']:.1f}]",
                 "late slope [CI]": f"{s['slope']:.2f} [{s['slope_low']:.2f}, "
                                    f"{s['slope_high']:.2f}]",
                 "stuck": f"{s['stuck_fraction']:.2f}", "verdict": s["verdict"]}
                for k, v in r["simulate"].items() for s in [v["stats"]]]
        parts += ["### 5. What personalization would cost (simulation.simulate_learners; `simulate`)\n",
                  f"Calibrated population with resolved heads, {r['instance']['n_prompts']} choice sets "
                  f"as prompts, {config['feedback']} feedback, T = {config['horizon']}, "
                  f"{config['seeds']} seeds "
                  f"(regret.png).\n", "```", format_table(rows, list(rows[0])), "```\n"]
    if "budget" in r:
        b = r["budget"]
        mean = np.asarray(b["subopt"]).mean(axis=-1)
        rows = [{"users": int(n), **{f"B={int(B)}": f"{v:.3g}" for B, v in zip(b["budgets"], m)}}
                for n, m in zip(b["users"], mean)]
        on = b["online"]
        rows_on = [{"users": int(n), "deployed regret/round": f"{d.mean():.3g}",
                    "regret/round while learning": f"{c.mean():.3g}"}
                   for n, d, c in zip(b["users"], on["deployed"], on["collection"])]
        parts += ["### 6. Diversity versus volume (simulation.subopt_for_budget, greedy_for_budget; "
                  "`budget`)\n", volume_sentence(r) + "\n",
                  f"Offline: mean SubOpt on the whole population of the plug-in policy fitted on B "
                  f"comparisons (policy '{b['policy']}') from random subsets of n users "
                  f"({np.shape(b['subopt'])[-1]} draws per cell; budget.png):\n", "```",
                  format_table(rows, list(rows[0])), "```\n",
                  f"Online: greedy learns for B = {b['online_budget']} rounds from n users, then "
                  f"serves everyone ({np.shape(on['deployed'])[-1]} draws):\n", "```",
                  format_table(rows_on, list(rows_on[0])), "```\n"]
    return parts


def markdown(summary: dict) -> str:
    """The report's text (verdict first) from the summary (config, metadata, results)."""
    r, config = summary["results"], summary["config"]
    parts = [f"# Personalization audit of {r['log']['source']}\n",
             f"`jaxpa audit` (jax {summary['metadata']['jax']}, {summary['metadata']['backend']}; "
             f"seed {config['seed']}, label {config['label']!r}; {summary['seconds']:.0f} s)\n"]
    parts += ["## Decision\n", "\n".join(f"- {line}" for line in decision_box(r)) + "\n"]
    if "ud" in r:
        parts.append(verdict_paragraph(r, config))
    parts += _evidence(r, config)
    if "coverage" in r:
        parts += _coverage(r)
    parts += _simulations(r, config)
    return "\n".join(parts)


BULKY = ("holds_resolved", "holds_raw", "lambda_D_resolved", "lambda_D_raw", "coverage_resolved",
         "rank", "shrinkage", "converged", "grad_norm", "iterations")


def split_arrays(results: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """(results without their bulky arrays, those arrays for curves.npz): regret and mistakes of
    every simulated learner, the bootstrap replicates, the offline SubOpt cells."""
    r = copy.deepcopy(results)
    arrays = {}
    for label, s in r.get("simulate", {}).items():
        arrays[f"regret/{label}"] = s.pop("regret")
        arrays[f"mistakes/{label}"] = s.pop("mistakes")
        arrays["checkpoints"] = s.pop("checkpoints")
    for k in BULKY:
        if k in r.get("ud", {}):
            arrays[f"bootstrap/{k}"] = np.asarray(r["ud"].pop(k))
    if "budget" in r:
        arrays["budget/subopt"] = np.asarray(r["budget"].pop("subopt"))
    return r, arrays


OUTPUTS = ("report.md", "summary.json", "curves.npz", "heads.csv") + tuple(
    name for name, _, _ in FIGURES)


def heads_file(r: dict) -> list[dict]:
    """heads.csv's rows (heads.heads_rows) from the results' ``heads``."""
    h = r["heads"]
    table = {k: np.asarray(h[k]) for k in ("theta", "std_errors", "coords", "coord_se")}
    return heads_rows(h["labels"], h["choices"], h["thin"], r["log"]["features"], table,
                      len(h["direction_words"]))


def write_audit(store: Store, results: dict, config: dict, metadata: dict,
                seconds: float) -> list[str]:
    """Every output of the audit as one unit (module docstring). Outputs of an earlier run into
    the same folder that this run does not write (a rerun with fewer --sections) are removed, so
    the folder and its manifest hold only this run's files. Returns the names written."""
    stamp = config_hash(config)
    light, arrays = split_arrays(results)
    summary = {"config": config, "metadata": metadata, "seconds": seconds, "results": light}
    text = markdown(dict(summary, results=results))
    figures = audit_figures(results)
    names = ["report.md", "summary.json", "curves.npz", "heads.csv"] + list(figures)
    try:
        store.begin_outputs(may_write=OUTPUTS)
        store.write_text("report.md", text, stamp)
        store.write_json("summary.json", summary, stamp)
        store.write_npz("curves.npz", arrays, stamp)
        store.write_csv("heads.csv", heads_file(results), stamp)
        for name, fig in figures.items():
            store.write_png(name, fig, stamp)
        store.finish_outputs(stamp, metadata)
    finally:
        close(figures.values())
    return names + [MANIFEST]
