"""User diversity (UD) of a fitted population, with its uncertainty: a bootstrap over users and
over choices, a resolved head rank, and a three-way verdict.

Why not just diagnose the fitted heads: estimated heads carry noise in every direction, so their
numerical rank is full and the decision-relevant subspace D grows with noise directions that
optimal play cannot cover (few users: UD "fails" by noise) or that noise itself covers (many
users: UD "holds" by noise). The audit therefore asks two questions of each bootstrap replicate.

Replicate b (two-stage bootstrap of the whole estimator), from key fold_in(key, b) split in two
(users, choices): users resampled with replacement (multiplicities m_b [U], nu = m_b / U), and
each user's choices resampled with replacement within the user; the personalized heads are
refitted with the prior of fit.py (centred on the population fit of all choices, kept fixed) at
every shrinkage of the grid, and the replicate keeps the shrinkage whose heads best predict its
out-of-bag choices (each user's choices not drawn; mean over users of the per-user mean
log-likelihood, as evaluate.select_shrinkage does on its validation split). So the uncertainty of
the shrinkage choice enters the verdict: with few choices per user a noisy validation can pick a
strong prior that makes diverse users look alike. Thin users keep the population fit. Heads are
compared in standardized units (Theta * scale, as in the calibrated instance).

The refits are one batched Newton over (replicate, shrinkage, user) (``batched_newton``): a
user's resampled choices enter as weights on its own choices (how often each was drawn), so no
copy of the data is made per replicate; per-user heads are independent given the population fit,
so each is a d x d system (never one system over all users' parameters); every refit starts from
the point estimate at its shrinkage (the fit of all choices) and the iterations stop when every
gradient norm is at most STOP_TOL per choice (6-8 steps on the test logs, at most ``n_iter``).
A replicate whose refits do not reach CONVERGED per choice is reported and left out of the
verdict's fractions; more than 1 - level of them make the verdict undetermined. Replicates are
computed in looks and stop early by the rule of sequential.py (``early_stop``).

The refits of a look are one compiled program (replicates mapped in memory-bounded chunks,
vmapped within a chunk); the diagnostics of the replicates, resolved and raw, one more
(``diagnose`` mapped over fixed-size batches of instances): at most three compilations whatever
n_boot is (the last piece of refits may be shorter).

- Noise floor tau: the ``level`` quantile over replicates of the largest singular value of the
  replicate's head noise sqrt(m_b) * (Theta_b - Theta_hat), centred over users (a shift common to
  all users is the population fit's uncertainty, not diversity).
- Resolved head rank of a head matrix: the number of its singular values (rows weighted by
  sqrt(m)) above tau. Resolved heads: the heads projected on those top singular directions.
- resolved UD: ``diagnose`` of the calibrated instance with resolved heads (only diversity the
  data resolves counts); raw UD: with the replicate's heads as fitted (noise directions kept).

Verdict (``ud_verdict``), with f_res and f_raw the fractions of replicates where UD holds on
resolved and on raw heads: a verdict must survive both readings of the heads, so that directions
the data does not resolve (noise) can decide nothing:
  holds        if f_res >= level and f_raw >= level;
  fails        if f_res <= 1 - level and f_raw <= 1 - level;
  undetermined otherwise (the report says so rather than guess; more choices per user resolve it).
"""
from __future__ import annotations

import functools

import numpy as np
import jax
import jax.numpy as jnp

from jaxpa.data.fit import (ChoiceData, PopulationFit, by_user, feature_scale,
                            fit_personalized)
from jaxpa.data.panels import PreferencePanel
from jaxpa.diagnostics import diagnose
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance
from jaxpa.envs.precision import full_precision
from jaxpa.audit.sequential import decided, looks

Array = jax.Array
VERDICTS = ("holds", "fails", "undetermined")
BATCH = 25  # replicates diagnosed per vmapped batch: bounds the memory
STOP_TOL = 1e-5   # refits stop when every gradient norm <= STOP_TOL * (1 + the user's choices)
CONVERGED = 1e-3  # a refit (or fit) whose gradient norm exceeds this per choice has failed


