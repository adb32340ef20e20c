"""The dial experiment (experiments/dial/): end to end at a tiny size, and each C7 rule
reaching "supported" and "not supported" from data.

The end-to-end run uses the experiment's own analysis on a cut-down copy whose populations share
one instance shape (a rotate dial, F1-free "draws" and "fresh" replication draws of the same
construction), so the runner,
the diagnostics and the candidates compile once each; the full definition is validated (every
population, learner and size) without running it: at size tiny it compiles three instance shapes,
about two CPU minutes.

The verdict tests feed the analysis synthetic regret curves (per seed, a uniform warm start, then
a saturating plateau, some seeds locked): a real run whose plateau follows lambda_D in a chosen
direction, or one where a constant predicts the plateau beyond the gaps, would need an instance
family where that is true and long horizons. The curves go through the same functions the
experiment uses (instance_stats, dial_lines, association_rows, claim_stats and the two rules), so
what is tested is the rule, from per-seed data up.
"""
import dataclasses

import numpy as np
import pytest

from experiments.dial import claims as DC
from experiments.dial import measure as DM
from experiments.dial import section as D
from experiments.dial.experiment import EXPERIMENT, N0
from jaxpa.envs import dials
from jaxpa.experiment import Population, Size, run
from jaxpa.experiment.execute import check
from jaxpa.runner.simulate import log_checkpoints


