"""The per-draw measurements behind the offline claims (C4): SubOpt(n) of the plug-in policy for
datasets logged by optimal-vs-reference, uniform (and optionally online-learner-prefix) policies
on every instance draw of every population, with the decay fit and the test of n(eps) against
log(1/eps) (jaxpa/offline/complexity.py). Per population and draw:

- n_max: "auto": ``factor`` (6) / the smallest positive Gaussian-approximation rate of the draw's
  stationary policies (jaxpa.offline.theory.gaussian_rate; past it the mean over the seeds cannot
  resolve SubOpt), rounded up on a fixed ladder (1, 2, 5 x 10^k: draws share compiled programs),
  within [``n_max_low``, Size.horizon] (the fields named here are ``OfflineOptions``);
- the grid: 0, ``grid_points`` log-spaced sizes in [1, n_max], and
  n_max / 2 (the stall test): at least three decades of n;
- SubOpt(n) per seed [S, G] (``offline.curves.subopt_curves``; stationary policies sampled,
  Size.seeds seeds; rolled-out policies, ``rollout`` (default none), on the first draw
  only, with ``rollout_seeds`` seeds and n <= ``n_max_rollout``), each a stored,
  resumable part keyed by everything that shapes the curves. Key rule: draw b of population L
  uses fold_in(fold_in(K, crc32(L) + 2), b) for every policy, so the policies meet the same
  users, prompts and answers' randomness; the ridge MLE runs ``n_iter`` damped Newton steps (8
  by default: on matched draws, 6, 8 and 15 steps give the same SubOpt for every seed and grid
  point);
- the decay fit (``offline.rates.decay_fit``) and the complexity class
  (``offline.complexity.complexity_test``). A draw's UD status comes from its diagnostics.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import jax

from jaxpa.experiment.spec import label_key
from jaxpa.offline.complexity import complexity_test, crossing_n
from jaxpa.offline.curves import subopt_curves
from jaxpa.offline.rates import bootstrap_means, decay_fit, resolved
from jaxpa.offline.sampled import STATIONARY
from jaxpa.offline.theory import gaussian_rate
from jaxpa.results import fingerprint


@dataclasses.dataclass(frozen=True)
class OfflineOptions:
    """The offline experiment's options (``Size.options``), defaults declared here once.

    grid_points: log-spaced dataset sizes per curve; n_boot: bootstrap resamples of the
    complexity test; n_max_low: the smallest n_max; rollout: learners rolled out on the first draw
    (their online prefix as the log), with rollout_seeds seeds and n <= n_max_rollout."""

    grid_points: int = 32
    n_boot: int = 1000
    n_max_low: int = 1000
    rollout: tuple = ()
    rollout_seeds: int = 64
    n_max_rollout: int = 20_000

LADDER = tuple(int(m * 10**e) for e in range(2, 7) for m in (1, 2, 5)) + (10**7,)
KEY_RULE = "fold_in(fold_in(key(seed), crc32(population) + 2), draw)"


def auto_n_max(rates, low: int = 1000, high: int = 1_000_000, factor: float = 6.0) -> int:
    """``factor`` / (smallest positive rate), rounded up on LADDER, within [low, high]
    (10 000 when no rate is positive)."""
    positive = [r for r in rates if np.isfinite(r) and r > 0]
    target = factor / min(positive) if positive else 10_000
    up = [v for v in LADDER if v >= target]
    return int(min(max(up[0] if up else LADDER[-1], low), high))


def size_grid(n_max: int, points: int) -> np.ndarray:
    """0, about ``points`` log-spaced sizes in [1, n_max], and n_max // 2 (for the stall test)."""
    g = np.round(np.geomspace(1, n_max, points)).astype(np.int64)
    return np.unique(np.concatenate([[0, n_max // 2, n_max], g]))

def _draw(tree, b):
    return jax.tree.map(lambda x: x[b], tree)


def _curves_part(results, pop, b, inst, policy, ns, seeds, ridge, n_iter, featurizer):
    feedback = results.experiment.feedback_model()
    key = jax.random.fold_in(jax.random.fold_in(results.key, label_key(pop) + 2), b)
    config = {"kind": "subopt_curves", "population": results.populations[pop].population.describe(),
              "draw": int(b), "instance": fingerprint(inst), "policy": policy,
              "ns": [int(n) for n in ns], "seeds": int(seeds), "ridge": float(ridge),
              "n_iter": int(n_iter), "feedback": feedback.label, "featurizer": featurizer,
              "method": "auto", "key": KEY_RULE}

    def compute():
        out = subopt_curves(key, inst, policy, ns, feedback=feedback, n_seeds=seeds, ridge=ridge,
                            n_iter=n_iter, featurizer=featurizer)
        return {k: out[k] for k in ("ns", "subopt", "identifiable")}

    return results.part(f"offline__{pop}__{b}__{policy}", config, compute)


def _plot_targets(ns, subopt, min_positive, points=40, n_boot=400, seed=0) -> dict:
    """n(eps) over the whole resolved range (for the figure): targets from half the mean at the
    first grid n >= 1 down to the mean at the last resolved n, with a bootstrap 95% band."""
    n = np.asarray(ns, np.float64)
    mean = subopt.mean(0)
    ok = resolved(subopt, min_positive) & (n >= 1)
    if not ok.any():
        return {"eps": [], "n": [], "low": [], "high": []}
    top = 0.5 * mean[n >= 1][0]
    floor = float(mean[n == n[ok].max()][0])
    if not top > floor > 0:
        return {"eps": [], "n": [], "low": [], "high": []}
    eps = np.geomspace(top, floor, points)
    boot = crossing_n(n, bootstrap_means(subopt, n_boot, seed), eps)
    boot = np.where(np.isfinite(boot), boot, np.nan)
    return {"eps": eps, "n": crossing_n(n, mean, eps),
            "low": np.nanpercentile(boot, 2.5, axis=0), "high": np.nanpercentile(boot, 97.5, axis=0)}


def offline_records(results, populations=("holds", "fails"), policies=("optimal", "uniform"), *,
                    ridge: float = 1.0, n_iter: int = 8, featurizer: str = "personalized",
                    complexity: dict | None = None) -> list[dict]:
    """One record per (population, draw, policy): the curves (through stored parts), the decay
    fit, the complexity test and the draw's diagnostics (module docstring). Rolled-out policies
    named in ``OfflineOptions.rollout`` run on the first draw of each population."""
    size = results.size
    opts = size.options_or(OfflineOptions)
    feedback = results.experiment.feedback_model()
    grid_points, n_low, n_boot = opts.grid_points, opts.n_max_low, opts.n_boot
    rollout = tuple(p for p in opts.rollout if p not in policies)
    rollout_seeds, n_max_rollout = opts.rollout_seeds, opts.n_max_rollout
    targs = dict(complexity or {}, n_boot=n_boot, seed=results.seed)
    min_positive = targs.get("min_positive", 16)
    records = []
    for pop in populations:
        P = results.populations[pop]
        ud = np.asarray(P.diagnostics.ud_holds, bool)
        for b in range(len(P.meta["draw"])):
            inst = _draw(P.instances, b)
            theory = {p: gaussian_rate(inst, p, feedback, featurizer) for p in STATIONARY}
            n_max = auto_n_max([t["rate"] for t in theory.values()], n_low, size.horizon)
            ns = size_grid(n_max, grid_points)
            for policy in list(policies) + (list(rollout) if b == 0 else []):
                S, grid = size.seeds, ns
                if policy not in STATIONARY:
                    S, grid = rollout_seeds, ns[ns <= min(n_max, n_max_rollout)]
                arr = _curves_part(results, pop, b, inst, policy, grid, S, ridge, n_iter,
                                   featurizer)
                sub, ident = np.asarray(arr["subopt"], np.float64), arr["identifiable"]
                records.append({
                    "population": pop, "draw": int(P.meta["draw"][b]), "index": b,
                    "policy": policy, "ud": bool(ud[b]),
                    "lambda_D": float(np.asarray(P.diagnostics.lambda_D)[b]),
                    "min_gap": float(np.asarray(P.diagnostics.min_gap)[b]),
                    "predicted_rate": theory[policy]["rate"] if policy in theory else None,
                    "n_max": int(arr["ns"][-1]), "ns": np.asarray(arr["ns"]),
                    "mean": sub.mean(0),
                    "half": (1.96 * sub.std(0, ddof=1) / np.sqrt(sub.shape[0])
                             if sub.shape[0] > 1 else np.zeros(sub.shape[1])),
                    "test": complexity_test(arr["ns"], sub, ident, **targs),
                    "fit": decay_fit(arr["ns"], sub, n_boot=n_boot, seed=results.seed),
                    "plot": (_plot_targets(arr["ns"], sub, min_positive, seed=results.seed)
                             if b == 0 else None)})
    return records
