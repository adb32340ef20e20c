"""The decision box at the top of report.md (jaxpa.audit.decision): its words on audits of
synthetic logs of known populations (all alike, two clusters where UD fails, diverse where UD
holds), and each gate on results changed one fact at a time.

One fixture audits the three logs (24 users x 30 choices, 20 prompts, 3 candidates, d = 3: the
same shapes, so the programs compile once)."""
import copy

import numpy as np
import pytest
import jax

from jaxpa.audit.decision import budget_facts, decision_box, decision_facts, volume_sentence
from jaxpa.audit.reading import LogColumns, frame_to_log
from jaxpa.audit.report import markdown
from jaxpa.audit.steps import AuditConfig, run_audit
from jaxpa.audit.synthetic import clustered_population, matched_populations, synthetic_log
from jaxpa.diagnostics import diagnose

COLS = LogColumns(reference="reference", context="prompt")
CONFIG = AuditConfig(n_boot=40, draws=8, budget_draws=4, sections=("ud", "coverage", "budget"))


@pytest.fixture(scope="module")
def audits():
    diverse, alike = matched_populations(jax.random.key(0), min_gap=0.1)
    clustered = clustered_population(jax.random.key(1))
    known = {"alike": False, "clustered": False, "diverse": True}
    out = {}
    for name, inst in (("alike", alike), ("clustered", clustered), ("diverse", diverse)):
        assert bool(diagnose(inst, "bt_ref").ud_holds) == known[name]  # the construction
        log = frame_to_log(synthetic_log(jax.random.key(1), inst, 30, columns=COLS), COLS)
        r = run_audit(log, CONFIG, progress=lambda s: None)
        out[name] = (r, " ".join(decision_box(r)))
    return out


def report_text(r):
    summary = {"results": r, "config": dict(CONFIG.__dict__, label="x", horizon=0, seeds=0),
               "metadata": {"jax": "x", "backend": "cpu"}, "seconds": 0.0}
    return markdown(summary)


def test_all_alike_box(audits):
    r, box = audits["alike"]
    assert r["ud"]["verdict"] == "fails" and decision_facts(r)["alike"]
    assert "diversity is not the bottleneck" in box
    for said in ("favour more users", "users who differ", "recruit", "worth doing"):
        assert said not in box.lower(), said
    text = report_text(r)  # the rest of the report agrees with the box
    assert "collect feedback from users who differ" not in text and "favour more" not in text


def test_clustered_box_recruits_a_taste_the_users_have(audits):
    r, box = audits["clustered"]
    assert r["ud"]["verdict"] == "fails" and not decision_facts(r)["alike"]
    assert "recruit users whose taste leans" in box
    assert "diversity is not the bottleneck" not in box and "nothing personal" not in box
    taste = r["coverage"]["worst"][0]["user_taste"]
    lead = max(taste, key=lambda k: abs(taste[k]))
    assert lead in ("f1", "f2") and taste[lead] > 0  # oriented like the users (+e1 or +e2)


def test_diverse_box_never_recruits(audits):
    r, box = audits["diverse"]
    assert r["ud"]["verdict"] == "holds" and not decision_facts(r)["alike"]
    assert "Cheap to learn?** Yes" in box and "recruit" not in box.lower()
    assert "sure that UD holds" in box


def test_worth_doing_only_when_the_gain_is_above_zero(audits):
    r, _ = audits["diverse"]
    for (low, high), words in (((-0.1, 0.3), "No gain shown"), ((0.05, 0.3), "Yes, worth doing"),
                               ((-0.3, -0.05), "one shared model predicts held-out choices")):
        changed = copy.deepcopy(r)
        changed["heldout"]["table"]["personalized"]["loglik_gain"].update(low=low, high=high)
        box = " ".join(decision_box(changed))
        assert words in box
        assert ("worth doing" in box) == (low > 0)


def test_volume_sentence_gates():
    users, budgets = np.array([2, 24]), np.array([10.0, 100.0, 1000.0])
    rng = np.random.default_rng(0)

    def results(sub):
        from jaxpa.audit.coverage import exchange_rate
        b = {"users": users, "budgets": budgets, "subopt": sub,
             "exchange": exchange_rate(users, budgets, sub, budget_index=1)}
        return {"budget": b}

    flat = np.full((2, 3, 8), 0.9)  # nothing learnable: never a value
    f = {"alike": False, "verdict": "fails", "budget": budget_facts(results(flat)["budget"])}
    text = volume_sentence(results(flat), f)
    assert "No value can be put" in text and "favour" not in text
    noise = 0.01 * rng.normal(size=(2, 3, 8))
    learn = np.array([[0.5, 0.45, 0.4], [0.5, 0.1, 0.01]])[..., None] + noise  # more users win
    f = dict(f, verdict="holds", budget=budget_facts(results(learn)["budget"]))
    assert "favour more users" in volume_sentence(results(learn), f)
    same = np.array([[0.5, 0.1, 0.01], [0.5, 0.1, 0.01]])[..., None] + noise  # users don't matter
    f = dict(f, budget=budget_facts(results(same)["budget"]))
    assert "diversity is not the bottleneck" in volume_sentence(results(same), f)
    f = dict(f, verdict="fails")  # UD fails: more of the same do not help, others would
    assert "users who differ" in volume_sentence(results(same), f)
    assert "Either" in volume_sentence(results(same), dict(f, alike=True))
