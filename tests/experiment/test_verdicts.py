"""The verdict pieces of jaxpa/experiment/verdicts.py, each branch shown both ways."""
import numpy as np

from jaxpa.experiment import verdicts as V

CK = np.array([125, 250, 500, 1000, 2000, 4000, 8000])


def curves(kind: str, S: int, rng):
    """[S, C] regret curves: 'flat' (bounded), 'log' (b log t), 'linear'."""
    t = CK.astype(float)
    base = {"flat": np.full_like(t, 50.0), "log": 20 * np.log(t), "linear": 0.2 * t}[kind]
    return base[None] * rng.uniform(0.9, 1.1, (S, 1))


def test_healthy_growth_drops_unhealthy_runs():
    rng = np.random.default_rng(0)
    R = np.stack([curves("flat", 8, rng), curves("log", 8, rng), curves("flat", 8, rng)])
    ok = np.zeros((3, 8), int)
    g, dropped = V.healthy_growth(CK, R, ok)
    assert dropped == 0 and list(g["class"]) == ["dies out", "persists", "dies out"]
    bad = ok.copy()
    bad[0, :3] = 17          # three runs of draw 0 dropped: still 5 healthy seeds
    bad[2, :7] = 5           # draw 2 keeps one healthy seed: no evidence
    R2 = R.copy()
    R2[0, :3] = curves("linear", 3, rng)  # what the unhealthy runs showed is not used
    g2, dropped2 = V.healthy_growth(CK, R2, bad)
    assert dropped2 == 10 and list(g2["class"]) == ["dies out", "persists", "unhealthy"]


def test_below_burn_in_is_undetermined():
    out = np.array(["agree", "agree", "contradict", "excluded"])
    got = V.below_burn_in(out, 20_000, np.array([1_000, 8_000, np.inf, 1e9]), multiple=4)
    assert list(got) == ["agree", "undetermined", "undetermined", "excluded"]


def test_per_draw_counts_draws():
    by_learner = np.array([["agree", "agree", "excluded", "agree", "excluded"],
                           ["agree", "contradict", "excluded", "undetermined", "agree"]])
    assert list(V.per_draw(by_learner)) == ["agree", "contradict", "excluded", "undetermined",
                                            "agree"]


def test_universal_claim_every_verdict():
    agree = np.array(["agree"] * 10, dtype="<U12")
    assert V.judge_universal("C", "s", agree, "e").verdict == "supported"
    assert V.judge_universal("C", "s", agree, "e", control=False).verdict == "inconclusive"
    out = agree.copy()
    out[[2, 7]] = "contradict"
    robust = np.ones(10, bool)
    robust[[2, 7]] = False
    fluke = V.judge_universal("C", "s", out, "e", describe=lambda b: f"(robust {robust[b]})")
    assert fluke.verdict == "inconclusive" and "draw 2 (robust False) (not reproduced)" in \
        fluke.evidence
    again = V.judge_universal("C", "s", out, "e", reproduced=np.isin(np.arange(10), [7]),
                              scope={"robust UD holds": robust})
    assert again.verdict == "not supported" and "draw 7" in again.evidence
    assert "Supported where robust UD holds: 8 of 8" in again.evidence
    no_scope = V.judge_universal("C", "s", out, "e", reproduced=np.ones(10, bool),
                                 scope={"always": np.ones(10, bool)})
    assert no_scope.verdict == "not supported" and "Supported where" not in no_scope.evidence
    none = V.judge_universal("C", "s", np.array(["excluded"] * 3), "e")
    assert none.verdict == "inconclusive"
