"""E2's expectations, plots and text table (host side, from the results of e2_offline.run_family).

Expectation (MODEL.md §6, Offline), keyed on the *measured* UD verdict of the instance, not on
the family's name: with UD, optimal-vs-reference logging decays exponentially; without UD it
stalls or decays only polynomially; uniform logging decays exponentially either way. Online
learners' prefixes carry no stated expectation (None).
"""
from __future__ import annotations

import numpy as np

from jaxpa.experiments import report


def expected_verdict(policy: str, ud_holds: bool) -> list[str] | None:
    """The verdicts MODEL.md's offline expectation allows for a policy, or None."""
    if policy == "uniform":
        return ["exponential"]
    if policy == "optimal":
        return ["exponential"] if ud_holds else ["stalled", "polynomial"]
    return None


def eps_grid(subopt0: float, points: int) -> np.ndarray:
    """Targets eps for n(eps): log-spaced from SubOpt(0) / 2 down to SubOpt(0) * 1e-5: [points]."""
    return np.geomspace(0.5 * subopt0, 1e-5 * subopt0, points)


def _title(fam: str, res: dict) -> str:
    d = res["diagnostics"]
    ud = "UD holds" if d["ud_holds"] else "UD fails"
    return f"{fam.upper()}: {ud} (lambda_D = {float(d['lambda_D']):.2g})"


def plot_subopt(path, families: dict) -> None:
    """log SubOpt(n) against n (top row) and log n (bottom row), one column per family: the mean
    over seeds with its 95% band (clipped at a tenth of the mean where it would cross 0); points
    where the mean is 0 (every seed optimal) are not drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(families), figsize=(6 * len(families), 8), squeeze=False)
    for col, (fam, res) in enumerate(families.items()):
        for row, xscale in enumerate(("linear", "log")):
            ax = axes[row, col]
            for i, (policy, r) in enumerate(res["policies"].items()):
                ns = np.asarray(res["raw"][policy]["ns"], np.float64)
                m, h = np.asarray(r["mean"]), np.asarray(r["ci"])
                keep = (m > 0) & ((ns > 0) if xscale == "log" else True)
                ax.plot(ns[keep], m[keep], color=f"C{i}", label=f"{policy} ({r['verdict']})")
                ax.fill_between(ns[keep], np.maximum(m - h, 0.1 * m)[keep], (m + h)[keep],
                                color=f"C{i}", alpha=0.2)
            ax.set_yscale("log")
            ax.set_xscale(xscale)
            ax.set_xlabel("dataset size n" + (" (log scale)" if xscale == "log" else ""))
            ax.set_ylabel("SubOpt(n) (log scale)")
            ax.set_title(_title(fam, res))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)


def plot_n_eps(path, families: dict) -> None:
    """n(eps) against log(1/eps), one panel per family, with bootstrap 95% bands (linear under
    exponential decay, slope 1/rate); targets never reached, and those below the curve's smallest
    positive mean (the Monte-Carlo floor), are left out."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, (fam, res) in zip(axes[0], families.items()):
        x = np.log(1.0 / np.asarray(res["eps"]))
        for i, (policy, r) in enumerate(res["policies"].items()):
            n = np.asarray(r["n_eps"])
            fin = np.isfinite(n) & (np.asarray(res["eps"]) >= r["resolution_floor"])
            ax.plot(x[fin], n[fin], marker=".", color=f"C{i}",
                    label=policy if fin.any() else f"{policy} (never reached)")
            lo, hi = np.asarray(r["n_eps_low"]), np.asarray(r["n_eps_high"])
            band = fin & np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(x[band], lo[band], hi[band], color=f"C{i}", alpha=0.2)
        ax.set_xlabel("log(1/eps)")
        ax.set_ylabel("n(eps)")
        ax.set_title(_title(fam, res))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    report.write_png(path, fig)
    plt.close(fig)


def _fmt_ci(value: float, ci) -> str:
    return f"{value:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]"