def replicate_keys(key: Array, n_boot: int) -> Array:
    """[n_boot, 2] keys: (users, choices) of replicate b = split(fold_in(key, b))."""
    return jax.vmap(lambda b: jax.random.split(jax.random.fold_in(key, b)))(jnp.arange(n_boot))


def _resample(keys: Array, counts: Array, n_slots: int):
    """One replicate's draws: user multiplicities [U] (U draws with replacement) and, per user,
    the number of times each of its slots is drawn when ``counts[u]`` slots are drawn with
    replacement: weight [U, L] (0 in padding positions)."""
    U = counts.shape[0]
    draw = jax.random.randint(keys[0], (U,), 0, U)
    mult = jnp.zeros((U,), jnp.int32).at[draw].add(1)
    u = jax.random.uniform(keys[1], (U, n_slots))
    real = jnp.arange(n_slots)[None, :] < counts[:, None]
    pick = jnp.minimum((u * counts[:, None]).astype(jnp.int32), jnp.maximum(counts - 1, 0)[:, None])
    rows = jnp.arange(U)[:, None]
    weight = jnp.zeros((U, n_slots), jnp.int32).at[rows, jnp.where(real, pick, 0)].add(
        real.astype(jnp.int32))
    return mult, weight


def _loglik_terms(theta, x, available):
    """log P(each alternative) [..., U, L, J] of users' heads theta [..., U, d] on their
    features x [U, L, J, d]."""
    u = jnp.where(available, jnp.einsum("uljd,...ud->...ulj", x, theta), -jnp.inf)
    return u - jax.scipy.special.logsumexp(u, axis=-1, keepdims=True)


def batched_newton(x, available, choice, weight, prior_mean, precision, theta0, *,
                   n_iter: int, tol: float):
    """MAP heads of many independent users at once (one user = one index of the leading axes).

    x [U, L, J, d], available [U, L, J], choice [U, L]: the users' choices (scaled features);
    weight [..., U, L]: each choice's weight (bootstrap multiplicities); prior_mean [U, d] or
    [d]; precision: matrices broadcastable to [..., U, d, d]; theta0 [..., U, d] the start
    (warm: the point estimate). Minimises sum_l -w_l log P_l(theta) + (theta - m)^T P (theta - m)
    / 2 per user by Newton's method with an adaptive step: each user's step alpha (1 at first)
    is taken if it does not increase the objective beyond rounding and then grows back towards
    1 (x4), otherwise it is refused and shrinks (/4); one objective evaluation a step instead of a
    line search over step sizes (from a warm start the full step is almost always taken).
    Stops when every user's gradient norm is at most ``tol`` * (1 + its weight) or after
    ``n_iter`` steps. Returns (theta [..., U, d], gradient norm [..., U], iterations taken)."""
    n = weight.sum(-1)
    onehot = jax.nn.one_hot(choice, x.shape[-2], dtype=x.dtype)  # [U, L, J]

    def objective(theta):
        lp = _loglik_terms(theta, x, available)
        ll = jnp.sum(weight * jnp.sum(jnp.where(available, lp, 0.0) * onehot, -1), -1)
        diff = theta - prior_mean
        return -ll + 0.5 * jnp.einsum("...d,...de,...e->...", diff, precision, diff)

    def derivatives(theta):
        p = jnp.where(available, jnp.exp(_loglik_terms(theta, x, available)), 0.0)  # [..., U, L, J]
        xbar = jnp.einsum("...ulj,uljd->...uld", p, x)
        resid = jnp.einsum("...ulj,uljd->...uld", onehot - p, x)  # x_chosen - xbar
        grad = -jnp.einsum("...ul,...uld->...ud", weight, resid) + \
            jnp.einsum("...de,...e->...d", precision, theta - prior_mean)
        c = x - xbar[..., None, :]  # [..., U, L, J, d]
        info = jnp.einsum("...ul,...ulj,...uljd,...ulje->...ude", weight, p, c, c)
        return grad, info + precision

    def cond(state):
        _, _, g, _, _, it = state
        return (it < n_iter) & ~jnp.all(jnp.linalg.norm(g, axis=-1) <= tol * (1.0 + n))

    def body(state):
        theta, f0, g, H, alpha, it = state
        delta = jnp.linalg.solve(0.5 * (H + jnp.swapaxes(H, -1, -2)), g[..., None])[..., 0]
        new = theta - alpha[..., None] * delta
        f1 = objective(new)
        slack = 16 * jnp.finfo(f0.dtype).eps * (jnp.abs(f0) + 1.0)
        ok = jnp.isfinite(f1) & (f1 <= f0 + slack)
        theta = jnp.where(ok[..., None], new, theta)
        f0 = jnp.where(ok, f1, f0)
        alpha = jnp.where(ok, jnp.minimum(4.0 * alpha, 1.0), alpha / 4.0)
        g, H = derivatives(theta)
        return theta, f0, g, H, alpha, it + 1

    g, H = derivatives(theta0)
    alpha = jnp.ones(theta0.shape[:-1], theta0.dtype)
    theta, _, g, _, _, it = jax.lax.while_loop(
        cond, body, (theta0, objective(theta0), g, H, alpha, jnp.asarray(0, jnp.int32)))
    return theta, jnp.linalg.norm(g, axis=-1), it


