"""The decision box at the top of report.md: what a team should do, in plain words, from the
audit's results (the dict of ``steps.run_audit``). Pure functions, no I/O.

``decision_facts`` reads the few facts every statement is gated on, ``decision_box`` turns them
into sentences. The gates keep the statements from contradicting each other:

- *worth doing* (the held-out gain of per-user heads over one shared model) is said only when
  the gain's 95% CI is above 0; *cheap to learn* is the UD verdict; the two are stated apart;
- *alike*: the users' standardized heads, centred, have no singular value above the bootstrap's
  noise floor tau (they differ by no more than refitting moves them) and the gain is not shown:
  then there is nothing personal to learn, nobody to recruit and diversity is not the bottleneck,
  whatever the verdict;
- recruiting (a taste profile in feature names, from the least covered decision direction,
  oriented like the users) only when UD fails and the users are not alike; never when UD holds;
- one more user against more comparisons (the diversity-versus-volume study) only where that
  study learns something: the fitted policy's SubOpt must fall with the budget (paired over the
  study's draws); a difference between few and many users counts only when its paired 95%
  interval excludes 0.
"""
from __future__ import annotations

import numpy as np

SURE = 0.99  # share of replicates on both readings above which the verdict reads "very sure"


def _paired(a: np.ndarray, b: np.ndarray, z: float = 1.96) -> tuple[float, float, float]:
    """Mean of a - b over paired draws and its normal 95% interval."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    half = z * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else np.inf
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def users_alike(r: dict) -> bool | None:
    """True when the users' heads (standardized, centred) have no singular value above the
    bootstrap's noise floor: the log cannot tell them apart. None without the UD section."""
    if "ud" not in r:
        return None
    units = np.asarray(r["log"].get("feature_units") or np.ones(len(r["log"]["features"])))
    hat = np.asarray(r["heads"]["theta"], np.float64) * units * np.asarray(r["instance"]["scale"])
    centred = hat - hat.mean(axis=0)
    top = np.linalg.svd(centred, compute_uv=False)[0] if centred.size else 0.0
    return bool(top <= r["ud"]["tau"])


def budget_facts(b: dict) -> dict:
    """What the diversity-versus-volume study supports: ``learnable`` (the most-users arm's SubOpt
    falls from the smallest to the largest budget by >= 20%, paired interval above 0) and
    ``more_users_better`` (at the exchange budget, the most-users arm's SubOpt is below the
    fewest-users arm's, paired interval above 0)."""
    sub = np.asarray(b["subopt"], np.float64)  # [G_n, G_b, R]
    most = sub[-1]
    drop = _paired(most[0], most[-1])
    learnable = bool(most[-1].mean() <= 0.8 * most[0].mean() and drop[1] > 0)
    j = list(np.asarray(b["budgets"], np.float64)).index(b["exchange"]["budget"])
    gap = _paired(sub[0, j], sub[-1, j])
    return {"learnable": learnable, "more_users_better": bool(gap[1] > 0), "gap": gap,
            "subopt_small": float(most[0].mean()), "subopt_large": float(most[-1].mean())}


def decision_facts(r: dict) -> dict:
    """The gates of the module docstring from the audit's results."""
    gain = r["heldout"]["table"]["personalized"]["loglik_gain"]
    shown = gain["low"] > 0
    u = r.get("ud")
    alike = users_alike(r)
    facts = {"gain": gain, "accuracy": r["heldout"]["table"]["personalized"]["accuracy_gain"],
             "gain_shown": shown, "gain_negative": gain["high"] < 0,
             "verdict": None if u is None else u["verdict"],
             "alike": bool(alike) and not shown}
    if "budget" in r:
        facts["budget"] = budget_facts(r["budget"])
    return facts


def _sureness(u: dict) -> str:
    n = u.get("n_computed", u["n_boot"])
    f_res, f_raw, v = u["frac_resolved"], u["frac_raw"], u["verdict"]
    lo, hi = u["lambda_D_ci"]
    counts = (f"UD held in {f_res:.0%} of {n} bootstrap replicates on resolved heads and "
              f"{f_raw:.0%} on raw heads")
    lam = (f"the diversity constant λ_D's {u['level']:.0%} interval over replicates is "
           f"[{lo:.3g}, {hi:.3g}]")
    if v == "undetermined":
        why = f" ({u['reason']})" if u.get("reason") else ""
        return (f"**How sure:** not sure either way{why}: {counts}; the verdict needs >= "
                f"{u['level']:.0%} or <= {1 - u['level']:.0%} on both; {lam}.")
    strong = min(f_res, f_raw) >= SURE if v == "holds" else max(f_res, f_raw) <= 1 - SURE
    word = "very sure" if strong else "fairly sure"
    clear = (f", clear of 0 (lowest {lo:.3g})" if v == "holds" and lo > 0 else
             ", reaching 0" if v == "fails" and lo <= 0 else "")
    return f"**How sure:** {word} that UD {v}: {counts}; {lam}{clear}."


def taste_words(w: dict, most: int = 2) -> str:
    """A weakest direction's user taste in words, its ``most`` largest weights first
    ("length +0.80, formality +0.59")."""
    items = sorted(w["user_taste"].items(), key=lambda kv: -abs(kv[1]))[:most]
    return ", ".join(f"{k} {v:+.2f}" for k, v in items)


def contrast_words(w: dict, most: int | None = 3) -> str:
    """A weakest direction's feature contrast in words, its ``most`` largest weights (all with
    None) of size at least 0.1 ("+0.88·formality -0.37·length")."""
    items = sorted(w["feature_contrast"].items(), key=lambda kv: -abs(kv[1]))[:most]
    return " ".join(f"{v:+.2f}·{k}" for k, v in items if abs(v) >= 0.1)