def summary_table(summary: dict) -> str:
    """One row per (family, policy): UD, verdict, expected, rates, exponent, identifiable SubOpt."""
    rows = []
    for fam, res in summary["families"].items():
        for policy, r in res["policies"].items():
            fit = r["fit"]
            pred = r.get("predicted_rate", {}).get("rate")
            rows.append({
                "family": fam, "UD": "holds" if res["diagnostics"]["ud_holds"] else "fails",
                "policy": policy, "n_max": r["n_max"], "verdict": r["verdict"],
                "expected": "/".join(r["expected"]) if r["expected"] else "-",
                "rate (CI)": _fmt_ci(fit["rate"], fit["rate_ci"]),
                "joint rate (CI)": _fmt_ci(fit["joint_rate"], fit["joint_rate_ci"]),
                "predicted": "-" if pred is None else f"{pred:.3g}",
                "exponent (CI)": _fmt_ci(fit["exponent"], fit["exponent_ci"]),
                "fit window": ("-" if not fit["window"] else
                               f"{fit['window'][0]:.3g}-{fit['window'][1]:.3g}"),
                "SubOpt(n_max)": f"{fit['final_mean']:.3g}",
                "identifiable": f"{r['identifiable_subopt']:.3g}"})
    cols = ["family", "UD", "policy", "n_max", "verdict", "expected", "rate (CI)",
            "joint rate (CI)", "predicted", "exponent (CI)", "fit window", "SubOpt(n_max)",
            "identifiable"]
    return report.format_table(rows, cols)


def offline_claims(summary: dict) -> list:
    """The offline claims (C4) as ``claims.Claim``s from an E2 summary: one per expectation, over
    every family whose UD verdict it concerns. Verdict: 'supported' when every measured verdict is
    an expected one, 'not supported' when one is a definite other shape, else 'inconclusive'."""
    from jaxpa.experiments.claims import Claim

    checks = [("C4 offline under UD", "optimal", True,
               "Under UD, optimal-vs-reference logging gives log SubOpt(n) falling linearly in n "
               "(n(eps) = O(log 1/eps))."),
              ("C4 offline without UD", "optimal", False,
               "Without UD, optimal-vs-reference logging stalls or decays only polynomially."),
              ("C4 uniform control", "uniform", None,
               "Uniform logging decays exponentially with or without UD.")]
    out = []
    for name, policy, ud, statement in checks:
        rows = [(fam, res["diagnostics"]["ud_holds"], res["policies"][policy])
                for fam, res in summary["families"].items() if policy in res["policies"]
                and (ud is None or res["diagnostics"]["ud_holds"] == ud)]
        verdicts = [r["verdict"] for _, _, r in rows]
        if not rows:
            verdict = "inconclusive"
        elif all(r["matches_expectation"] for _, _, r in rows):
            verdict = "supported"
        elif any(v != "undetermined" and not r["matches_expectation"]
                 for v, (_, _, r) in zip(verdicts, rows)):
            verdict = "not supported"
        else:
            verdict = "inconclusive"
        evidence = "; ".join(
            f"{fam} (UD {'holds' if u else 'fails'}): {r['verdict']}, rate "
            f"{_fmt_ci(r['fit']['rate'], r['fit']['rate_ci'])}, SubOpt(n_max={r['n_max']}) = "
            f"{r['fit']['final_mean']:.3g}, identifiable {r['identifiable_subopt']:.3g}"
            for fam, u, r in rows) or "no family with this UD verdict was run"
        out.append(Claim(name, statement, verdict, evidence))
    return out


def markdown_section(summary: dict, folder: str) -> str:
    """E2's section of the reproduce report (figures relative to the report's folder)."""
    return (f"\n## E2 offline: SubOpt(n) by logging policy\n\n![E2 SubOpt]({folder}/subopt.png)\n\n"
            f"![E2 n(eps)]({folder}/n_eps.png)\n\n```\n{summary_table(summary)}\n```\n")
