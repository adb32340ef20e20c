"""Measurements of the dial experiment (``dial_section``): per instance and warm start n0 the
plateau, lock-in probability and burn-in of greedy (``stats``), every candidate
constant of ``diagnostics.constants``, and how well each candidate goes with the plateau and the
lock-in rate across instances.

``measure`` returns ``data``: {population: {"meta": {"draw", "dial"} [B], "constants":
{candidate: [B]}, "n0": {n0: stats}}}, stats as ``instance_stats`` (NumPy, host side).
Associations (``association_rows``), per n0, target (plateau; plateau where T - n0 >= 4 burn-ins;
lock-in rate (locked + 1/2) / (seeds + 1)) and candidate: Spearman rho and log-log slope with
bootstrap CIs, within dial lines (fixed effects, lines where the candidate moves MIN_RANGE-fold;
a line is one draw moved along its dial) and across the draws (the F1 draws, and apart the
replication draws of other families), where also the slope beyond each control of CONTROLS
(1/(kappa Delta_min^2), 1/Delta_min^2, the HLS time) is given.
"""
from __future__ import annotations

import jax
import numpy as np

from jaxpa.diagnostics import constants as C
from experiments.dial import stats as ds
from jaxpa.diagnostics.curve_stats import lock_in
from jaxpa.envs.one_shot import one_shot_jit

CANDIDATES = C.INFORMATION + C.TIMES  # every constant measured, the controls included
SIGN = {**{c: -1 for c in C.INFORMATION}, **{c: 1 for c in C.TIMES}}  # expected direction
CONTROLS = C.CONTROLS  # what a candidate must predict beyond; never named the best
MIN_RANGE = 1.5  # a line tests a constant only where the constant moves by this factor


# ---------------------------------------------------------------------------------------------
# per-instance measurements

def greedy_runs(results, pop: str) -> list:
    """[(n0, Run)] of the warm-start grid on a population, by n0."""
    runs = [results.run(pop, lab) for lab in results.labels(pop)]
    return sorted(((int(r.hparams["warm_start"]), r) for r in runs if "warm_start" in r.hparams),
                  key=lambda x: x[0])


def locked_seeds(run, instances, min_plays: int) -> tuple[np.ndarray, str]:
    """[B, S] bool: seeds with a locked cell, and how it was decided. From the run's raw cell
    tracker when the Run keeps it (``cells``), with ``min_plays``; else from ``Run.lock`` (its
    own min_plays); all False without cell tracking."""
    cells = getattr(run, "cells", None)
    if cells is not None:
        return lock_in(cells, instances, min_plays)["locked"].any((-2, -1)), \
            f"a cell visited >= {min_plays} times in [T/2, T], always on one suboptimal response"
    if run.lock is not None:
        return np.asarray(run.lock["locked"]).any((-2, -1)), \
            ("a cell visited >= 5 times in [T/2, T] (lock_in's default: the Run keeps no raw "
             "cells), always on one suboptimal response")
    return np.zeros(run.regret.shape[:2], bool), "no cell tracking: no lock-ins counted"


def instance_stats(checkpoints, regret, locked, n0: int, horizon: int) -> dict:
    """Per instance [B]: plateau (mean, CI, unlocked seeds), lock-in probability (CI), burn-in,
    T >= 4 burn-ins, and the per-seed final excess [B, S] (for resampling)."""
    ex = ds.excess(checkpoints, regret, n0)  # [B, S, C]
    unl = ~locked
    n_unl = unl.sum(1)
    mean_ex = (ex * unl[..., None]).sum(1) / np.maximum(n_unl, 1)[:, None]
    burn = ds.burn_in(checkpoints, mean_ex, n0)
    m, lo, hi, n = ds.plateau(ex[..., -1], locked)
    p, plo, phi = ds.lock_probability(locked)
    return {"plateau": m, "plateau_low": lo, "plateau_high": hi, "n_unlocked": n,
            "lock": p, "lock_low": plo, "lock_high": phi, "locked": locked.sum(1),
            "seeds": np.full(len(m), locked.shape[1]), "burn_in": burn,
            "horizon_ok": (horizon - n0) >= 4 * burn, "final_excess": ex[..., -1],
            "locked_seeds": locked}


def lock_rate(stats: dict) -> np.ndarray:
    """(locked + 1/2) / (seeds + 1): a lock-in probability that is positive, for log scales."""
    return (stats["locked"] + 0.5) / (stats["seeds"] + 1)


_candidates = one_shot_jit(lambda batch, rtol: jax.lax.map(lambda i: C.candidates(i, rtol), batch),
                      static_argnames="rtol")


