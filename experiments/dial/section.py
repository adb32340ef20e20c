"""The dial experiment's analysis (issue 16): which constant of a population predicts greedy's
plateau, and its probability of locking a user onto a wrong response?

``dial_analysis(dials, draws, replication, ...)`` returns the ``analyze`` of an experiment whose
populations are controlled dials (``jaxpa.envs.dials``: each draw moved along a dial is one *line*,
on which N, K, d, Delta_min and kappa stay fixed), many F1-style draws (everything varies: where
C7' names its constant) and fresh draws of other families and shapes (where C7' checks the same
constant again), run with greedy at a grid of warm starts n0 (labels with ``warm_start`` in their
hyperparameters) and cell tracking.

The pieces: ``dial_measure`` (per instance and n0 the plateau, lock-in probability, burn-in and
every candidate constant; rank correlations and log-log slopes against them, within dial lines and
across draws), ``dial_claims`` (C7 lambda_D and C7' best constant, their rules),
``dial_tables`` (CSV rows, markdown tables) and ``dial_figure``. This module puts them into the
report's sections.
"""
from __future__ import annotations

import numpy as np

from jaxpa.envs.families import SIZE_NAMES
from jaxpa.experiment.claims import Claim
from experiments.dial.claims import (BEST_NAME, BEST_STATEMENT, best_constant_claim,
                                          claim_stats, lambda_claim, line_outcome)
from experiments.dial.measure import (CANDIDATES, CONTROLS, MIN_RANGE, SIGN, association_rows,
                                      dial_lines, measure)
from experiments.dial.figure import figure
from experiments.dial.tables import (association_table, describe_rows, instance_rows,
                                          per_dial_table, tidy)
from jaxpa.experiment.outputs import Section


def describe_draws(results, pops) -> str:
    """What a set of draws populations is, for a claim's scope: per population its draws, family
    (or build), shape and other options, e.g. "64 f1 (N=6, M=6, K=4, d=3, k=2; min_gap=0.25)"."""
    out = []
    for pop in pops:
        p = results.populations[pop]
        B, M, K, d = p.instances.features.shape
        N, k = p.instances.heads.shape[1:]
        shape = f"N={N}, M={M}, K={K}, d={d}, k={k}"
        opts = ", ".join(f"{k}={v}" for k, v in dict(p.population.options).items()
                         if k not in SIZE_NAMES)
        what = p.population.family or p.population.describe()["source"] or pop
        out.append(f"{B} {what} ({shape}{'; ' + opts if opts else ''})")
    return ", ".join(out)


