"""Every claim rule can say "supported" and "not supported" (or "inconclusive") on data: each rule is
fed real small runs of learners and populations whose behaviour contradicts or supports it, and
the UD status always comes from the diagnostics of the instances run."""
import functools

import numpy as np
import pytest
import jax
import jax.numpy as jnp
from statsmodels.stats.proportion import proportion_confint

import jaxpa
from jaxpa.diagnostics import diagnose
from jaxpa.diagnostics.curve_stats import growth, lock_in
from jaxpa.envs.families import FAMILIES
from jaxpa.experiment import rules

T, SEEDS, DRAWS = 2500, 6, 4
TINY = {"f1": dict(n_users=3, d=2, n_responses=3, n_prompts=2, min_gap=0.2),
        "f2": dict(n_users=2, d=2, n_responses=3),
        "f3": dict(n_per_cluster=1, d=2, n_responses=3),
        "f6": dict(n_users=16, d=2, n_responses=3, n_prompts=2),
        "f4": dict(n_users=4, d=2, n_responses=3, n_prompts=2)}


@functools.lru_cache(maxsize=None)
def draws(family: str):
    keys = jax.random.split(jax.random.key(0), DRAWS)
    insts = jax.jit(jax.vmap(lambda k: FAMILIES[family](k, **TINY[family])))(keys)
    return insts, jax.vmap(lambda i: diagnose(i, "bt_ref"))(insts)


@functools.lru_cache(maxsize=None)
def run(family: str, learner: str, warm_start: int = 0):
    """(growth classes, slopes, lock-in probability per draw) of a small run."""
    insts, _ = draws(family)
    L = jaxpa.make_learner(learner, "bt_ref")
    hp = L.default_hparams()
    if warm_start:
        hp = jaxpa.set_hparams(hp, warm_start=warm_start)
    c = jaxpa.simulate(jax.random.key(1), insts, "bt_ref", L, hp, horizon=T, n_seeds=SEEDS,
                       track_cells=True)
    g = growth(c.checkpoints, c.regret)
    return g["class"], g["slope"], lock_in(c.cells, insts)["seed_any"]


def ud(family):
    return np.asarray(draws(family)[1].ud_holds)


def test_wilson_interval_matches_statsmodels():
    for k, n in ((0, 5), (3, 4), (17, 24), (24, 24)):
        np.testing.assert_allclose(rules.wilson(k, n), proportion_confint(k, n, method="wilson"),
                                   atol=1e-12)


@pytest.mark.parametrize("outcomes, control, verdict", [
    (["agree"] * 6, True, "supported"),
    (["agree"] * 6, False, "inconclusive"),
    (["contradict"] * 6, True, "not supported"),
    (["agree"] * 3 + ["contradict"] * 3, True, "inconclusive"),
    (["excluded"] * 4, True, "inconclusive"),
    (["agree"] * 3 + ["excluded"] * 9, True, "inconclusive"),   # 3 of 3: Wilson lower 0.44
])
def test_judge_branches(outcomes, control, verdict):
    assert rules.judge("c", "s", outcomes, "e", control=control).verdict == verdict


def test_c1_supported_by_a_bounded_learner_and_refuted_by_log_growth():
    """Under UD (F6's diagnostics: UD holds, no margin), eps_t = c/t's growth persists: C1 fed
    it says not supported; the oracle's regret (0) dies out: supported."""
    assert ud("f6").all()
    cls, _, _ = run("f6", "eps_decay")
    assert rules.judge("C1", "", rules.greedy_bounded_under_ud(cls, ud("f6")), "").verdict == \
        "not supported"
    cls, _, _ = run("f6", "oracle")
    assert rules.judge("C1", "", rules.greedy_bounded_under_ud(cls, ud("f6")), "").verdict == \
        "supported"


def test_c1_excludes_draws_where_ud_fails():
    cls, _, _ = run("f3", "oracle")
    assert not ud("f3").any()
    claim = rules.judge("C1", "", rules.greedy_bounded_under_ud(cls, ud("f3")), "")
    assert claim.verdict == "inconclusive" and "no draw can test it" in claim.evidence