def _recruit(r: dict, f: dict) -> str:
    v = f["verdict"]
    if v == "holds":
        return ("**Whom to add:** nobody in particular: these users' best answers already inform "
                "every decision-relevant direction.")
    if f["alike"]:
        return ("**Whom to add:** nobody in particular: these users are alike as far as the log "
                "can tell (their heads differ by no more than refitting moves them), so user "
                "diversity is not the bottleneck.")
    if v == "undetermined":
        return ("**Whom to add:** not decided yet: first collect more choices per user; the "
                "verdict then says whether users of other tastes are needed.")
    worst = (r.get("coverage") or {}).get("worst") or []
    if not worst:
        return ("**Whom to add:** users whose tastes differ from the current ones (run the "
                "coverage section for a taste profile in feature names).")
    w = worst[0]
    return (f"**Whom to add:** recruit users whose taste leans {taste_words(w)} and whose best "
            f"answers differ from the reference along {contrast_words(w)}: no current user's best "
            f"answers inform that direction (coverage.png, section 4).")


def volume_sentence(r: dict, f: dict | None = None) -> str | None:
    """One more user against more comparisons from existing users (module docstring), or None
    without the budget section; f: ``decision_facts(r)``."""
    f = decision_facts(r) if f is None else f
    if "budget" not in f:
        return None
    b, x = f["budget"], r["budget"]["exchange"]
    if f["alike"]:
        return ("Either: the users are alike, so "
                "diversity is not the bottleneck; more comparisons from existing users serve as "
                "well as new users.")
    if not b["learnable"]:
        tail = (" Users who differ (above) would add what these logs lack."
                if f["verdict"] == "fails" else "")
        return (f"No value can be put on either: logs of "
                f"these users' best answers teach a policy nothing more as they grow (SubOpt "
                f"{b['subopt_small']:.3g} at the smallest budget, {b['subopt_large']:.3g} at the "
                f"largest, with {x['n_most']} users).{tail}")
    head = (f"At {x['budget']:.0f} comparisons, "
            f"{x['n_most']} users give SubOpt {x['subopt_most']:.3g} against "
            f"{x['subopt_few']:.3g} from {x['n_few']} users")
    if not b["more_users_better"]:
        if f["verdict"] == "fails":
            return (head + ", no difference beyond noise: more of the same users do not help; "
                    "the missing coverage needs users who differ (above).")
        return (head + ", no difference beyond noise: diversity is not the bottleneck; more "
                "comparisons from existing users serve as well as new users.")
    if x["few_needs"] is None:
        return (head + f"; {x['n_few']} users do not catch up even with {x['max_budget']:.0f} "
                f"comparisons: favour more users (each worth more than "
                f"{(x['max_budget'] - x['budget']) / max(x['n_most'] - x['n_few'], 1):.0f} "
                f"comparisons from existing users).")
    return (head + f"; {x['n_few']} users need {x['few_needs']:.0f} comparisons to match: one "
            f"more user is worth about {max(x['choices_per_extra_user'], 0):.0f} comparisons from "
            f"existing users.")


def decision_box(r: dict) -> list[str]:
    """The decision box (module docstring): one sentence per statement, Markdown."""
    f = decision_facts(r)
    g, a = f["gain"], f["accuracy"]
    ci = lambda c, k=1.0, fmt="{:+.3f}": " ".join(
        [fmt.format(k * c["mean"]), f"[{fmt.format(k * c['low'])}, {fmt.format(k * c['high'])}]"])
    if f["gain_shown"]:
        worth = ("**Personalize?** Yes, worth doing: per-user models predict held-out choices "
                 "better than one shared model (the gain's 95% CI is above 0).")
    elif f["gain_negative"]:
        worth = ("**Personalize?** No: one shared model predicts held-out choices better than "
                 "per-user models (the gain's 95% CI is below 0).")
    else:
        worth = ("**Personalize?** No gain shown: the held-out gain's 95% CI includes 0, so this "
                 "log does not (yet) show per-user models predicting better than one shared model; "
                 "more choices per user would narrow the interval.")
    out = [worth, f"**Expected gain** of per-user models over one shared model, per held-out "
                  f"choice: log-likelihood {ci(g)}; choices predicted right "
                  f"{ci(a, 100, '{:+.1f}')} percentage points (95% CIs, {g['n_users']} users)."]
    v = f["verdict"]
    if v is None:
        return out
    if f["alike"]:
        cheap = (f"**Cheap to learn?** There is nothing personal to learn: the users are alike as "
                 f"far as the log can tell, so one shared model serves them (UD {v}).")
    elif v == "holds":
        cheap = ("**Cheap to learn?** Yes (UD holds): these users' best answers identify every "
                 "decision-relevant direction, so plain greedy learning of per-user rewards "
                 "needs no extra exploration.")
    elif v == "fails":
        cheap = ("**Cheap to learn?** No (UD fails): some decision-relevant direction is never "
                 "informed by these users' best answers, so a learner must explore on purpose "
                 "(regret grows like log T) and plain greedy can lock in.")
    else:
        cheap = ("**Cheap to learn?** Undetermined: the log cannot tell yet whether these users' "
                 "best answers identify every decision-relevant direction; more choices per user "
                 "are needed.")
    out += [cheap, _sureness(r["ud"]), _recruit(r, f)]
    volume = volume_sentence(r, f)
    return out + ([f"**One more user or more comparisons?** {volume}"] if volume else [])
