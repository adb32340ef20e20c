"""Long-format preference logs written from data: a panel (``panel_to_frame``, e.g. to export a
loaded panel as a CSV) and, to test the audit, synthetic logs from an instance whose UD status
is known.

``synthetic_log`` lets every user of a jaxpa ``Instance`` answer ``choices_per_user`` choice
sets: the prompt x ~ rho(.|u), the set = x's K candidates with features phi(x, y), the choice
y ~ softmax_y r_u(x, y) (conditional logit; Bradley–Terry for K = 2), the instance's reference
y0(x) marked. Every user answers the same number of sets (arrival probabilities nu are not used),
so logs of two instances with the same N and the same choices per user have matched sizes.

In the audit's model (jaxpa/data/fit.py, calibrate.py, study.py) user u's reward is theta_u . phi with
theta_u = W^T h_u + beta (``user_vectors``): the population the log comes from, written the way
the audit will estimate it.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import jax
import jax.numpy as jnp

from jaxpa.data.panels import PreferencePanel
from jaxpa.audit.reading import AUTO, LogColumns
from jaxpa.envs.instance import Instance, InstanceError, min_gap as min_gap_of, rewards, validate
from jaxpa.envs.precision import full_precision

Array = jax.Array


def user_vectors(inst: Instance) -> np.ndarray:
    """theta_u = W^T h_u + beta: each user's reward vector on the features phi, [N, d]."""
    return np.asarray(inst.heads @ inst.W + inst.shared[None, :], np.float64)


def synthetic_log(key: Array, inst: Instance, choices_per_user: int, *,
                  columns: LogColumns = LogColumns(reference="reference", context="prompt"),
                  feature_names=None) -> pd.DataFrame:
    """A long-format log (one row per candidate; module docstring) with columns user, choice_set,
    alternative (the candidate's index y), chosen, reference, prompt and the d features; users
    0..N-1 each answer ``choices_per_user`` sets numbered 1.. in order."""
    validate(inst)
    if inst.batch_shape:
        raise InstanceError("synthetic_log: expects one instance, not a batch")
    if isinstance(choices_per_user, bool) or not isinstance(choices_per_user, (int, np.integer)) \
            or choices_per_user < 1:
        raise InstanceError(f"choices_per_user: expected a positive integer, got {choices_per_user!r}")
    N, K, d = inst.n_users, inst.n_responses, inst.d
    names = list(feature_names or (f"f{j + 1}" for j in range(d)))
    if len(names) != d:
        raise InstanceError(f"feature_names: expected {d} names, got {len(names)}")
    c = int(choices_per_user)
    k_prompt, k_choice = jax.random.split(key)
    prompts = jax.random.categorical(k_prompt, jnp.log(inst.prompt_probs)[:, None, :], axis=-1,
                                     shape=(N, c))  # [N, c]
    r = rewards(inst)  # [N, M, K]
    logits = jnp.take_along_axis(r, prompts[..., None], axis=1)  # [N, c, K]
    choice = np.asarray(jax.random.categorical(k_choice, logits, axis=-1))  # [N, c]
    prompts = np.asarray(prompts)
    phi = np.asarray(inst.features, np.float64)[prompts]  # [N, c, K, d]
    ref = np.asarray(inst.reference)[prompts]  # [N, c]
    user, set_id, alt = np.meshgrid(np.arange(N), np.arange(1, c + 1), np.arange(K), indexing="ij")
    table = {columns.user: user.ravel(), columns.choice_set: set_id.ravel(),
             columns.alternative: alt.ravel(),
             columns.chosen: (alt == choice[..., None]).astype(int).ravel()}
    if columns.reference:
        name = "reference" if columns.reference == AUTO else columns.reference
        table[name] = (alt == ref[..., None]).astype(int).ravel()
    if columns.context:
        name = "prompt" if columns.context == AUTO else columns.context
        table[name] = np.broadcast_to(prompts[..., None], alt.shape).ravel()
    table.update({n: phi[..., j].ravel() for j, n in enumerate(names)})
    return pd.DataFrame(table)


def panel_to_frame(panel: PreferencePanel, reference: np.ndarray | None = None,
                   columns: LogColumns = LogColumns()) -> "pd.DataFrame":
    """A panel as a long-format table (the inverse of ``frame_to_log`` up to slot order): one row
    per available alternative, set ids 1.. per user, alternative ids = slot names."""
    user, f = np.asarray(panel.user), np.asarray(panel.features, np.float64)
    avail, choice = np.asarray(panel.available), np.asarray(panel.choice)
    order = np.lexsort((np.asarray(panel.trial), user))
    set_id = pd.Series(user[order]).groupby(user[order]).cumcount().to_numpy() + 1
    rows = []
    for i, sid in zip(order, set_id):
        for j in np.flatnonzero(avail[i]):
            row = {columns.user: panel.user_labels[user[i]], columns.choice_set: int(sid),
                   columns.alternative: panel.alternative_names[j], columns.chosen: int(choice[i] == j)}
            if reference is not None:
                name = columns.reference if columns.reference not in (None, AUTO) else "reference"
                row[name] = int(reference[i] == j)
            row.update(zip(panel.feature_names, f[i, j]))
            rows.append(row)
    return pd.DataFrame(rows)


