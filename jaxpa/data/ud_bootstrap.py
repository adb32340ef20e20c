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
compared in standardized units (Theta * scale, as in the calibrated instance). The refits take 10
Newton steps (``n_iter``) instead of fit.py's 30: they start from the population fit, and on the
test logs 10 and 30 steps agree to 1e-6.

The resampling and the refits of every replicate are one compiled program (replicates mapped in
batches of ``batch``, vmapped within a batch); the diagnostics of every replicate, resolved and
raw, are one more (``diagnose`` mapped over a batch of instances): two compilations whatever
n_boot is.

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

from jaxpa.data.fit import ChoiceData, PopulationFit, by_user, chosen_logprob, feature_scale, fit_user
from jaxpa.data.panels import PreferencePanel
from jaxpa.diagnostics import diagnose
from jaxpa.envs.feedback import FeedbackModel, make_feedback
from jaxpa.envs.instance import Instance
from jaxpa.envs.precision import full_precision

Array = jax.Array
VERDICTS = ("holds", "fails", "undetermined")
BATCH = 25  # replicates refitted (and diagnosed) per vmapped batch: bounds the memory


def replicate_keys(key: Array, n_boot: int) -> Array:
    """[n_boot, 2] keys: (users, choices) of replicate b = split(fold_in(key, b))."""
    return jax.vmap(lambda b: jax.random.split(jax.random.fold_in(key, b)))(jnp.arange(n_boot))


def _resample(keys: Array, counts: Array, n_slots: int):
    """One replicate's draws: user multiplicities [U] (U draws with replacement) and, per user,
    ``counts[u]`` slots of its own drawn with replacement: pick [U, L] (slot index of each drawn
    choice; 0 in padding positions), real [U, L] (position < counts[u])."""
    U = counts.shape[0]
    draw = jax.random.randint(keys[0], (U,), 0, U)
    mult = jnp.zeros((U,), jnp.int32).at[draw].add(1)
    u = jax.random.uniform(keys[1], (U, n_slots))
    real = jnp.arange(n_slots)[None, :] < counts[:, None]
    pick = jnp.minimum((u * counts[:, None]).astype(jnp.int32), jnp.maximum(counts - 1, 0)[:, None])
    return mult, jnp.where(real, pick, 0), real


@functools.partial(jax.jit, static_argnames=("n_iter", "batch"))
@full_precision
def _replicates(keys, full: ChoiceData, counts, theta_pop, information, scale, grid, thin, *,
                n_iter: int, batch: int):
    """Every replicate (keys [B, 2]): multiplicities [B, U], heads [B, U, d] at the shrinkage of
    ``grid`` [S] with the best out-of-bag score, the chosen index [B]. ``full``: every choice once,
    by user [U, L]."""
    L = full.choice.shape[1]

    def one(k):
        mult, pick, real = _resample(k, counts, L)
        take = lambda x: jnp.take_along_axis(x, pick.reshape(pick.shape + (1,) * (x.ndim - 2)),
                                             axis=1)
        data = ChoiceData(features=take(full.features), available=take(full.available),
                          choice=take(full.choice), weight=real.astype(full.weight.dtype))
        rows = jnp.arange(real.shape[0])[:, None]
        drawn = jnp.zeros(real.shape, jnp.int32).at[rows, pick].add(real.astype(jnp.int32)) > 0
        oob = full.replace(weight=full.weight * ~drawn)

        def at(s):
            heads = jax.vmap(lambda dd: fit_user(dd, theta_pop, information, scale, s, n_iter)[0])(data)
            lp = jax.vmap(chosen_logprob)(heads, oob)  # [U, L]
            n = oob.weight.sum(-1)
            per_user = (oob.weight * lp).sum(-1) / jnp.maximum(n, 1.0)
            return heads, jnp.sum(jnp.where(n > 0, per_user, 0.0)) / jnp.maximum((n > 0).sum(), 1)

        heads, score = jax.vmap(at)(grid)  # [S, U, d], [S]
        best = jnp.argmax(score)
        heads = jnp.where(thin[:, None], theta_pop, heads[best])
        return mult, heads, best

    return jax.lax.map(one, keys, batch_size=batch)


