"""The dial experiment's figure: greedy's plateau (or lock-in rate) at one warm start n0 against
every candidate constant, log-log, one panel per candidate.

Made to be read at a glance: panels are ordered by how well the candidate goes with the target
across the F1 draws (Spearman rho in the candidate's expected direction, best first, the gap-only
control last), each title gives that rho with its 95% CI and the within-dial-line slope, the
best panel is framed when its rho's CI excludes 0, and the headline says which candidate predicts
best or that none does. F1 draws are grey dots; each dial line (one draw moved along its dial) is
a coloured line of points, one colour and marker per dial. Points at 0, inf or NaN cannot sit on
log axes: they are counted in the panel's title.
"""
from __future__ import annotations

import numpy as np

from experiments.dial.measure import CANDIDATES, CONTROLS, SIGN, lock_rate

MARKERS = "osD^v<>p"


def _order(rows, n0: int, target: str) -> tuple[list[str], dict, dict]:
    """Candidates ordered by signed draws rho (best first, control last), the draws rows and the
    within-line rows at n0 for the target, by candidate."""
    draws = {r["candidate"]: r for r in rows
             if r["n0"] == n0 and r["target"] == target and r["scope"] == "draws"}
    lines = {r["candidate"]: r for r in rows
             if r["n0"] == n0 and r["target"] == target and r["scope"] == "dial lines"}
    score = lambda c: (SIGN[c] * draws[c]["rho"] if c in draws and np.isfinite(draws[c]["rho"])
                       else -np.inf)
    ranked = sorted((c for c in CANDIDATES if c not in CONTROLS), key=score, reverse=True)
    return ranked + list(CONTROLS), draws, lines


def _predicts(row: dict | None, c: str) -> bool:
    """Whether the draws' rho CI lies on the expected side of 0."""
    if row is None or not np.all(np.isfinite(row["rho_ci"])):
        return False
    lo, hi = row["rho_ci"]
    return lo > 0 if SIGN[c] > 0 else hi < 0


def _subtitle(c: str, d: dict | None, w: dict | None) -> str:
    parts = []
    if d is not None and np.isfinite(d["rho"]):
        parts.append(f"draws rho {d['rho']:+.2f} [{d['rho_ci'][0]:+.2f}, {d['rho_ci'][1]:+.2f}]")
    if w is not None and w["n"] and np.isfinite(w["slope"]):
        parts.append(f"lines slope {w['slope']:+.2f} ({w['n']})")
    expected = "larger = larger" if SIGN[c] > 0 else "larger = smaller"
    return ("; ".join(parts) or "no association measured") + f"\n(expected: {expected})"


def figure(data: dict, dials, draws, n0: int, target: str, rows=(), min_draws: int = 10,
           replication=()):
    """The figure of the module docstring. data: ``dial_measure.measure``'s; rows: its
    ``association_rows`` (for the order, the titles and the headline; none: default order);
    min_draws: below this many usable F1 draws no candidate is named best (as in claim C7');
    replication: the replication draws' populations (black crosses)."""
    from jaxpa.reporting import finish, pyplot
    plt = pyplot()
    order, across, within = _order(rows, n0, target)
    if max((r["n"] for r in across.values()), default=0) < min_draws:  # too few to rank
        across = {c: dict(r, rho=np.nan) for c, r in across.items()}
        order = [c for c in CANDIDATES if c not in CONTROLS] + list(CONTROLS)
    ncol = 5
    nrow = -(-(len(order) + 1) // ncol)  # + 1: the legend's panel
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.6 * nrow), squeeze=False)
    ylabel = "plateau R(T) - R(n0)" if target == "plateau" else "lock-in rate"
    handles = {}
    for i, (ax, c) in enumerate(zip(axes.flat, order)):
        hidden = drawn = 0
        for pop in tuple(draws) + tuple(replication):
            st, x = data[pop]["n0"][n0], data[pop]["constants"][c]
            y = st["plateau"] if target == "plateau" else lock_rate(st)
            ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
            hidden, drawn = hidden + int((~ok).sum()), drawn + int(ok.sum())
            rep = pop in replication
            handles[f"{pop} {'(replication) ' if rep else ''}draws"] = ax.scatter(
                x[ok], y[ok], s=14 if rep else 12, color="k" if rep else "0.55",
                marker="x" if rep else "o", alpha=0.7, linewidths=0.8 if rep else 0, zorder=1)
        for j, pop in enumerate(dials):
            st, x = data[pop]["n0"][n0], data[pop]["constants"][c]
            y = st["plateau"] if target == "plateau" else lock_rate(st)
            ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
            hidden, drawn = hidden + int((~ok).sum()), drawn + int(ok.sum())
            draw_ids = data[pop]["meta"]["draw"]
            for d in np.unique(draw_ids):
                m = ok & (draw_ids == d)
                k = np.argsort(x[m])
                handles[f"{pop} dial lines"], = ax.plot(
                    x[m][k], y[m][k], color=f"C{j}", marker=MARKERS[j % len(MARKERS)], ms=4,
                    lw=0.9, alpha=0.8, zorder=2)
        if drawn:
            ax.set(xscale="log", yscale="log")
        else:
            ax.text(0.5, 0.5, "no positive, finite values", ha="center", transform=ax.transAxes)
        best = i == 0 and _predicts(across.get(c), c)
        name = f"{c}  (best)" if best else (f"{c}  (control)" if c in CONTROLS else c)
        ax.set_title(name + (f"  [{hidden} at 0/inf]" if hidden else "") + "\n"
                     + _subtitle(c, across.get(c), within.get(c)), fontsize=8.5,
                     fontweight="bold" if best else "normal")
        if best:
            for spine in ax.spines.values():
                spine.set(linewidth=2.5, edgecolor="C3")
        ax.grid(alpha=0.3, which="both")
        if i % ncol == 0:
            ax.set_ylabel(f"{ylabel}, n0 = {n0}")
    legend_ax = axes.flat[len(order)]
    legend_ax.axis("off")
    legend_ax.legend(list(handles.values()), list(handles), loc="center", fontsize=9,
                     title="x: candidate constant (log)")
    for ax in axes.flat[len(order) + 1:]:
        ax.axis("off")
    fig.suptitle(_headline(order, across, target, n0), fontsize=12)
    # fixed margins: tight_layout measures every tick label of the 13 log axes (~5 s a figure)
    fig.subplots_adjust(left=0.045, right=0.99, bottom=0.05, top=0.9 if nrow <= 3 else 0.93,
                        wspace=0.25, hspace=0.55)
    return finish(fig, tight=False)


def _headline(order, across, target, n0) -> str:
    what = "Greedy's plateau" if target == "plateau" else "Greedy's lock-in rate"
    top = order[0]
    if not any(np.isfinite(r["rho"]) for r in across.values()):
        return f"{what} at n0 = {n0} against each candidate (too few F1 draws to rank them)"
    note = " (95% CI, not adjusted for the number of candidates: see claim C7')"
    if _predicts(across.get(top), top):
        r = across[top]
        return (f"{what} at n0 = {n0}: across F1 draws {top} predicts best, rho = {r['rho']:+.2f} "
                f"[{r['rho_ci'][0]:+.2f}, {r['rho_ci'][1]:+.2f}], log-log slope {r['slope']:+.2f}"
                + note)
    return (f"{what} at n0 = {n0}: no candidate's rank correlation across F1 draws excludes 0 "
            f"in its expected direction" + note)
