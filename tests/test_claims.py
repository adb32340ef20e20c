"""The report's verdict logic flips on curves built to flip it: synthetic seed curves go through
the same statistics (online.stats_row) and claim rules (experiments/claims.py) as real runs."""
import numpy as np
import pytest

from jaxpa.experiments import claims
from jaxpa.experiments.online import stats_row
from jaxpa.runner import log_checkpoints

T, S = 20_000, 64
CK = log_checkpoints(T)


def curves(shape: str, seed: int = 0):
    """Seed curves [S, C] and mistakes: bounded (saturating), log (b log t) or linear."""
    rng = np.random.default_rng(seed)
    t = CK.astype(float)
    scale = rng.uniform(0.8, 1.2, (S, 1))
    R = {"bounded": 100 * (1 - np.exp(-t / 300.0)),
         "log": 20 * np.log1p(t), "linear": 0.3 * t,
         # log growth behind a large constant (a warm start's cost): small against R(T), but
         # with the same slope in every decade
         "offset_log": 500 * (1 - np.exp(-t / 20.0)) + 3 * np.log1p(t)}[shape] * scale
    mistakes = np.floor(R / 0.5).astype(int) if shape != "linear" else np.floor(t * 0.9)
    mistakes = np.minimum(mistakes, t).astype(np.int32) * np.ones((S, 1), np.int32)
    return stats_row(CK, R, mistakes)


def online_summary(learners: dict, ud: bool, head_rank: int = 2, min_gap: float = 0.1):
    return {"diagnostics": {"ud_holds": ud, "head_rank": head_rank, "dim_D": 6,
                            "lambda_D": 1e-3 if ud else 0.0, "min_gap": min_gap},
            "learners": learners}


def test_synthetic_shapes_get_their_verdicts():
    assert curves("bounded")["verdict"] == "bounded"
    assert curves("log")["verdict"] == "log-growth"
    assert curves("linear")["verdict"] == "linear"
    offset = curves("offset_log")
    assert offset["added_second_half"] < 0.02 * offset["final_regret"]  # the old flat rule's trap
    assert offset["verdict"] == "log-growth"


@pytest.mark.parametrize("shape, expected", [("bounded", "supported"),
                                             ("linear", "not supported"),
                                             ("log", "inconclusive")])
def test_sufficiency_claim_flips(shape, expected):
    online = {"f1": online_summary({"greedy+warm200": curves(shape)}, ud=True)}
    assert claims.greedy_bounded_under_ud(online).verdict == expected


@pytest.mark.parametrize("shape, expected", [("log", "supported"), ("linear", "supported"),
                                             ("bounded", "not supported")])
def test_necessity_claim_flips(shape, expected):
    fam = lambda: online_summary({k: curves(shape) for k in claims.CONSISTENT}, ud=False)
    online = {"f2": fam(), "f3": fam()}
    assert claims.consistent_learners_pay_log_t(online).verdict == expected
    span = claims.heads_spanning_not_enough(online).verdict
    assert span == ("supported" if expected == "supported" else "inconclusive")


def test_necessity_needs_a_family_where_ud_fails():
    online = {"f2": online_summary({k: curves("log") for k in claims.CONSISTENT}, ud=True),
              "f3": online_summary({k: curves("log") for k in claims.CONSISTENT}, ud=False)}
    assert claims.consistent_learners_pay_log_t(online).verdict == "inconclusive"


@pytest.mark.parametrize("shape, expected", [("linear", "supported"), ("bounded", "not supported")])
def test_stuck_claim_flips(shape, expected):
    online = {f: online_summary({"greedy": curves(shape)}, ud=False) for f in ("f2", "f3")}
    assert claims.greedy_stuck_without_ud(online).verdict == expected


@pytest.mark.parametrize("shape, expected", [("log", "supported"), ("bounded", "not supported")])
def test_margin_claim_flips(shape, expected):
    control = {"f6": online_summary({"greedy+warm200": curves(shape)}, ud=True, min_gap=1e-3)}
    assert claims.no_margin_costs_log_t(control).verdict == expected


def _dial(rho, p, slope, ratios):
    return {"f4": {"spearman_lambda_plateau": [rho, p], "n_used": 100,
                   "loglog_plateau_vs_lambda": {"slope": slope, "ci": [slope - 0.2, slope + 0.2]},
                   "e4_pop_over_personalized": {
                       k: {"mean": m, "ci": [m - 0.1, m + 0.1]} for k, m in ratios.items()}}}


@pytest.mark.parametrize("rho, p, expected", [(-0.6, 1e-4, "supported"), (0.5, 1e-3, "not supported"),
                                              (-0.1, 0.4, "inconclusive")])
def test_dial_claim_flips(rho, p, expected):
    c = claims.plateau_shrinks_with_lambda(_dial(rho, p, -1.0, {"0": 1.0}), "f4")
    assert c.verdict == expected
    assert ("consistent with plateau ∝ 1/λ_D" in c.evidence) and "not consistent" not in c.evidence


@pytest.mark.parametrize("ratios, expected", [({"0": 1.0, "1": 10.0}, "supported"),
                                              ({"0": 1.0, "1": 1.0}, "not supported"),
                                              ({"0": 3.0, "1": 10.0}, "inconclusive")])
def test_personalization_claim_flips(ratios, expected):
    assert claims.personalization_pays_with_diversity(_dial(-0.5, 0.01, -1, ratios)).verdict \
        == expected