def matched_populations(key: Array, n_types: int = 8, copies: int = 3, *, k: int = 2, d: int = 3,
                        n_responses: int = 3, n_prompts: int = 20, scale: float = 1.0,
                        min_gap: float = 0.0, max_tries: int = 1000) -> tuple[Instance, Instance]:
    """Two populations of matched size (N = n_types * copies users, the same prompts, features
    phi, map W and reference) that differ only in their heads:

    - diverse: ``n_types`` heads uniform on the unit sphere of R^k, each repeated ``copies`` times;
    - homogeneous: every user has the diverse population's normalised mean head h_bar.

    Reference y0(x) = argmax_y h_bar^T W phi(x, y) for both (the choice of a non-personalized model
    fitted to the population): the homogeneous users always agree with it, so their optimal play
    carries no information and UD fails; the diverse users disagree with it on some prompts and UD
    usually holds (check with ``diagnose``: a draw is not guaranteed).

    min_gap: draws (from successive keys, at most ``max_tries``) are rejected until the
    homogeneous population's smallest gap Delta_min is at least min_gap. A failure of UD can only
    be confirmed from data once every user's optimal response is certain, which takes a number of
    choices that grows like 1 / Delta_min^2: without a margin it may take arbitrarily many."""
    for _ in range(max_tries):
        key, sub = jax.random.split(key)
        diverse, homogeneous = _matched(sub, n_types, copies, k, d, n_responses, n_prompts, scale)
        if float(min_gap_of(homogeneous)) >= min_gap:
            return diverse, homogeneous
    raise InstanceError(f"matched_populations: no draw with Delta_min >= {min_gap} in "
                        f"{max_tries} tries; lower min_gap or raise scale")


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
@full_precision
def _matched(key, n_types, copies, k, d, n_responses, n_prompts, scale):
    kh, kw, kf = jax.random.split(key, 3)
    unit = lambda x: x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    phi = unit(jax.random.normal(kf, (n_prompts, n_responses, d), jnp.float32))
    W = scale / jnp.sqrt(k) * jax.random.normal(kw, (k, d), jnp.float32)
    heads = jnp.repeat(unit(jax.random.normal(kh, (n_types, k), jnp.float32)), copies, axis=0)
    h_bar = unit(heads.mean(axis=0))
    reference = jnp.argmax(jnp.einsum("k,kd,mjd->mj", h_bar, W, phi), axis=-1)
    diverse = Instance.create(features=phi, reference=reference, heads=heads, W=W)
    homogeneous = diverse.replace(heads=jnp.broadcast_to(h_bar, heads.shape))
    return diverse, homogeneous


def verdict_on_synthetic(key: Array, inst: Instance, choices_per_user: int, *, grid,
                         n_boot: int = 50, n_test: int = 2, feedback="bt_ref") -> dict:
    """The audit's UD verdict on a synthetic log of ``inst`` against the known status: the log
    (``synthetic_log``), the panel study (study.panel_study: fits, calibrated instance on all
    distinct choice sets), the bootstrap (ud_bootstrap) and ``diagnose`` of the same calibrated
    instance with the true user vectors. Returns known (bool), verdict, frac_resolved, frac_raw,
    rank (resolved) and shrinkage."""
    from jaxpa.audit.reading import frame_to_log
    from jaxpa.data.study import heads_instance, panel_study
    from jaxpa.audit.bootstrap import ud_bootstrap
    from jaxpa.diagnostics import diagnose

    cols = LogColumns(reference="reference", context="prompt")
    k_log, k_cal, k_boot = jax.random.split(key, 3)
    log = frame_to_log(synthetic_log(k_log, inst, choices_per_user, columns=cols), cols)
    s = panel_study(log.panel, grid, n_test, None, k_cal, thin=log.thin_mask,
                    reference=log.reference)
    truth = heads_instance(s.instance, user_vectors(inst) * s.scale)
    known = bool(diagnose(truth, feedback).ud_holds)
    b = ud_bootstrap(k_boot, log.panel, s.instance, s.scale, s.heads, s.population, grid,
                     log.thin_mask, n_boot=n_boot, feedback=feedback)
    return {"known": known, "verdict": b["verdict"], "frac_resolved": b["frac_resolved"],
            "frac_raw": b["frac_raw"], "rank": b["point_rank"], "shrinkage": s.shrinkage}


def clustered_population(key: Array, n_users: int = 24, n_prompts: int = 20, n_responses: int = 3,
                         taste: float = 2.0) -> Instance:
    """Two clusters of users whose tastes clearly differ (half +taste·e1, half +taste·e2, W = I,
    d = 3) yet whose best answers always agree with the reference: on every prompt the reference
    response has feature 1 at +1 (the others -1) and the largest feature 2 by a margin, so no user's
    optimal play carries information and UD fails by construction (``diagnose`` confirms it), with
    gaps of order ``taste``. Feature 3 is noise both clusters ignore: a log of such users shows
    distinct tastes although recruiting more of them cannot cover D."""
    k_phi, k_ref = jax.random.split(key)
    phi = jax.random.normal(k_phi, (n_prompts, n_responses, 3), jnp.float32)
    ref = jax.random.randint(k_ref, (n_prompts,), 0, n_responses)
    top = jnp.where(jnp.arange(n_responses)[None] == ref[:, None], 1.0, -1.0)
    phi = phi.at[..., 0].set(top).at[..., 1].set(0.5 * top + 0.5 * phi[..., 1])
    heads = np.zeros((n_users, 3), np.float32)
    heads[: n_users // 2, 0] = heads[n_users // 2:, 1] = taste
    return Instance.create(features=phi, reference=ref, heads=jnp.asarray(heads), W=jnp.eye(3))