def dial_analysis(dials, draws, replication=(), *, n0_focus: int = 300, min_plays: int = 20,
                  rtol: float = 1e-5, n_boot: int = 2000, min_draws: int = 10):
    """The ``analyze`` of the dial experiment (module docstring). dials, draws, replication:
    population labels."""
    dials, draws, replication = tuple(dials), tuple(draws), tuple(replication)

    def analyze(results):
        horizon = results.size.horizon
        data, how = measure(results, dials + draws + replication, min_plays, rtol)
        n0s = sorted(next(iter(data.values()))["n0"])
        focus = n0_focus if n0_focus in n0s else n0s[len(n0s) // 2]
        assoc = association_rows(data, dials, draws, n0s, n_boot, replication)
        at = {(r["scope"], r["target"], r["candidate"]): r for r in assoc
              if r["n0"] == focus}
        across = ({c: at[("draws", "plateau", c)] for c in CANDIDATES} if draws else {})
        c7, line_rows = lambda_claim(dial_lines(data, dials, focus, "lambda_D"),
                                     across.get("lambda_D"), focus, n_boot)
        level = 1 - 0.05 / (len(CANDIDATES) - len(CONTROLS))

        def stats(pops, lev):
            cat = lambda f: np.concatenate([f(pop) for pop in pops])
            x = {c: cat(lambda pop: data[pop]["constants"][c]) for c in CANDIDATES}
            return claim_stats(x, cat(lambda pop: data[pop]["n0"][focus]["plateau"]),
                               {k: x[k] for k in CONTROLS}, 2 * n_boot, lev,
                               groups=cat(lambda pop: np.full(len(data[pop]["meta"]["draw"]), pop)))

        adjusted = stats(draws, level) if draws else {}
        replicated = stats(replication, 0.95) if replication else None
        counts = {}
        for c in CANDIDATES:
            if c in CONTROLS:
                continue
            outs = [line_outcome(line, SIGN[c], n_boot)[0]
                    for line in dial_lines(data, dials, focus, c)]
            counts[c] = (outs.count("agree"), outs.count("contradict"),
                         sum(o != "excluded" for o in outs))
        scope = (describe_draws(results, draws),
                 describe_draws(results, replication) if replication else "none")
        best = best_constant_claim(adjusted, counts, focus, min_draws, level, replicated,
                                   scope) if draws else Claim(
            BEST_NAME, BEST_STATEMENT, "inconclusive", "no draws population")
        desc = describe_rows(data, horizon)
        ok_share = float(np.mean([np.mean(st["horizon_ok"]) for d in data.values()
                                  for st in d["n0"].values()]))
        desc_text = ("| population | n0 | instances | median plateau | mean lock-in | median "
                     "burn-in | share T - n0 >= 4 burn-ins |\n|---|---|---|---|---|---|---|\n"
                     + "\n".join(f"| {r['population']} | {r['n0']} | {r['instances']} | "
                                 f"{r['plateau_median']:.3g} | {r['lock_mean']:.3f} | "
                                 f"{r['burn_in_median']:.0f} | {r['horizon_ok_share']:.2f} |"
                                 for r in desc))
        text = [f"Greedy (bt_ref, ridge 1) with warm starts n0 in {n0s}, T = {horizon}; a seed is "
                f"locked when it has {how}. The plateau is the mean of R(T) - R(n0) over the "
                f"unlocked seeds; the lock-in rate (locked + 1/2) / (seeds + 1). Share of "
                f"(instance, n0) with T - n0 >= 4 burn-ins: {ok_share:.2f}.\n", desc_text]
        for n0 in n0s:
            text += [f"\n**n0 = {n0}**: Spearman rho and log-log slope [95% bootstrap CI]; within "
                     "dial lines: fixed effects over the lines where the candidate moves "
                     f"{MIN_RANGE}-fold; across draws also the slope beyond each control "
                     f"({', '.join(CONTROLS)}). An infinite constant ranks above every finite "
                     "one here and is left out of the slopes (claim C7' leaves such draws out "
                     "of its test and counts them).\n",
                     association_table(assoc, n0, bool(dials), bool(draws))]
            if replication:
                text += [f"\nReplication draws ({scope[1]}) at n0 = {n0}:\n",
                         association_table(assoc, n0, False, True, "replication draws")]
        if dials:
            text += [f"\nWithin-line log-log slope of the plateau per dial at n0 = {focus}:\n",
                     per_dial_table(assoc, dials, focus)]
        text.append("\n" + "\n".join(f"- **{c.name}** ({c.verdict}): {c.evidence}"
                                     for c in (c7, best)))
        figs = {}
        if dials or draws:
            figs = {name: figure(data, dials, draws, focus, target, assoc, min_draws, replication)
                    for name, target in (("plateau.png", "plateau"), ("lock.png", "lock"))}
        summary = {"n0_focus": focus, "lock_rule": how, "horizon_ok_share": ok_share,
                   "claim_level": level, "claim_stats": adjusted,
                   "replication_stats": replicated, "scope": list(scope),
                   "targets": desc, "c7_lines": line_rows,
                   "line_counts": {c: list(v) for c, v in counts.items()}}
        return [Section("Which constant predicts greedy's plateau", text="\n".join(text),
                        figures=figs, data=summary, claims=[c7, best], rows=instance_rows(data),
                        name="dial_instances"),
                Section("Associations", text="Every association row: dial_associations.csv.",
                        data={"associations": assoc}, rows=[tidy(r) for r in assoc],
                        name="dial_associations")]

    return analyze