@functools.partial(jax.jit, static_argnames=("n_iter", "batch"))
@full_precision
def _replicates(keys, full: ChoiceData, counts, theta_pop, information, scale, grid, thin, start,
                *, n_iter: int, batch: int, tol: float = STOP_TOL):
    """Every replicate (keys [B, 2]), ``batch`` replicates at a time refitted together: user
    multiplicities [B, U], heads [B, U, d] (raw units) at the shrinkage of ``grid`` [S] with the
    best out-of-bag score, the chosen index [B], the refits' gradient norms [B, U] (scaled
    coordinates) and iterations [B]. ``full``: every choice once, by user [U, L]; ``start`` [S,
    U, d]: the point estimate at every shrinkage (raw units), where the refits start."""
    L = full.choice.shape[1]
    x = full.features / scale
    prior_mean = theta_pop * scale
    precision = grid[:, None, None, None] * (information / jnp.outer(scale, scale))[None, None]
    real = full.weight > 0

    def chunk(k):  # k [b, 2] keys
        mult, w = jax.vmap(lambda kk: _resample(kk, counts, L))(k)  # [b, U], [b, U, L]
        w = w.astype(x.dtype) * real
        oob = real & (w == 0)  # [b, U, L]
        W = jnp.broadcast_to(w[:, None], (w.shape[0], grid.shape[0]) + w.shape[1:])  # [b, S, U, L]
        theta0 = jnp.broadcast_to((start * scale)[None], W.shape[:3] + (scale.shape[0],))
        theta, gn, it = batched_newton(x, full.available, full.choice, W, prior_mean,
                                       precision[None], theta0, n_iter=n_iter, tol=tol)
        onehot = jax.nn.one_hot(full.choice, x.shape[-2], dtype=x.dtype)
        lp = jnp.sum(jnp.where(full.available, _loglik_terms(theta, x, full.available), 0.0)
                     * onehot, -1)  # [b, S, U, L]
        n_oob = oob.sum(-1)[:, None]  # [b, 1, U]
        per_user = jnp.sum(jnp.where(oob[:, None], lp, 0.0), -1) / jnp.maximum(n_oob, 1)
        has = n_oob > 0
        score = jnp.sum(jnp.where(has, per_user, 0.0), -1) / jnp.maximum(has.sum(-1), 1)  # [b, S]
        best = jnp.argmax(score, axis=-1)
        heads = jnp.take_along_axis(theta, best[:, None, None, None], axis=1)[:, 0] / scale
        gn = jnp.take_along_axis(gn, best[:, None, None], axis=1)[:, 0]
        heads = jnp.where(thin[None, :, None], theta_pop, heads)
        gn = jnp.where(thin[None], 0.0, gn)
        return mult, heads, best, gn, jnp.broadcast_to(it, best.shape)

    B = keys.shape[0]
    chunks = keys.reshape((B // batch, batch) + keys.shape[1:])
    out = jax.lax.map(chunk, chunks)
    return jax.tree_util.tree_map(lambda a: a.reshape((B,) + a.shape[2:]), out)


def chunk_size(n_boot: int, n_users: int, n_slots: int, n_alt: int, d: int, n_grid: int,
               budget: float = 2.0**24) -> int:
    """Replicates refitted together: as many as keep the largest intermediate (the line search's
    [4, b, S, U, L, J] utilities, and [b, S, U, L, J, d] centred features) under ``budget``
    elements, at least 1, a divisor of n_boot."""
    per = n_grid * n_users * n_slots * n_alt * max(d, 4)
    b = int(max(1, min(n_boot, budget // max(per, 1))))
    while n_boot % b:
        b -= 1
    return b


def refit_heads(key: Array, panel: PreferencePanel, population: PopulationFit, grid, thin,
                n_boot: int, n_iter: int = 20, start=None, tol: float = STOP_TOL,
                first: int = 0):
    """Replicates first .. first + n_boot - 1 of the module docstring: multiplicities [B, U],
    heads [B, U, d] in raw units, the chosen shrinkage [B], the refits' gradient norms [B, U]
    and iterations [B]. thin: [U] bool, users that keep the population fit; start [S, U, d]: the
    point estimate at every shrinkage (default: fitted here)."""
    full, slots = by_user(panel)
    counts = jnp.asarray((slots >= 0).sum(1), jnp.int32)
    grid64 = np.asarray(grid, np.float64)
    grid_a = jnp.asarray(grid64, panel.features.dtype)
    thin = jnp.zeros((panel.n_users,), bool) if thin is None else jnp.asarray(thin, bool)
    scale = feature_scale(panel)
    if start is None:
        start = fit_personalized(panel, population, grid64, scale=scale)[0]
    batch = chunk_size(n_boot, panel.n_users, full.choice.shape[1], panel.n_alternatives,
                       panel.d, grid64.size)
    keys = replicate_keys(key, first + n_boot)[first:]
    mult, heads, best, gn, it = _replicates(keys, full, counts,
                                            population.theta, population.information, scale,
                                            grid_a, thin, jnp.asarray(start, panel.features.dtype),
                                            n_iter=n_iter, batch=batch, tol=tol)
    return {"counts": np.asarray(mult, np.float64), "heads": np.asarray(heads, np.float64),
            "shrinkage": grid64[np.asarray(best)], "grad_norm": np.asarray(gn, np.float64),
            "iterations": np.asarray(it, np.int64), "choices": np.asarray(counts, np.float64)}


def refits_converged(grad_norm: np.ndarray, choices: np.ndarray, tol: float = CONVERGED) -> np.ndarray:
    """[B] bool: every user's refit of the replicate has a finite gradient norm at most tol *
    (1 + its choices) (scaled coordinates)."""
    g = np.asarray(grad_norm, np.float64)
    return np.all(np.isfinite(g) & (g <= tol * (1.0 + np.asarray(choices))[None]), axis=-1)


def singular_values(heads: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Singular values of diag(sqrt(weights)) heads [U, d] (largest first): [min(U, d)]."""
    w = np.ones(heads.shape[0]) if weights is None else np.asarray(weights, np.float64)
    return np.linalg.svd(np.sqrt(w)[:, None] * heads, compute_uv=False)


def noise_floor(heads_hat: np.ndarray, reps: np.ndarray, counts: np.ndarray,
                level: float = 0.95) -> float:
    """tau (module docstring) from the point heads [U, d], replicate heads [B, U, d] and
    multiplicities [B, U]."""
    tops = []
    for h, m in zip(reps, counts):
        noise = h - heads_hat
        noise = noise - (m[:, None] * noise).sum(0) / m.sum()
        tops.append(singular_values(noise, m)[0])
    return float(np.quantile(tops, level))


def resolved_heads(heads: np.ndarray, tau: float, weights: np.ndarray | None = None):
    """(rank, heads projected on the top ``rank`` right singular vectors of the weighted head
    matrix [U, d]); rank = number of singular values above tau (at least 1)."""
    w = np.ones(heads.shape[0]) if weights is None else np.asarray(weights, np.float64)
    _, s, Vt = np.linalg.svd(np.sqrt(w)[:, None] * heads, full_matrices=False)
    rank = max(int(np.sum(s > tau)), 1)
    V = Vt[:rank].T
    return rank, heads @ V @ V.T


def ud_verdict(frac_resolved: float, frac_raw: float, level: float = 0.95) -> str:
    """The rule of the module docstring: "holds", "fails" or "undetermined"."""
    if frac_resolved >= level and frac_raw >= level:
        return "holds"
    if frac_resolved <= 1 - level and frac_raw <= 1 - level:
        return "fails"
    return "undetermined"


@functools.partial(jax.jit, static_argnames=("feedback", "batch"))
@full_precision
def _diagnose_many(base: Instance, heads, probs, rtol, *, feedback, batch):
    """(ud_holds, lambda_D, coverage) [B] of ``base`` with heads [B, U, d] and nu [B, U]."""
    def one(x):
        d = diagnose(base.replace(heads=x[0], user_probs=x[1]), feedback, rtol=rtol)
        return d.ud_holds, d.lambda_D, d.coverage

    return jax.lax.map(one, (heads, probs), batch_size=batch)


def diagnose_replicates(base: Instance, heads: np.ndarray, counts: np.ndarray,
                        feedback: str | FeedbackModel = "bt_ref", rtol: float = 1e-5,
                        batch: int = BATCH) -> dict[str, np.ndarray]:
    """UD of ``base`` with each of heads [B, U, d] (standardized) and multiplicities [B, U]:
    {"holds", "lambda_D", "coverage"} [B], ``batch`` replicates a call (the last padded), so
    every call of any B shares one compiled program."""
    dtype = base.heads.dtype
    probs = np.asarray(counts, np.float64) / np.asarray(counts, np.float64).sum(-1, keepdims=True)
    B = len(heads)
    pad = -B % batch
    heads = np.concatenate([heads, np.repeat(heads[-1:], pad, 0)])
    probs = np.concatenate([probs, np.repeat(probs[-1:], pad, 0)])
    outs = [_diagnose_many(base, jnp.asarray(heads[i:i + batch], dtype),
                           jnp.asarray(probs[i:i + batch], dtype), jnp.asarray(rtol, dtype),
                           feedback=make_feedback(feedback), batch=batch)
            for i in range(0, len(heads), batch)]
    holds, lam, cov = (np.concatenate([np.asarray(o[j]) for o in outs])[:B] for j in range(3))
    return {"holds": holds.astype(bool), "lambda_D": lam.astype(np.float64),
            "coverage": cov.astype(np.float64)}


def ud_bootstrap(key: Array, panel: PreferencePanel, base: Instance, scale: np.ndarray,
                 heads: np.ndarray, population: PopulationFit, grid, thin, *,
                 n_boot: int = 100, level: float = 0.95, rtol: float = 1e-5, n_iter: int = 20,
                 feedback: str | FeedbackModel = "bt_ref", start=None,
                 early_stop: bool = True) -> dict:
    """The bootstrap of the module docstring.

    panel: the log's panel; base: its calibrated instance (prompts, reference) and scale [d] its
    feature scale; heads [U, d]: the point estimate in raw units; population: the population fit
    of all choices; grid [S]: the shrinkage values (each replicate chooses its own); thin [U]
    bool (or None); feedback: the model the verdict is about; start [S, U, d]: the point
    estimate at every shrinkage (the refits' warm start; default: fitted here); early_stop:
    compute the replicates in looks and stop once the verdict at n_boot is decided
    (sequential.py). Returns NumPy arrays over the replicates computed [B] (holds_resolved,
    holds_raw, lambda_D_resolved, lambda_D_raw, coverage_resolved, rank, shrinkage, converged,
    grad_norm (the largest per choice), iterations) and the point estimate's resolved rank,
    resolved heads (standardized [U, d]), tau, the fractions, the verdict (``undetermined`` with
    a ``reason`` when more than 1 - level of the refits did not converge; fractions over the
    converged replicates), n_boot (asked) and n_computed.
    """
    hat = np.asarray(heads, np.float64) * scale
    if start is None:
        start = fit_personalized(panel, population, np.asarray(grid, np.float64),
                                 scale=feature_scale(panel))[0]
    parts, raw_holds, early = [], [], None
    marks = looks(n_boot) if early_stop else [n_boot]
    piece = marks[0]  # refits in pieces of the first look's size: one or two program shapes
    for m in marks:
        done = sum(len(p["counts"]) for p in parts)
        for lo in range(done, m, piece):
            parts.append(refit_heads(key, panel, population, grid, thin, min(piece, m - lo),
                                     n_iter, start=start, first=lo))
            new = parts[-1]
            raw_holds.append(diagnose_replicates(base, new["heads"] * scale, new["counts"],
                                                 feedback, rtol))
        fit = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "choices"}
        fit["choices"] = parts[0]["choices"]
        summary = _summarize(hat, fit, scale, raw_holds, base, feedback, rtol, level)
        early = decided(int(summary["holds_resolved"][summary["good"]].sum()),
                        int(summary["holds_raw"][summary["good"]].sum()),
                        len(summary["good"]), n_boot, level)
        if early is not None and summary["n_failed"] <= (1 - level) * m:
            break
    B = len(fit["counts"])
    good = summary.pop("good")
    f_res = float(summary["holds_resolved"][good].mean())
    f_raw = float(summary["holds_raw"][good].mean())
    sel = lambda x: np.asarray(x)[good]
    q = lambda x: [float(np.quantile(sel(x), (1 - level) / 2, method="lower")),
                   float(np.quantile(sel(x), (1 + level) / 2, method="higher"))]
    verdict, reason = (early if early is not None and B < n_boot
                       else ud_verdict(f_res, f_raw, level)), None
    failed = summary["n_failed"]
    if failed > (1 - level) * B:
        verdict = "undetermined"
        reason = (f"{failed} of {B} bootstrap refits did not converge (largest gradient "
                  f"norm per choice {np.nanmax(summary['grad_norm']):.3g} > {CONVERGED:g}, or not "
                  f"finite): no verdict is drawn from failed fits")
    rank, res_hat = resolved_heads(hat, summary["tau"])
    return dict(summary, shrinkage=fit["shrinkage"], point_rank=rank,
                point_singular_values=singular_values(hat), resolved_heads_std=res_hat,
                frac_resolved=f_res, frac_raw=f_raw, level=level, verdict=verdict,
                reason=reason, lambda_D_ci=q(summary["lambda_D_resolved"]),
                lambda_D_raw_ci=q(summary["lambda_D_raw"]), rank_ci=q(summary["rank"]),
                n_boot=n_boot, n_computed=B, stopped_early=B < n_boot)


def _summarize(hat, fit, scale, raw_parts, base, feedback, rtol, level) -> dict:
    """Per-replicate results of the replicates computed so far: the noise floor from the
    converged ones, each replicate's resolved heads diagnosed (they depend on tau), the raw
    diagnoses of every look concatenated."""
    counts, reps = fit["counts"], fit["heads"] * scale
    ok = refits_converged(fit["grad_norm"], fit["choices"])
    per_choice = np.max(fit["grad_norm"] / (1.0 + fit["choices"])[None], axis=-1)
    good = np.flatnonzero(ok) if ok.any() else np.arange(len(counts))
    tau = noise_floor(hat, reps[good], counts[good], level)
    ranks, resolved = zip(*(resolved_heads(reps[b], tau, counts[b]) for b in range(len(counts))))
    res = diagnose_replicates(base, np.stack(resolved), counts, feedback, rtol)
    raw = {k: np.concatenate([p[k] for p in raw_parts]) for k in raw_parts[0]}
    return {"holds_resolved": res["holds"].astype(np.float64),
            "holds_raw": raw["holds"].astype(np.float64),
            "lambda_D_resolved": res["lambda_D"], "lambda_D_raw": raw["lambda_D"],
            "coverage_resolved": res["coverage"], "rank": np.asarray(ranks, np.float64),
            "converged": ok.astype(np.float64), "grad_norm": per_choice,
            "iterations": fit["iterations"].astype(np.float64), "tau": tau, "good": good,
            "n_failed": len(counts) - int(ok.sum())}
