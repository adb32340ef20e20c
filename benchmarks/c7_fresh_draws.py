"""C7' on fresh draws, recomputed independently of the engine: for each named constant, its
Spearman rho with greedy's plateau at one warm start (SciPy, percentile bootstrap over draws) and
its log-log slope beyond each control (statsmodels OLS of log plateau on log constant and log
control, 95% CI), per family (the F1 selection draws, the matched-construction replication
draws), from the ``dial_instances.csv`` of one or more ``jaxpa dial --seed S`` runs.

    python -m jaxpa dial --seed 1 --out /tmp/dial_s1
    python benchmarks/c7_fresh_draws.py /tmp/dial_s1/dial_instances.csv

Draws where the constant or the plateau is 0 or infinite are left out and counted (n = used/all).
Cost: seconds (2,000 bootstrap resamples per row)."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

FAMILIES = {"f1": ["f1"], "replication": ["matched", "matched_wide", "robust_fails"]}
CONTROLS = ("gap_only", "inverse_gap2", "hls_time")


def row(x: pd.DataFrame, constant: str, n_boot: int = 2000) -> str:
    ok = np.isfinite(x[constant]) & np.isfinite(x.plateau) & (x.plateau > 0) & (x[constant] > 0)
    y = x[ok]
    rho = stats.spearmanr(y[constant], y.plateau).statistic
    rng = np.random.default_rng(0)
    boot = [stats.spearmanr(y[constant].values[i], y.plateau.values[i]).statistic
            for i in rng.integers(0, len(y), (n_boot, len(y)))]
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    beyond = []
    for control in CONTROLS:
        X = sm.add_constant(np.column_stack([np.log(y[constant]), np.log(y[control])]))
        fit = sm.OLS(np.log(y.plateau.values), X).fit()
        c_lo, c_hi = fit.conf_int()[1]
        beyond.append(f"{control} {fit.params[1]:+.2f} [{c_lo:+.2f}, {c_hi:+.2f}]")
    return (f"n = {int(ok.sum())}/{len(x)}, rho = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]; beyond "
            + ", ".join(beyond))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="+", help="dial_instances.csv of jaxpa dial runs")
    ap.add_argument("--n0", type=int, default=300)
    ap.add_argument("--constants", default="unlock_time,greedy_plateau")
    args = ap.parse_args()
    for path in args.csv:
        d = pd.read_csv(path)
        d = d[d.n0 == args.n0]
        for family, pops in FAMILIES.items():
            for c in args.constants.split(","):
                print(f"{path} | {family} | {c} | {row(d[d.population.isin(pops)], c)}")


if __name__ == "__main__":
    main()