def test_the_definition_is_valid_at_every_size():
    for name in EXPERIMENT.sizes:
        size = EXPERIMENT.size(name)
        check(EXPERIMENT, size)
        assert size.horizon > max(N0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pops = [Population("rotate", build=dials.rotate_head, options={"n_per_group": 3},
                       dial=("s", [0.1, 0.3, 1.0]), host=True),
            Population("draws", build=dials.rotate_head, options={"n_per_group": 3},
                       dial=("s", [0.2, 0.5, 0.8]), host=True),
            Population("fresh", build=dials.rotate_head, options={"n_per_group": 3},
                       dial=("s", [0.3, 0.6, 0.9]), host=True)]
    exp = dataclasses.replace(EXPERIMENT, name="dial_tiny", populations=pops,
                              analyze=D.dial_analysis(["rotate"], ["draws"], ["fresh"], n_boot=200))
    out = tmp_path_factory.mktemp("dial")
    return run(exp, "tiny", size=Size(horizon=1_200, seeds=4, draws=2), out=out, quiet=True,
               log=lambda m: None), out


def test_tiny_run_writes_the_tables_figures_and_claims(tiny):
    results, out = tiny
    for name in ("report.md", "plateau.png", "lock.png", "dial_instances.csv",
                 "dial_associations.csv", "summary.json"):
        assert (out / name).exists(), name
    claims = {c.name: c for s in results.sections for c in s.claims}
    assert set(claims) == {DC.C7_NAME, DC.BEST_NAME}
    assert all(c.verdict in ("supported", "not supported", "inconclusive") for c in claims.values())
    assert "too few draws" in claims[DC.BEST_NAME].evidence  # 6 instances < min_draws
    rows = results.sections[0].rows
    assert len(rows) == (6 + 6 + 6) * len(N0)  # (rotate, draws, fresh: 3 x 2 each) x n0
    summary = results.sections[0].data
    assert set(summary["replication_stats"]) == set(DM.CANDIDATES) - set(DM.CONTROLS)
    p = results.populations["fresh"].instances
    assert summary["scope"][1] == (f"6 rotate_head (N={p.heads.shape[1]}, M={p.features.shape[1]}, "
                                   f"K={p.features.shape[2]}, d={p.features.shape[3]}, "
                                   f"k={p.heads.shape[2]}; n_per_group=3)")
    assert {"replication draws"} <= {r["scope"] for r in results.sections[1].rows}
    assert {"plateau", "plateau_low", "lock", "burn_in", "horizon_ok", "unlock_time",
            "lambda_D"} <= set(rows[0])
    # the candidates (one lax.map) agree with the diagnostics (vmapped) of the instances run
    p = results.populations["rotate"]
    unlock = [float(r["unlock_time"]) for r in rows  # inf is written as "inf"
              if r["population"] == "rotate" and r["n0"] == 0]
    np.testing.assert_allclose(unlock, np.asarray(p.diagnostics.unlock_time), rtol=1e-5)
    lam = [float(r["lambda_D"]) for r in rows if r["population"] == "rotate" and r["n0"] == 0]
    np.testing.assert_allclose(lam, np.asarray(p.diagnostics.lambda_D), rtol=1e-5)
    report = (out / "report.md").read_text()
    assert "C7 lambda_D" in report and "unlock_time" in report
    assert "Replication draws" in report and "draws: beyond inverse_gap2" in report


# ---------------------------------------------------------------------------------------------
# synthetic data through the analysis

T, S, N0_FOCUS = 20_000, 24, 300


def _curves(rng, plateaus, lock_share=0.1, tau=200.0):
    """Checkpoints and regret [B, S, C]: 0.4 per warm-start round, then a plateau
    p_s (1 - exp(-(t - n0) / tau)) with p_s = plateau x lognormal noise; locked seeds add 0.3 per
    round after n0. Returns (checkpoints, regret, locked [B, S])."""
    ck = np.unique(log_checkpoints(T, 120)).astype(np.float64)
    B = len(plateaus)
    p = np.asarray(plateaus)[:, None] * rng.lognormal(0, 0.3, (B, S))
    after = np.maximum(ck - N0_FOCUS, 0.0)
    R = 0.4 * np.minimum(ck, N0_FOCUS) + p[..., None] * (1 - np.exp(-after / tau))
    locked = rng.random((B, S)) < lock_share
    R = R + np.where(locked[..., None], 0.3 * after, 0.0)
    return ck, R, locked


def _population(rng, constants: dict, plateaus):
    ck, R, locked = _curves(rng, plateaus)
    B = len(plateaus)
    return {"meta": {"draw": np.arange(B), "dial": np.zeros(B)},
            "constants": constants,
            "n0": {N0_FOCUS: DM.instance_stats(ck, R, locked, N0_FOCUS, T)}}


def _world(rng, plateau_of, n_lines=6, n_points=5, n_draws=48):
    """A dial population (n_lines lines, lambda_D moved 100-fold along each) and a draws
    population; every other candidate random; plateau = plateau_of(constants)."""
    def constants(B, lam):
        c = {name: rng.lognormal(0, 1, B) for name in DM.CANDIDATES}
        c["lambda_D"] = lam
        return c

    lam = np.tile(np.geomspace(1e-3, 1e-1, n_points), n_lines) * np.repeat(
        rng.lognormal(0, 0.5, n_lines), n_points)
    dial = constants(n_lines * n_points, lam)
    dial_draw = np.repeat(np.arange(n_lines), n_points)
    draws = constants(n_draws, rng.lognormal(-4, 1, n_draws))
    data = {"dial": _population(rng, dial, plateau_of(dial)),
            "draws": _population(rng, draws, plateau_of(draws))}
    data["dial"]["meta"]["draw"] = dial_draw
    return data


def _stats(d, level):
    return DC.claim_stats(d["constants"], d["n0"][N0_FOCUS]["plateau"],
                          {k: d["constants"][k] for k in DM.CONTROLS}, 2000, level,
                          groups=np.full(len(d["meta"]["draw"]), "fresh"))


def _claims(data, replication=None):
    """C7 and C7' on the synthetic data; replication: a second draws population (C7' checks the
    constant it names on ``draws`` there), or None (no replication run)."""
    rows = DM.association_rows(data, ["dial"], ["draws"], [N0_FOCUS], n_boot=400)
    across = {r["candidate"]: r for r in rows
              if r["scope"] == "draws" and r["target"] == "plateau"}
    c7, _ = DC.lambda_claim(DM.dial_lines(data, ["dial"], N0_FOCUS, "lambda_D"),
                           across["lambda_D"], N0_FOCUS, n_boot=400)
    level = 1 - 0.05 / (len(DM.CANDIDATES) - len(DM.CONTROLS))
    stats = _stats(data["draws"], level)
    counts = {}
    for c in stats:
        outs = [DC.line_outcome(line, DM.SIGN[c], 400)[0]
                for line in DM.dial_lines(data, ["dial"], N0_FOCUS, c)]
        counts[c] = (outs.count("agree"), outs.count("contradict"),
                     sum(o != "excluded" for o in outs))
    rep = _stats(replication, 0.95) if replication is not None else None
    return c7, DC.best_constant_claim(stats, counts, N0_FOCUS, level=level, replication=rep,
                                      scope=("the synthetic draws", "the fresh draws"))


def _fresh(rng, plateau_of, n_draws=48):
    """A replication population: every constant random, plateau = plateau_of(constants)."""
    c = {name: rng.lognormal(0, 1, n_draws) for name in DM.CANDIDATES}
    return _population(rng, c, plateau_of(c))


def test_c7_lambda_supported_when_the_plateau_falls_with_lambda_D():
    rng = np.random.default_rng(0)
    c7, _ = _claims(_world(rng, lambda c: 30 * (c["lambda_D"] / 1e-2) ** -0.5))
    assert c7.verdict == "supported", c7.evidence
    assert c7.agree == c7.total == 6


def test_c7_lambda_not_supported_when_the_plateau_rises_with_lambda_D():
    rng = np.random.default_rng(1)
    c7, _ = _claims(_world(rng, lambda c: 30 * (c["lambda_D"] / 1e-2) ** 0.5))
    assert c7.verdict == "not supported", c7.evidence
    assert c7.agree == 0


def test_c7_lambda_inconclusive_when_the_plateau_ignores_lambda_D():
    rng = np.random.default_rng(2)
    c7, _ = _claims(_world(rng, lambda c: 30 * np.ones_like(c["lambda_D"])))
    assert c7.verdict == "inconclusive", c7.evidence


def test_best_constant_supported_when_one_predicts_beyond_the_gaps_and_replicates():
    rng = np.random.default_rng(3)
    law = lambda c: 5 * c["unlock_time"]
    _, best = _claims(_world(rng, law), _fresh(rng, law))
    assert best.verdict == "supported", best.evidence
    assert best.evidence.startswith("unlock_time predicts the plateau beyond every control")
    assert "Scope: the selection and the replication draws at n0 = 300" in best.evidence
    assert ("Selection draws: the synthetic draws. Replication draws: the fresh draws."
            in best.evidence)
    for k in DM.CONTROLS:
        assert f"beyond {k}" in best.evidence


def test_best_constant_never_supported_without_a_replication():
    rng = np.random.default_rng(3)
    _, best = _claims(_world(rng, lambda c: 5 * c["unlock_time"]))
    assert best.verdict == "inconclusive", best.evidence
    assert "no replication run" in best.evidence
    assert "Supported where: the selection draws" in best.evidence


def test_best_constant_not_supported_when_the_replication_contradicts():
    """The named constant predicts on the first draws; on the fresh draws the plateau falls with
    it: its scope is the first family."""
    rng = np.random.default_rng(6)
    _, best = _claims(_world(rng, lambda c: 5 * c["unlock_time"]),
                      _fresh(rng, lambda c: 50 / c["unlock_time"]))
    assert best.verdict == "not supported", best.evidence
    assert "contradicted" in best.evidence
    assert "Supported where: the selection draws" in best.evidence


def test_best_constant_inconclusive_when_the_replication_shows_nothing():
    rng = np.random.default_rng(7)
    _, best = _claims(_world(rng, lambda c: 5 * c["unlock_time"]),
                      _fresh(rng, lambda c: 30 * np.ones_like(c["unlock_time"])))
    assert best.verdict == "inconclusive", best.evidence
    assert "not shown" in best.evidence and "Supported where" in best.evidence


def test_best_constant_inconclusive_when_the_replication_is_too_small():
    rng = np.random.default_rng(11)
    law = lambda c: 5 * c["unlock_time"]
    _, best = _claims(_world(rng, law), _fresh(rng, law, n_draws=6))
    assert best.verdict == "inconclusive", best.evidence
    assert "too few usable draws" in best.evidence


def test_replication_counts_the_draws_where_the_constant_is_infinite():
    """unlock_time = inf on some fresh draws: counted (by population) and out of the test; the
    rest replicates, so the scope says where the constant is finite."""
    rng = np.random.default_rng(8)
    law = lambda c: 5 * c["unlock_time"]
    fresh = _fresh(rng, law)
    fresh["constants"]["unlock_time"][:10] = np.inf
    _, best = _claims(_world(rng, law), fresh)
    assert best.verdict == "supported", best.evidence
    assert "unlock_time = inf on 10 of 48 fresh draws (undefined there" in best.evidence
    assert "over 38 of 48 replication draws" in best.evidence
    assert "where unlock_time is finite" in best.evidence


def test_best_constant_not_supported_when_none_predicts():
    rng = np.random.default_rng(4)
    _, best = _claims(_world(rng, lambda c: 30 * np.ones_like(c["lambda_D"])))
    assert best.verdict == "not supported", best.evidence
    assert "No candidate" in best.evidence


def test_best_constant_not_supported_when_the_plateau_is_the_gap_alone():
    """The plateau is a function of 1/Delta_min^2 alone (a control, never a candidate): no
    candidate predicts it, the control's own perfect rho notwithstanding."""
    rng = np.random.default_rng(9)
    law = lambda c: 5 * c["inverse_gap2"]
    _, best = _claims(_world(rng, law), _fresh(rng, law))
    assert best.verdict == "not supported", best.evidence
    assert not best.evidence.startswith("inverse_gap2")


@pytest.mark.parametrize("control", DM.CONTROLS)
def test_best_constant_inconclusive_when_a_control_explains_it(control):
    """The plateau follows one control, and one candidate tracks that control: it correlates with
    the plateau but adds nothing beyond that control (while it does beyond the others)."""
    rng = np.random.default_rng(5)

    def plateau(c):
        c["unlock_time"] = c[control] * rng.lognormal(0, 0.2, c[control].shape)
        return 5 * c[control]

    _, best = _claims(_world(rng, plateau), _fresh(rng, plateau))
    assert best.verdict == "inconclusive", best.evidence
    assert best.evidence.startswith("The best candidate is unlock_time")
    why = best.evidence.split("(CI reaches 0): ")[1].split(".")[0]
    assert why == f"beyond {control}", best.evidence  # the others it does predict beyond


def test_claim_stats_leave_infinite_values_out_and_give_each_populations_rho():
    import scipy.stats
    rng = np.random.default_rng(10)
    x = {"unlock_time": rng.lognormal(0, 1, 40), "gap_only": rng.lognormal(0, 1, 40),
         "inverse_gap2": rng.lognormal(0, 1, 40), "hls_time": rng.lognormal(0, 1, 40)}
    y = x["unlock_time"] * rng.lognormal(0, 0.5, 40)
    x["unlock_time"][:5] = np.inf
    groups = np.repeat(["a", "b"], 20)
    s = DC.claim_stats(x, y, {k: x[k] for k in DM.CONTROLS}, 200, 0.95, groups)["unlock_time"]
    assert set(s["beyond"]) == set(DM.CONTROLS) and s["n"] == 35 and s["inf"] == {"a": [5, 20]}
    ok = np.isfinite(x["unlock_time"])
    np.testing.assert_allclose(s["rho"], scipy.stats.spearmanr(x["unlock_time"][ok], y[ok])[0])
    np.testing.assert_allclose(s["by_group"]["b"]["rho"],
                               scipy.stats.spearmanr(x["unlock_time"][20:], y[20:])[0])
    assert s["by_group"]["a"]["n"] == 15
