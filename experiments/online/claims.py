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
from jaxpa.experiment import rules, verdicts
from jaxpa.experiment.claims import Claim
from jaxpa.experiment.outputs import Section, matching_table


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
                         "P(seed locks for good)": (float(np.nanmean(r.permanent["p_permanent"]))
                                                    if r.permanent is not None else float("nan")),
                         "mean R(T)": float(r.regret[..., -1].mean())})
    text = ("| population | n0 | P(seed locks a cell) | P(seed locks for good) | locked cell share | "
            "stuck fraction | mean R(T) |\n|---|---|---|---|---|---|---|\n" + "\n".join(
                f"| {r['population']} | {r['n0']} | {r['P(seed locks a cell)']:.3f} | "
                f"{r['P(seed locks for good)']:.3f} | "
                f"{r['locked cell share']:.4f} | {r['stuck fraction']:.3f} | {r['mean R(T)']:.1f} |"
                for r in rows))
    return text, rows


BURN_IN_MULTIPLE = 4.0  # a draw counts only when its horizon is >= this many unlock times


def _healthy_growth(run, floor):
    """Growth per draw from the run's healthy seeds: (growth dict, runs dropped)."""
    return verdicts.healthy_growth(run.checkpoints, run.regret, run.nonfinite_at, floor)


def _permanent(run) -> np.ndarray:
    """[B] bool: some healthy seed locked a cell for good (False when the run was not
    continued)."""
    if run.permanent is None:
        return np.zeros(run.regret.shape[0], bool)
    return (run.permanent["permanent_run"] & run.permanent["healthy"]).any(-1)


def c1_outcomes(run, ud, unlock_time, floor, multiple=BURN_IN_MULTIPLE):
    """C1 per draw: excluded where UD fails or no seed is healthy; a permanently locked seed
    contradicts; a horizon below ``multiple`` unlock times is undetermined; then the growth
    class (dies out agrees, persists or linear contradicts). Returns (outcomes, growth, dropped)."""
    g, dropped = _healthy_growth(run, floor)
    out = rules.growth_outcome(g["class"], "dies out", ("persists", "linear"),
                               excluded=("unhealthy",))
    out = verdicts.below_burn_in(out, int(run.checkpoints[-1]), unlock_time, multiple)
    out = np.where((out != "excluded") & _permanent(run), "contradict", out)
    return np.where(np.asarray(ud, bool), out, "excluded"), g, dropped


