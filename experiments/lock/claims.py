"""The analysis of the lock experiment (C9): per population, learner and warm start, P(permanent
lock) per draw from the engine's continued runs (``Run.permanent``: diagnostics.permanent_lock),
the claims of experiments/lock/rules.py, and a table of P(permanent lock) against n0.

C9a's and C9d's contradictions are rerun with fresh seeds (``results.rerun``: the contradicting
draws only) to see whether they reproduce. C9d reads each draw's strict self-consistent locks
(diagnostics.fixed_points, computed here on the host: about a second a draw of the robust pair),
and the section adds, per learner and n0, the 2 x 2 table of draws (some strict self-consistent
lock exists or not) x (some seed locks for good or not) over both populations, and how the lock
condition agrees with robust UD."""
from __future__ import annotations

import jax
import numpy as np

from jaxpa.diagnostics.fixed_points import escape_time, observed_pattern, self_consistent_locks
from jaxpa.diagnostics.lock_persistence import wilson_interval
from jaxpa.experiment.outputs import Section
from experiments.lock import rules
from experiments.lock.figure import lock_figure


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


def lock_sets(instances) -> list:
    """The ``LockSet`` of every draw of a batch of instances [B]."""
    B = np.shape(instances.reference)[0]
    return [self_consistent_locks(jax.tree.map(lambda x: x[b], instances)) for b in range(B)]


def outside_seeds(run, instances, sets, draws):
    """Per draw of ``draws`` (indices into the Run's leading axis, the instances and ``sets``
    aligned with it): (seeds locked for good outside the set and kept for at least
    BURN_IN_MULTIPLE times the pattern's escape time, slower such seeds, the smallest escape
    time among the slow ones): three [len(draws)] arrays."""
    pats = observed_pattern(run.cells)
    out = rules.pattern_outside(run.permanent["permanent_run"], run.permanent["healthy"], pats,
                                [sets[b].locks for b in draws])
    length = int(np.asarray(run.checkpoints)[-1])
    fast, slow, first = (np.zeros(len(draws), int), np.zeros(len(draws), int),
                         np.full(len(draws), np.inf))
    for i, s in zip(*np.nonzero(out)):
        inst = jax.tree.map(lambda x: x[draws[i]], instances)
        tau = escape_time(inst, pats[i, s])
        if length >= rules.BURN_IN_MULTIPLE * tau:
            fast[i] += 1
        else:
            slow[i] += 1
            first[i] = min(first[i], tau)
    return fast, slow, first


def fixed_point_draws(results, pops, sets, label):
    """C9d's per-draw arrays over the populations ``pops`` (concatenated in order) for one grid
    point: (k, n, outside, slow, slow_times, reproduced) (``outside_seeds`` on the runs'
    last-half cells, and on the contradicting draws' reruns with fresh seeds)."""
    parts = []
    for pop in pops:
        run = results.run(pop, label)
        insts = results.populations[pop].instances
        B = len(sets[pop])
        k, n = counts(run)
        fast, slow, first = outside_seeds(run, insts, sets[pop], list(range(B)))
        again = np.zeros(B, bool)
        bad = np.flatnonzero((fast > 0) & np.array([s.computed for s in sets[pop]]))
        if bad.size:
            rr = results.rerun(pop, label, bad)
            sub = jax.tree.map(lambda x: x[bad], insts)
            again[bad] = outside_seeds(rr, sub, [sets[pop][b] for b in bad],
                                       list(range(bad.size)))[0] > 0
        parts.append((k, n, fast, slow, first, again))
    return tuple(np.concatenate(x) for x in zip(*parts))


