"""Calibrated simulators: an ``Instance`` whose users are real people's fitted preferences.

Mapping from a preference panel and its fits (jaxpa.data.fit) to MODEL.md's model:

- responses and prompts: a prompt x is one real choice set of the panel (``n_prompts`` of them,
  drawn without replacement among the distinct choice sets); its K = J candidate responses are the
  real alternatives offered, phi(x, y) their d features.
- users and heads: one user per panel user, head h_u = theta_u, the user's fitted (shrunk) reward
  vector, so k = d; the latent map is W = I_d and beta = 0, hence
  r_u(x, y) = h_u^T W phi(x, y) = theta_u^T phi(x, y): the fitted utility, and ``bt_ref`` /
  ``bt_duel`` feedback is exactly the fitted Bradley–Terry / logit choice model of that user. The
  learner knows the heads (MODEL.md's default) and must learn W.
- reference y0(x): by default the alternative the population fit prefers, i.e. the answer of the
  non-personalized model (``reference="first"``: alternative 0).
- arrivals: users uniform (nu = 1/N), prompts uniform for every user (rho(x|u) = 1/M).
- ``standardize`` (default on) divides each feature by its RMS over the panel and multiplies the
  heads by it: every reward, gap and regret is unchanged, but the learners' isotropic ridge prior
  then treats all features alike instead of being driven by their units.
"""
from __future__ import annotations

import numpy as np
import jax

from jaxpa.data.fit import feature_scale
from jaxpa.data.panels import PanelError, PreferencePanel
from jaxpa.envs.instance import Instance, validate

Array = jax.Array

REFERENCES = ("population", "first")


def calibrated_instance(panel: PreferencePanel, heads: Array, theta_pop: Array, *,
                        n_prompts: int | None = 200, key: Array | None = None,
                        reference: str = "population", standardize: bool = True) -> Instance:
    """The calibrated instance (module docstring). heads: [U, d] fitted user vectors; theta_pop:
    [d] population fit; n_prompts: number of choice sets (None: all distinct ones)."""
    heads, theta_pop = np.asarray(heads, np.float64), np.asarray(theta_pop, np.float64)
    if heads.shape != (panel.n_users, panel.d) or theta_pop.shape != (panel.d,):
        raise PanelError(f"heads/theta_pop: expected shapes ({panel.n_users}, {panel.d}) and "
                         f"({panel.d},), got {heads.shape} and {theta_pop.shape}")
    if not (np.all(np.isfinite(heads)) and np.all(np.isfinite(theta_pop))):
        raise PanelError("heads/theta_pop: contain NaN or inf (did the fit converge?)")
    if reference not in REFERENCES:
        raise PanelError(f"reference: expected one of {REFERENCES}, got {reference!r}")
    if not np.asarray(panel.available).all():
        raise PanelError(f"{panel.name}: some choice sets lack alternatives; an Instance needs the "
                         f"same K candidates for every prompt")
    sets = np.unique(np.asarray(panel.features, np.float64), axis=0)  # distinct choice sets
    if n_prompts is not None:
        if not 1 <= n_prompts:
            raise PanelError(f"n_prompts: expected a positive integer or None, got {n_prompts!r}")
        key = jax.random.key(0) if key is None else key
        pick = np.asarray(jax.random.permutation(key, sets.shape[0]))[:n_prompts]
        sets = sets[np.sort(pick)]
    scale = np.asarray(feature_scale(panel), np.float64) if standardize else np.ones(panel.d)
    features, heads = sets / scale, heads * scale
    if reference == "population":
        ref = np.argmax(sets @ theta_pop, axis=1)
    else:
        ref = np.zeros(sets.shape[0], np.int64)
    inst = Instance.create(features=features, reference=ref, heads=heads, W=np.eye(panel.d),
                           dtype=panel.features.dtype)
    validate(inst)
    return inst


def head_spectrum(heads: Array, rtol: float = 1e-5) -> dict:
    """Singular values of the head matrix [U, d] (largest first), normalised by the largest, and
    the numerical rank (squared singular values above rtol times the largest, as in diagnose)."""
    s = np.linalg.svd(np.asarray(heads, np.float64), compute_uv=False)
    rel = s / s[0]
    centred = np.linalg.svd(np.asarray(heads, np.float64) - np.asarray(heads).mean(axis=0),
                            compute_uv=False)
    return {"singular_values": s, "relative": rel, "rank": int(np.sum(rel**2 > rtol)),
            "centred_singular_values": centred}