def online_claims(holds: str, fails: str, *, greedy: tuple[str, ...], warm: str, cold: str,
                  consistent: tuple[str, ...], floor: float = 0.5):
    """The ``analyze`` of an online experiment with a UD-holds and a UD-fails population.

    greedy: the labels of greedy's warm-start grid (for the lock-in table); warm: the label C1
    judges (greedy after a warm start); cold: greedy without one (C3); consistent: the labels of
    the consistent learners (C2, C5); floor: the growth classes' slope floor. Every rule reads
    healthy runs only and says how many it dropped.
    """
    def analyze(results):
        ud_h, ud_f = _ud(results, holds), _ud(results, fails)
        d_h = results.populations[holds].diagnostics
        run_w = results.run(holds, warm)
        out1, g_warm, drop1 = c1_outcomes(run_w, ud_h, d_h.unlock_time, floor)
        bad = np.flatnonzero(out1 == "contradict")
        again = np.zeros(out1.shape, bool)
        if bad.size:  # a contradiction counts as reproduced when fresh seeds contradict again
            rerun = results.rerun(holds, warm, bad)
            again[bad] = c1_outcomes(rerun, ud_h[bad], np.asarray(d_h.unlock_time)[bad],
                                     floor)[0] == "contradict"
        perm = _permanent(run_w)
        describe = lambda b: (f"(robust UD {'holds' if d_h.robust_ud_holds[b] else 'fails'}, "
                              f"Delta_min {float(d_h.min_gap[b]):.3f}, unlock time "
                              f"{float(d_h.unlock_time[b]):.3g}, growth {g_warm['class'][b]}"
                              + (", a permanent lock" if perm[b] else "") + ")")
        c1 = verdicts.judge_universal(
            "C1 sufficiency", f"With UD, greedy after a warm start ({warm}) has bounded regret "
            "on every draw.", out1,
            f"Per draw of '{holds}': a seed locked for good contradicts; a horizon below "
            f"{BURN_IN_MULTIPLE:g} unlock times is undetermined; otherwise the per-doubling regret "
            f"increments of {warm} must die out (slope floor {floor}); median late slope "
            f"{np.nanmedian(g_warm['slope']):.2f}.", reproduced=again, describe=describe,
            scope={"robust UD holds": np.asarray(d_h.robust_ud_holds, bool)},
            notes=f"{drop1} unhealthy runs dropped.")
        outcomes, notes, evidence, dropped = {}, [], [], 0
        for label in consistent:
            gf, df = _healthy_growth(results.run(fails, label), floor)
            gh, dh = _healthy_growth(results.run(holds, label), floor)
            dropped += df + dh
            ok, note = rules.flatter_control(gf["slope"][~ud_f] if (~ud_f).any() else [np.nan],
                                             gh["slope"][ud_h] if ud_h.any() else [np.nan])
            out = rules.consistent_pay_log_t(gf["class"], ud_f)
            out = np.where(gf["class"] == "unhealthy", "excluded", out)
            linear = int(np.sum(gf["class"] == "linear"))
            notes.append(f"{label}: {note}; linear (not consistent) on {linear} draws")
            if ok:  # a learner that is not much flatter with UD gives no evidence on UD
                outcomes[label] = out
                evidence.append(label)
        per = (verdicts.per_draw(np.stack(list(outcomes.values()))) if outcomes
               else np.full(ud_f.shape, "excluded"))
        c2 = rules.judge(
            "C2 necessity", "Without UD, consistent learners (" + ", ".join(consistent)
            + ") keep paying: regret grows like log T, and much less so with UD.", per,
            "Per draw of '" + fails + "' (counted once whatever the number of learners): every "
            "learner whose control holds must keep growing; one that dies out contradicts "
            "(evidence from: " + (", ".join(evidence) or "none") + f"); {dropped} unhealthy "
            "runs dropped.", control=bool(evidence), control_note="; ".join(notes))
        lock_f = results.run(fails, cold).lock["seed_any"]
        lock_h = results.run(holds, cold).lock["seed_any"]
        c3 = rules.greedy_locks_without_ud(lock_f, ud_f, lock_h, ud_h)
        d = results.populations[fails].diagnostics
        k = int(results.populations[fails].instances.heads.shape[-1])
        c5s = []
        for label in evidence:  # each consistent learner (it passes C2's control) on its own
            gf, df = _healthy_growth(results.run(fails, label), floor)
            out = rules.span_not_enough(d.head_rank, k, ud_f, gf["class"])
            out = np.where(gf["class"] == "unhealthy", "excluded", out)
            c5s.append(rules.judge(
                f"C5 span is not enough [{label}]", "Heads spanning R^k without (head, optimal "
                f"response) pairs covering D: UD fails and {label} pays log T.", out,
                f"Draws of '{fails}' with head rank {k}: "
                f"{int(np.sum(np.asarray(d.head_rank) == k))} of {ud_f.size}; UD fails on "
                f"{int((~ud_f).sum())}; {df} unhealthy runs dropped."))
        if not c5s:
            c5s.append(Claim("C5 span is not enough", "Heads spanning R^k without (head, "
                             "optimal response) pairs covering D: UD fails and consistent "
                             "learners pay log T.", "inconclusive",
                             "no learner passes C2's control: none is shown consistent"))
        match_text, match_rows = matching_table(results, (holds, fails))
        lock_text, lock_rows = lock_table(results, (holds, fails), greedy)
        growth_rows = []
        for (pop, label), r in results.runs.items():
            g, _ = _healthy_growth(r, floor)
            for b in range(r.regret.shape[0]):
                growth_rows.append({"population": pop, "draw": b, "learner": label,
                                    "class": str(g["class"][b]), "rho": float(g["rho"][b]),
                                    "slope": float(g["slope"][b]),
                                    "slope_low": float(g["slope_low"][b]),
                                    "increment": float(g["increment"][b])})
        claims = [c1, c2, c3, *c5s]
        text = ("The two sides (their diagnostics, not their names, decide each draw's UD "
                "status):\n\n" + match_text + "\n\nLock-in against the warm start n0 (greedy; a "
                "cell is locked when its last-half visits all served one suboptimal response; "
                "locked for good when a cell locked over [T/2, T] is still locked at the end of "
                "the continued run):\n\n" + lock_text + "\n\n"
                + "\n".join(f"- **{c.name}** ({c.verdict}): {c.evidence}" for c in claims))
        return [Section("Claims on matched populations", text=text, claims=claims,
                        data={"matching": match_rows, "lock_in": lock_rows},
                        rows=growth_rows + lock_rows, name="growth")]

    return analyze