def two_by_two(a, b) -> list[int]:
    """[a & b, a & ~b, ~a & b, ~a & ~b] counts of two [B] bool arrays."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return [int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()), int((~a & ~b).sum())]


def lock_claims(robust: str, fragile: str, *, learners: tuple[str, ...], n0: list[int]):
    """The ``analyze`` of the lock experiment: robust / fragile are the population labels where
    robust UD holds / fails; learners: registry names, each run over the warm starts n0."""
    def analyze(results):
        d_r = results.populations[robust].diagnostics
        d_f = results.populations[fragile].diagnostics
        claims, rows, fp_rows, points = [], [], [], []
        sets = {pop: lock_sets(results.populations[pop].instances) for pop in (robust, fragile)}
        every = sets[robust] + sets[fragile]
        exists = np.array([np.nan if s.exists is None else float(s.exists) for s in every])
        robust_ud = np.r_[np.asarray(d_r.robust_ud_holds), np.asarray(d_f.robust_ud_holds)]
        gap = np.r_[np.asarray(d_r.min_gap), np.asarray(d_f.min_gap)]
        labels = [f"{pop} {b} (robust UD {'holds' if robust_ud[i] else 'fails'}, "
                  f"Delta_min {gap[i]:.3f}, {'?' if s.exists is None else len(s.locks)} strict "
                  "locks)" for i, (pop, b, s) in enumerate(
                      [(pop, b, s) for pop in (robust, fragile) for b, s in enumerate(sets[pop])])]
        ud = np.r_[np.asarray(d_r.ud_holds), np.asarray(d_f.ud_holds)]
        computed = np.isfinite(exists)
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
                for group, kk, nn in (("robust UD holds", k_r, n_r), ("robust UD fails", k_f, n_f)):
                    points.append({"learner": name, "n0": n, "panel": "robust UD", "group": group,
                                   "k": int(kk.sum()), "n": int(nn.sum())})
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
                k, nn, outside, slow, slow_t, again = fixed_point_draws(
                    results, (robust, fragile), sets, label)
                unhealthy = sum(int(r.permanent["n_unhealthy"].sum()) for r in (run_r, run_f))
                claims.append(rules.judge_fixed_point(name, n, k, nn, exists, outside, again,
                                                      labels, unhealthy, slow, slow_t))
                live = computed & (nn > 0)
                for group, sel in (("lock-free", live & (exists == 0)),
                                   ("a strict lock exists", live & (exists == 1))):
                    points.append({"learner": name, "n0": n, "panel": "self-consistent lock",
                                   "group": group, "k": int(k[sel].sum()),
                                   "n": int(nn[sel].sum())})
                fp_rows.append({"learner": name, "n0": n, "permanent seeds": int(k.sum()),
                                "table": two_by_two(exists[live] == 1, k[live] > 0),
                                "robust UD table": two_by_two(~robust_ud[nn > 0], k[nn > 0] > 0),
                                "outside": int(outside.sum()), "slow": int(slow.sum())})
            claims.append(rules.judge_warm_start_lowers(name, n0, k_by, n_by))
        table = ("| population | learner | n0 | P(lock at T) | P(permanent lock) [CI] | draws "
                 "with one | regret added over [T, cT] |\n|---|---|---|---|---|---|---|\n"
                 + "\n".join(f"| {r['population']} | {r['learner']} | {r['n0']} | "
                             f"{r['P(lock at T)']:.3f} | {r['P(permanent lock)']:.3f} "
                             f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | "
                             f"{r['draws with a permanent lock']}/{r['draws']} | "
                             f"{r['regret added over [T, cT]']:.1f} |" for r in rows))
        agree = two_by_two(exists[computed] == 1, ~robust_ud[computed])
        fp_text = (
            f"Strict self-consistent locks (diagnostics.fixed_points; computed on "
            f"{int(computed.sum())} of {len(every)} draws, {sum(s.n_lp for s in every)} LPs after "
            f"the screen of {sum(s.n_configs for s in every)} configurations): a lock exists on "
            f"{int((exists[:len(sets[robust])] == 1).sum())} of {len(sets[robust])} {robust} "
            f"and {int((exists[len(sets[robust]):] == 1).sum())} of {len(sets[fragile])} "
            f"{fragile} draws. Against robust UD (draws): lock & robust UD fails {agree[0]}, "
            f"lock & robust UD holds {agree[1]}, no lock & robust UD fails {agree[2]}, no lock & "
            f"robust UD holds {agree[3]}; UD holds on {int(ud.sum())} of {len(ud)} draws.\n\n"
            "Draws of both populations by (some strict self-consistent lock) x (some seed locks "
            "for good):\n\n| learner | n0 | lock & permanent | lock & none | no lock & permanent "
            "| no lock & none | seeds locked for good (outside the set: kept >= 4 escape times "
            "/ slower) | robust UD fails & permanent, & none; holds & permanent, & none |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(
                f"| {r['learner']} | {r['n0']} | " + " | ".join(str(x) for x in r["table"])
                + f" | {r['permanent seeds']} ({r['outside']} / {r['slow']}) | "
                + ", ".join(str(x) for x in r["robust UD table"]) + " |" for r in fp_rows))
        text = ("Permanent lock-in (a cell locked over [T/2, T] and still locked on the same "
                "response over the continued run's last half), per population, learner and warm "
                "start; the diagnostics decide each draw's UD and robust-UD status:\n\n" + table
                + "\n\n" + fp_text + "\n\n"
                + "\n".join(f"- **{c.name}** ({c.verdict}): {c.evidence}" for c in claims))
        fixed_points = {"tables": fp_rows, "draws": labels,
                        "n_locks": [len(s.locks) if s.computed else None for s in every],
                        "robust_ud": robust_ud.tolist(), "ud": ud.tolist()}
        return [Section("C9 permanent lock-in on the robust pair", text=text, claims=claims,
                        figures={"permanent_lock.png": lock_figure(points, list(n0))},
                        data={"permanent_lock": rows, "fixed_points": fixed_points,
                              "figure": points}, rows=rows, name="lock")]

    return analyze
