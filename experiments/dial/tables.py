"""The dial experiment's report pieces (``dial_section``): tidy CSV rows and markdown tables,
from the measurements of ``dial_measure`` (``data``) and its association rows."""
from __future__ import annotations

import numpy as np

from experiments.dial.measure import CANDIDATES, CONTROLS

def _fmt(v, ci=None):
    if v is None or not np.isfinite(v):
        return "n/a"
    if ci is None or not np.all(np.isfinite(ci)):
        return f"{v:+.2f}"
    return f"{v:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}]"


def describe_rows(data: dict, horizon: int) -> list[dict]:
    """Per population and n0: the sizes of the measured targets, to read the associations by."""
    rows = []
    for pop, d in data.items():
        for n0, st in d["n0"].items():
            finite = np.isfinite(st["plateau"]).any()
            rows.append({"population": pop, "n0": n0, "instances": len(st["plateau"]),
                         "plateau_median": float(np.nanmedian(st["plateau"])) if finite else np.nan,
                         "lock_mean": float(np.mean(st["lock"])),
                         "burn_in_median": float(np.median(st["burn_in"])),
                         "horizon_ok_share": float(np.mean(st["horizon_ok"])), "horizon": horizon})
    return rows


def _value(v: float):
    """A float for the CSV, inf kept as the string 'inf' (the store writes non-finite floats as
    empty cells, and an infinite unlock_time means something: a permanent lock is possible)."""
    v = float(v)
    return v if np.isfinite(v) or np.isnan(v) else ("inf" if v > 0 else "-inf")


def tidy(row: dict) -> dict:
    """A row with each [low, high] interval split into <name>_low, <name>_high columns."""
    out = {}
    for k, v in row.items():
        if k.endswith("_ci"):
            base = k[:-3]
            out[f"{base}_low"], out[f"{base}_high"] = (float(x) for x in v)
        else:
            out[k] = v
    return out


def instance_rows(data: dict) -> list[dict]:
    """Tidy rows: one per population x instance x n0, with every candidate's value."""
    rows = []
    for pop, d in data.items():
        for n0, st in d["n0"].items():
            for b in range(len(st["plateau"])):
                row = {"population": pop, "draw": int(d["meta"]["draw"][b]),
                       "dial": float(d["meta"]["dial"][b]), "n0": n0}
                row.update({k: float(st[k][b]) for k in ("plateau", "plateau_low", "plateau_high",
                                                          "lock", "lock_low", "lock_high",
                                                          "burn_in")})
                row.update(n_unlocked=int(st["n_unlocked"][b]), locked=int(st["locked"][b]),
                           seeds=int(st["seeds"][b]), horizon_ok=bool(st["horizon_ok"][b]))
                row.update({c: _value(d["constants"][c][b]) for c in CANDIDATES})
                rows.append(row)
    return rows


def association_table(rows: list[dict], n0: int, has_dials: bool, has_draws: bool,
                      scope: str = "draws") -> str:
    """The candidates' associations at one n0: within the dial lines and across ``scope``'s draws
    (rho, slope, slope beyond each control, lock-in rho and slope)."""
    pick = {(r["scope"], r["target"], r["candidate"]): r for r in rows if r["n0"] == n0}
    head = ["candidate"]
    if has_dials:
        head += ["dial lines: plateau rho / slope", "dial lines: lock slope"]
    if has_draws:
        head += ["draws: plateau rho", "draws: plateau slope"] + \
            [f"draws: beyond {k}" for k in CONTROLS] + ["draws: lock rho", "draws: lock slope"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in CANDIDATES:
        cells = [c + (" (control)" if c in CONTROLS else "")]
        if has_dials:
            w, wl = pick.get(("dial lines", "plateau", c)), pick.get(("dial lines", "lock", c))
            cells += [f"{_fmt(w['rho'])} / {_fmt(w['slope'], w['slope_ci'])} ({w['n']} lines)"
                      if w and w["n"] else "does not move",
                      _fmt(wl["slope"], wl["slope_ci"]) if wl and wl["n"] else "-"]
        if has_draws:
            a, al = pick[(scope, "plateau", c)], pick[(scope, "lock", c)]
            cells += [_fmt(a["rho"], a["rho_ci"]), _fmt(a["slope"], a["slope_ci"])]
            cells += [_fmt(a[f"partial_{k}"], a[f"partial_{k}_ci"]) if k != c else "-"
                      for k in CONTROLS]
            cells += [_fmt(al["rho"], al["rho_ci"]), _fmt(al["slope"], al["slope_ci"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_dial_table(rows: list[dict], dials, n0: int) -> str:
    pick = {(r["scope"], r["candidate"]): r for r in rows
            if r["n0"] == n0 and r["target"] == "plateau"}
    lines = ["| dial | " + " | ".join(dials) + " |", "|" + "---|" * (len(dials) + 1)]
    for c in CANDIDATES:
        cells = []
        for d in dials:
            r = pick.get((f"{d} lines", c))
            cells.append(_fmt(r["slope"], r["slope_ci"]) if r and r["n"] else "-")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
