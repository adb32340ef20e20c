"""The analysis of the lock experiment (C9): per population, learner and warm start, P(permanent
lock) per draw from the engine's continued runs (``Run.permanent``: diagnostics.permanent_lock),
the claims of experiments/lock/rules.py, and a table of P(permanent lock) against n0.

C9a's contradictions are rerun with fresh seeds (``results.rerun``: the contradicting draws only)
to see whether they reproduce."""
from __future__ import annotations

import numpy as np

from jaxpa.diagnostics.lock_persistence import wilson_interval
from jaxpa.experiment.outputs import Section
from experiments.lock import rules


def counts(run) -> tuple[np.ndarray, np.ndarray]:
    """(k, n) per draw: healthy seeds that locked for good, healthy seeds."""
    p = run.permanent
    return (p["permanent_run"] & p["healthy"]).sum(-1), p["n_healthy"]


def rerun_contradictions(results, pop: str, label: str, draws) -> np.ndarray:
    """[B] bool: for each draw in ``draws``, whether the engine's rerun with fresh seeds
    (``results.rerun``) locks for good again (False for the other draws)."""
    out = np.zeros(np.size(results.populations[pop].diagnostics.ud_holds), bool)
    draws = np.asarray(draws, int)
    if draws.size:
        k, _ = counts(results.rerun(pop, label, draws))
        out[draws] = k > 0
    return out


def lock_claims(robust: str, fragile: str, *, learners: tuple[str, ...], n0: list[int]):
    """The ``analyze`` of the lock experiment: robust / fragile are the population labels where
    robust UD holds / fails; learners: registry names, each run over the warm starts n0."""
    def analyze(results):
        d_r = results.populations[robust].diagnostics
        d_f = results.populations[fragile].diagnostics
        claims, rows = [], []
        for name in learners:
            k_by, n_by = [], []
            for n in n0:
                label = f"{name}[warm_start={n}]"
                run_r, run_f = results.run(robust, label), results.run(fragile, label)
                k_r, n_r = counts(run_r)
                k_f, n_f = counts(run_f)
                det = results.size.horizon >= rules.BURN_IN_MULTIPLE * np.asarray(d_r.unlock_time)
                out_r = rules.robust_outcomes(k_r, n_r, d_r.ud_holds, d_r.robust_ud_holds, det)
                again = rerun_contradictions(results, robust, label,
                                             np.flatnonzero(out_r == "contradict"))
                claims.append(rules.judge_no_permanent_lock(
                    name, n, k_r, n_r, d_r.ud_holds, d_r.robust_ud_holds, again,
                    int(run_r.permanent["n_unhealthy"].sum()), det))
                claims.append(rules.judge_locks_for_good(
                    name, n, k_f, n_f, d_f.ud_holds, d_f.robust_ud_holds,
                    int(run_f.permanent["n_unhealthy"].sum())))
                test = rules.fragile_outcomes(k_f, n_f, d_f.ud_holds, d_f.robust_ud_holds)
                live = test != "excluded"
                k_by.append(int(k_f[live].sum()))
                n_by.append(int(n_f[live].sum()))
                for pop, run, k, nn in ((robust, run_r, k_r, n_r), (fragile, run_f, k_f, n_f)):
                    K, N = int(k.sum()), int(nn.sum())
                    lo, hi = wilson_interval(K, N)
                    late = run.permanent["late_regret"]
                    rows.append({"population": pop, "learner": name, "n0": n,
                                 "P(lock at T)": float(np.nanmean(run.permanent["p_lock"])),
                                 "P(permanent lock)": K / max(N, 1), "ci": [float(lo), float(hi)],
                                 "draws with a permanent lock": int((k > 0).sum()),
                                 "draws": int(k.size),
                                 "regret added over [T, cT]": float(np.mean(late))})
            claims.append(rules.judge_warm_start_lowers(name, n0, k_by, n_by))
        table = ("| population | learner | n0 | P(lock at T) | P(permanent lock) [CI] | draws "
                 "with one | regret added over [T, cT] |\n|---|---|---|---|---|---|---|\n"
                 + "\n".join(f"| {r['population']} | {r['learner']} | {r['n0']} | "
                             f"{r['P(lock at T)']:.3f} | {r['P(permanent lock)']:.3f} "
                             f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | "
                             f"{r['draws with a permanent lock']}/{r['draws']} | "
                             f"{r['regret added over [T, cT]']:.1f} |" for r in rows))
        text = ("Permanent lock-in (a cell locked over [T/2, T] and still locked on the same "
                "response over the continued run's last half), per population, learner and warm "
                "start; the diagnostics decide each draw's UD and robust-UD status:\n\n" + table
                + "\n\n" + "\n".join(f"- **{c.name}** ({c.verdict}): {c.evidence}"
                                     for c in claims))
        return [Section("C9 permanent lock-in on the robust pair", text=text, claims=claims,
                        data={"permanent_lock": rows}, rows=rows, name="lock")]

    return analyze
