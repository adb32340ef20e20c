"""The online claims (C1, C2, C3, C5) on matched populations, as an experiment's ``analyze``.

``online_claims(holds, fails, ...)`` returns the function an ``Experiment`` calls with its
ExperimentResults: per instance draw, each learner's growth class (diagnostics.curve_stats.growth)
and each greedy warm start's lock-in probability; then the claim rules of jaxpa/experiment/rules.py, a table of
lock-in against the warm start n0 for both sides, and a check that the two sides are matched
(Delta_min, kappa, share of y* = y0).
"""
from __future__ import annotations

import numpy as np

from jaxpa.diagnostics.curve_stats import growth
from jaxpa.experiment import rules
from jaxpa.experiment.outputs import Section, matching_table

import jax


def _growth(run, floor):
    return growth(run.checkpoints, run.regret, floor=floor)


def _ud(results, pop) -> np.ndarray:
    return np.asarray(results.populations[pop].diagnostics.ud_holds, bool)


def lock_table(results, pops, greedy_labels) -> tuple[str, list[dict]]:
    """Lock-in against the warm start: per side and n0, the mean over draws of P(a seed locks a
    cell) and of the share of visited cells locked, with the old stuck fraction beside them."""
    rows = []
    for pop in pops:
        for label in greedy_labels:
            r = results.run(pop, label)
            if r.lock is None:
                continue
            rows.append({"population": pop, "learner": label,
                         "n0": r.hparams.get("warm_start", 0),
                         "P(seed locks a cell)": float(np.mean(r.lock["seed_any"])),
                         "locked cell share": float(np.mean(r.lock["cell_fraction"])),
                         "stuck fraction": float(np.mean(r.stats.stuck_fraction)),
                         "mean R(T)": float(r.regret[..., -1].mean())})
    text = ("| population | n0 | P(seed locks a cell) | locked cell share | stuck fraction | "
            "mean R(T) |\n|---|---|---|---|---|---|\n" + "\n".join(
                f"| {r['population']} | {r['n0']} | {r['P(seed locks a cell)']:.3f} | "
                f"{r['locked cell share']:.4f} | {r['stuck fraction']:.3f} | {r['mean R(T)']:.1f} |"
                for r in rows))
    return text, rows


def online_claims(holds: str, fails: str, *, greedy: tuple[str, ...], warm: str, cold: str,
                  consistent: tuple[str, ...], floor: float = 0.5):
    """The ``analyze`` of an online experiment with a UD-holds and a UD-fails population.

    greedy: the labels of greedy's warm-start grid (for the lock-in table); warm: the label C1
    judges (greedy after a warm start); cold: greedy without one (C3); consistent: the labels of
    the consistent learners (C2, C5); floor: the growth classes' slope floor.
    """
    def analyze(results):
        ud_h, ud_f = _ud(results, holds), _ud(results, fails)
        g_warm = _growth(results.run(holds, warm), floor)
        c1 = rules.judge(
            "C1 sufficiency", f"With UD, greedy after a warm start ({warm}) has bounded regret.",
            rules.greedy_bounded_under_ud(g_warm["class"], ud_h),
            f"Per draw of '{holds}', the per-doubling regret increments of {warm} must die out "
            f"(slope floor {floor}); median late slope {np.median(g_warm['slope']):.2f}.")
        outcomes, notes, classes_f, evidence = [], [], [], []
        for label in consistent:
            gf = _growth(results.run(fails, label), floor)
            gh = _growth(results.run(holds, label), floor)
            classes_f.append(gf["class"])
            ok, note = rules.flatter_control(gf["slope"][~ud_f] if (~ud_f).any() else [np.nan],
                                             gh["slope"][ud_h] if ud_h.any() else [np.nan])
            out = rules.consistent_pay_log_t(gf["class"], ud_f)
            # a learner that is not much flatter with UD gives no evidence on UD: excluded
            outcomes.append(out if ok else np.full(out.shape, "excluded"))
            linear = int(np.sum(gf["class"] == "linear"))
            notes.append(f"{label}: {note}; linear (not consistent) on {linear} draws")
            if ok:
                evidence.append(label)
        c2 = rules.judge(
            "C2 necessity", "Without UD, consistent learners (" + ", ".join(consistent)
            + ") keep paying: regret grows like log T, and much less so with UD.",
            np.concatenate(outcomes),
            "Per (learner, draw of '" + fails + "'): growth must persist; a learner counts only "
            "where its control holds (evidence from: " + (", ".join(evidence) or "none") + ").",
            control=bool(evidence), control_note="; ".join(notes))
        lock_f = results.run(fails, cold).lock["seed_any"]
        lock_h = results.run(holds, cold).lock["seed_any"]
        c3 = rules.greedy_locks_without_ud(lock_f, ud_f, lock_h, ud_h)
        d = results.populations[fails].diagnostics
        k = int(results.populations[fails].instances.heads.shape[-1])
        c5 = rules.judge(
            "C5 span is not enough", "Heads spanning R^k without (head, optimal response) pairs "
            "covering D: UD fails and consistent learners pay log T.",
            rules.span_not_enough(d.head_rank, k, ud_f, rules.majority_class(np.stack(classes_f))),
            f"Draws of '{fails}' with head rank {k}: {int(np.sum(np.asarray(d.head_rank) == k))}"
            f" of {ud_f.size}; UD fails on {int((~ud_f).sum())}.")
        match_text, match_rows = matching_table(results, (holds, fails))
        lock_text, lock_rows = lock_table(results, (holds, fails), greedy)
        growth_rows = []
        for (pop, label), r in results.runs.items():
            g = _growth(r, floor)
            for b in range(r.regret.shape[0]):
                growth_rows.append({"population": pop, "draw": b, "learner": label,
                                    "class": str(g["class"][b]), "rho": float(g["rho"][b]),
                                    "slope": float(g["slope"][b]),
                                    "slope_low": float(g["slope_low"][b]),
                                    "increment": float(g["increment"][b])})
        text = ("The two sides (their diagnostics, not their names, decide each draw's UD "
                "status):\n\n" + match_text + "\n\nLock-in against the warm start n0 (greedy; a "
                "cell is locked when its last-half visits all served one suboptimal response):"
                "\n\n" + lock_text + "\n\n" + "\n".join(f"- **{c.name}** ({c.verdict}): "
                                                         f"{c.evidence}" for c in (c1, c2, c3, c5)))
        return [Section("Claims on matched populations", text=text, claims=[c1, c2, c3, c5],
                        data={"matching": match_rows, "lock_in": lock_rows},
                        rows=growth_rows + lock_rows, name="growth")]

    return analyze