def candidate_values(instances, rtol: float) -> dict:
    """{candidate: [B]} float64 (one jitted lax.map over the batch: small LAPACK batches on CPU)."""
    c = _candidates(instances, rtol=rtol)
    return {k: np.asarray(getattr(c, k), np.float64) for k in CANDIDATES}


def measure(results, pops, min_plays: int, rtol: float) -> tuple[dict, str]:
    """{population: {"meta", "constants", "n0": {n0: stats}}} and how locks were decided."""
    data, how = {}, ""
    for pop in pops:
        p = results.populations[pop]
        per = {}
        for n0, run in greedy_runs(results, pop):
            locked, how = locked_seeds(run, p.instances, min_plays)
            per[n0] = instance_stats(run.checkpoints, run.regret, locked, n0,
                                     int(run.checkpoints[-1]))
        data[pop] = {"meta": p.meta, "constants": candidate_values(p.instances, rtol), "n0": per}
    return data, how


# ---------------------------------------------------------------------------------------------
# associations

def _ci(d, key):
    return [float(v) for v in d[key]]


def beyond_controls(x, y, controls: dict, n_boot: int, level: float = 0.95) -> dict:
    """{control: partial_slope of log y on log x beyond log control}, x itself skipped."""
    return {k: ds.partial_slope(x, y, z, n_boot, level=level) for k, z in controls.items()
            if z is not x}


def association_rows(data: dict, dials, draws, n0s, n_boot: int, replication=()) -> list[dict]:
    """Tidy rows: per scope (all dial lines, each dial's lines, the draws, the replication draws),
    n0, target (plateau, plateau where T >= 4 burn-ins, lock) and candidate: rho, slope (and
    across draws the slope beyond each control, ``partial_<control>``), with CIs."""
    rows = []
    scopes = ([("dial lines", list(dials))] if len(dials) > 1 else []) + \
        [(f"{d} lines", [d]) for d in dials] + ([("draws", list(draws))] if draws else []) + \
        ([("replication draws", list(replication))] if replication else [])
    for scope, pops in scopes:
        within = scope.endswith("lines")
        for n0 in n0s:
            cat = lambda f: np.concatenate([f(pop) for pop in pops])
            st = lambda key: cat(lambda pop: data[pop]["n0"][n0][key])
            plateau, ok = st("plateau"), st("horizon_ok").astype(bool)
            targets = {"plateau": plateau, "plateau (T >= 4 burn-ins)": np.where(ok, plateau, np.nan),
                       "lock": cat(lambda pop: lock_rate(data[pop]["n0"][n0]))}
            lines = cat(lambda pop: np.array([f"{pop}/{d}" for d in data[pop]["meta"]["draw"]]))
            consts = {c: cat(lambda pop: data[pop]["constants"][c]) for c in CANDIDATES}
            controls = {k: consts[k] for k in CONTROLS}
            for target, y in targets.items():
                for c in CANDIDATES:
                    x = consts[c]
                    row = {"scope": scope, "n0": n0, "target": target, "candidate": c}
                    if within:
                        a = ds.within_association(x, y, lines, n_boot, min_range=MIN_RANGE)
                        row.update(rho=a["rho"], rho_ci=_ci(a, "rho_ci"), slope=a["slope"],
                                   slope_ci=_ci(a, "slope_ci"), n=a["n_groups"])
                    else:
                        a = ds.association(x, y, n_boot)
                        row.update(rho=a["rho"], rho_ci=_ci(a, "rho_ci"), slope=a["slope"],
                                   slope_ci=_ci(a, "slope_ci"), n=a["n"])
                        part = beyond_controls(x, y, controls, n_boot)
                        for k in CONTROLS:
                            p = part.get(k, {"slope": np.nan, "ci": [np.nan, np.nan]})
                            row[f"partial_{k}"] = p["slope"]
                            row[f"partial_{k}_ci"] = [float(v) for v in p["ci"]]
                    rows.append(row)
    return rows


def dial_lines(data: dict, dials, n0: int, candidate: str) -> list[dict]:
    """The dial lines at one n0 as {line, x [P], final_excess [P, S], locked [P, S], ok [P]}:
    ok marks the points that can be used (T >= 4 burn-ins, >= 2 unlocked seeds, x positive and
    finite)."""
    out = []
    for pop in dials:
        d, st = data[pop], data[pop]["n0"][n0]
        x = d["constants"][candidate]
        for draw in np.unique(d["meta"]["draw"]):
            m = d["meta"]["draw"] == draw
            ok = (st["horizon_ok"][m].astype(bool) & (st["n_unlocked"][m] >= 2) & np.isfinite(x[m])
                  & (x[m] > 0))
            out.append({"line": f"{pop}/{int(draw)}", "x": x[m], "final_excess": st["final_excess"][m],
                        "locked": st["locked_seeds"][m], "ok": ok})
    return out