def test_c2_all_branches():
    """UCB on F3 (UD fails) keeps growing and is much flatter on F1 (UD holds): supported; the
    oracle stays bounded without UD: not supported; uniform is linear (not consistent): no
    evidence; F1 in the UD-fails slot: every draw excluded by its diagnostics."""
    cls, slope_f, _ = run("f3", "ucb")
    _, slope_h, _ = run("f1", "ucb")
    ok, note = rules.flatter_control(slope_f, slope_h)
    assert ok, note
    assert rules.judge("C2", "", rules.consistent_pay_log_t(cls, ud("f3")), "",
                       control=ok).verdict == "supported"
    cls, _, _ = run("f3", "oracle")
    assert rules.judge("C2", "", rules.consistent_pay_log_t(cls, ud("f3")), "").verdict == \
        "not supported"
    cls, _, _ = run("f3", "uniform")
    out = rules.consistent_pay_log_t(cls, ud("f3"))
    assert set(out) == {"excluded"}
    cls, _, _ = run("f1", "ucb")
    assert set(rules.consistent_pay_log_t(cls, ud("f1"))) == {"excluded"}


def test_c2_control_refuses_a_learner_that_pays_log_t_with_ud_too():
    _, slope_f, _ = run("f3", "ucb")
    _, slope_h, _ = run("f6", "eps_decay")   # UD holds, yet it keeps paying
    assert not rules.flatter_control(slope_f, slope_h)[0]


def test_c3_all_branches():
    """Greedy without a warm start locks F2's users (UD fails) more than F1's: supported; the
    oracle never locks anyone on F3 (UD fails): not supported; with F1 in both slots the fails
    side has no draw: inconclusive."""
    _, _, lock_f = run("f2", "greedy")
    _, _, lock_h = run("f1", "greedy", 200)
    assert rules.greedy_locks_without_ud(lock_f, ud("f2"), lock_h, ud("f1")).verdict == "supported"
    _, _, lock_o = run("f3", "oracle")
    assert rules.greedy_locks_without_ud(lock_o, ud("f3"), lock_h, ud("f1")).verdict == \
        "not supported"
    assert rules.greedy_locks_without_ud(lock_h, ud("f1"), lock_h, ud("f1")).verdict == \
        "inconclusive"


def test_c5_and_c6_both_ways():
    d3 = draws("f3")[1]
    cls, _, _ = run("f3", "ucb")
    out = rules.span_not_enough(d3.head_rank, 2, d3.ud_holds, rules.majority_class(cls[None]))
    assert rules.judge("C5", "", out, "").verdict == "supported"
    cls, _, _ = run("f3", "oracle")
    out = rules.span_not_enough(d3.head_rank, 2, d3.ud_holds, rules.majority_class(cls[None]))
    assert rules.judge("C5", "", out, "").verdict == "not supported"
    cls, _, _ = run("f6", "greedy", 200)
    assert rules.judge("C6", "", rules.no_margin_log_t(cls, ud("f6")), "").verdict == "supported"
    cls, _, _ = run("f6", "oracle")
    assert rules.judge("C6", "", rules.no_margin_log_t(cls, ud("f6")), "").verdict == \
        "not supported"


def test_c8_both_ways():
    """F4 at eta = 0 (one head) and eta = 1: greedy_pop against greedy supports C8; the same
    runs with the roles swapped (the shared model passed as the personalized one) refute it."""
    keys = jax.random.split(jax.random.key(2), DRAWS)
    etas = np.repeat([0.0, 1.0], DRAWS)
    insts = jax.jit(jax.vmap(lambda k, e: FAMILIES["f4"](k, eta=e, **TINY["f4"])))(
        jnp.tile(keys, (2,)), jnp.asarray(etas, jnp.float32))
    final = {}
    for name in ("greedy", "greedy_pop"):
        L = jaxpa.make_learner(name, "bt_ref")
        c = jaxpa.simulate(jax.random.key(3), insts, "bt_ref", L,
                           jaxpa.set_hparams(L.default_hparams(), warm_start=100), horizon=T,
                           n_seeds=SEEDS)
        final[name] = c.regret[..., -1].mean(-1)
    claim, rows = rules.personalization_pays(final["greedy_pop"] / final["greedy"], etas)
    assert claim.verdict == "supported", claim.evidence
    assert rows[0]["eta"] == 0.0 and rows[-1]["ratio_mean"] > 1
    claim, _ = rules.personalization_pays(final["greedy"] / final["greedy_pop"], etas)
    assert claim.verdict == "not supported", claim.evidence