def refit_heads(key: Array, panel: PreferencePanel, population: PopulationFit, grid, thin,
                n_boot: int, n_iter: int = 10, batch: int = BATCH):
    """The replicates of the module docstring: (multiplicities [B, U], heads [B, U, d] in raw
    units, the chosen shrinkage [B]). thin: [U] bool, users that keep the population fit."""
    full, slots = by_user(panel)
    counts = jnp.asarray((slots >= 0).sum(1), jnp.int32)
    grid_a = jnp.asarray(np.asarray(grid, np.float64), panel.features.dtype)
    thin = jnp.zeros((panel.n_users,), bool) if thin is None else jnp.asarray(thin, bool)
    mult, heads, best = _replicates(replicate_keys(key, n_boot), full, counts, population.theta,
                                    population.information, feature_scale(panel), grid_a, thin,
                                    n_iter=n_iter, batch=min(batch, n_boot))
    return (np.asarray(mult, np.float64), np.asarray(heads, np.float64),
            np.asarray(grid, np.float64)[np.asarray(best)])


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
    {"holds", "lambda_D", "coverage"} [B], in one compiled program."""
    dtype = base.heads.dtype
    probs = np.asarray(counts, np.float64) / np.asarray(counts, np.float64).sum(-1, keepdims=True)
    holds, lam, cov = _diagnose_many(base, jnp.asarray(heads, dtype), jnp.asarray(probs, dtype),
                                     jnp.asarray(rtol, dtype), feedback=make_feedback(feedback),
                                     batch=min(batch, len(heads)))
    return {"holds": np.asarray(holds, bool), "lambda_D": np.asarray(lam, np.float64),
            "coverage": np.asarray(cov, np.float64)}


def ud_bootstrap(key: Array, panel: PreferencePanel, base: Instance, scale: np.ndarray,
                 heads: np.ndarray, population: PopulationFit, grid, thin, *,
                 n_boot: int = 100, level: float = 0.95, rtol: float = 1e-5, n_iter: int = 10,
                 feedback: str | FeedbackModel = "bt_ref") -> dict:
    """The bootstrap of the module docstring.

    panel: the log's panel; base: its calibrated instance (prompts, reference) and scale [d] its
    feature scale; heads [U, d]: the point estimate in raw units; population: the population fit
    of all choices; grid [S]: the shrinkage values (each replicate chooses its own); thin [U]
    bool (or None); feedback: the model the verdict is about. Returns NumPy arrays over
    replicates [B] (holds_resolved, holds_raw, lambda_D_resolved, lambda_D_raw,
    coverage_resolved, rank, shrinkage) and the point estimate's resolved rank, resolved heads
    (standardized [U, d]), tau, the fractions and the verdict.
    """
    hat = np.asarray(heads, np.float64) * scale
    counts, reps, chosen = refit_heads(key, panel, population, grid, thin, n_boot, n_iter)
    reps = reps * scale
    tau = noise_floor(hat, reps, counts, level)
    ranks, resolved = zip(*(resolved_heads(reps[b], tau, counts[b]) for b in range(n_boot)))
    both = diagnose_replicates(base, np.concatenate([np.stack(resolved), reps]),
                               np.concatenate([counts, counts]), feedback, rtol)
    res, raw = slice(0, n_boot), slice(n_boot, 2 * n_boot)
    out = {"holds_resolved": both["holds"][res].astype(np.float64),
           "holds_raw": both["holds"][raw].astype(np.float64),
           "lambda_D_resolved": both["lambda_D"][res], "lambda_D_raw": both["lambda_D"][raw],
           "coverage_resolved": both["coverage"][res], "rank": np.asarray(ranks, np.float64)}
    rank, res_hat = resolved_heads(hat, tau)
    f_res, f_raw = float(out["holds_resolved"].mean()), float(out["holds_raw"].mean())
    q = lambda x: [float(np.quantile(x, (1 - level) / 2, method="lower")),
                   float(np.quantile(x, (1 + level) / 2, method="higher"))]
    return dict(out, shrinkage=chosen, tau=tau, point_rank=rank,
                point_singular_values=singular_values(hat), resolved_heads_std=res_hat,
                frac_resolved=f_res, frac_raw=f_raw, level=level,
                verdict=ud_verdict(f_res, f_raw, level), lambda_D_ci=q(out["lambda_D_resolved"]),
                lambda_D_raw_ci=q(out["lambda_D_raw"]), rank_ci=q(out["rank"]), n_boot=n_boot)
